// Where an adapter learnt on the robot came from, and what happened to it since: one lineage.json
// per adapter (beside its PEFT files), validated on every read so a damaged one is named, not used.
import { CONTROL_MODES, compileSchema, validateConfig, type ControlMode } from '../core/index.js';

export const LINEAGE_FILE = 'lineage.json';

/** What happened to an adapter: added to the store, made active (promoted), passed its health window, rolled back. */
export type AdapterEventKind = 'added' | 'activated' | 'good' | 'rolled_back';
export interface AdapterEvent { at: string; event: AdapterEventKind; reason?: string }

/** What the trainer knows about a candidate when it files it. */
export interface LineageInput {
  /** The adapter it was trained from (its id in this store), or null: from the base (zero adapter). */
  parent: string | null;
  /** The data it learnt from: RLDS episode ids, and how many steps of each control mode. */
  data: { episodes: string[]; mode_counts: Partial<Record<ControlMode, number>> };
  /** Optimizer steps taken. */
  steps: number;
  /** Training and evaluation figures (loss, action error, ...). */
  metrics: Record<string, number>;
  /** The offline gate's verdict and results, or null if it has not been gated. */
  gate: { passed: boolean; results: Record<string, number | string | boolean> } | null;
}

export interface AdapterLineage extends LineageInput {
  schema: 1;
  id: string;
  /** The bundle (NAME@VER) it was learnt on; it stays filed under later bundles it carries over to. */
  base_bundle: string;
  created_at: string;
  /** sha256 of adapter_model.safetensors: a lineage vouches only for the weights it was written with. */
  weights_sha256: string;
  history: AdapterEvent[];
}

const count = { type: 'integer', minimum: 0 } as const;
const INPUT_PROPERTIES = {
  parent: { type: ['string', 'null'] },
  data: {
    type: 'object', additionalProperties: false, required: ['episodes', 'mode_counts'],
    properties: {
      episodes: { type: 'array', items: { type: 'string', minLength: 1 } },
      mode_counts: { type: 'object', additionalProperties: false, properties: Object.fromEntries(CONTROL_MODES.map((m) => [m, count])) },
    },
  },
  steps: count,
  metrics: { type: 'object', additionalProperties: { type: 'number' } },
  gate: {
    oneOf: [
      { type: 'null' },
      {
        type: 'object', additionalProperties: false, required: ['passed', 'results'],
        properties: { passed: { type: 'boolean' }, results: { type: 'object', additionalProperties: { type: ['number', 'string', 'boolean'] } } },
      },
    ],
  },
} as const;
const INPUT_REQUIRED = ['parent', 'data', 'steps', 'metrics', 'gate'];

const validateInput = compileSchema<LineageInput>({ type: 'object', additionalProperties: false, required: INPUT_REQUIRED, properties: INPUT_PROPERTIES });
const validateLineage = compileSchema<AdapterLineage>({
  type: 'object', additionalProperties: false,
  required: ['schema', 'id', 'base_bundle', 'created_at', 'weights_sha256', 'history', ...INPUT_REQUIRED],
  properties: {
    ...INPUT_PROPERTIES,
    schema: { const: 1 },
    id: { type: 'string', minLength: 1 },
    base_bundle: { type: 'string', minLength: 1 },
    created_at: { type: 'string' },
    weights_sha256: { type: 'string', pattern: '^[0-9a-f]{64}$' },
    history: {
      type: 'array',
      items: {
        type: 'object', additionalProperties: false, required: ['at', 'event'],
        properties: { at: { type: 'string' }, event: { enum: ['added', 'activated', 'good', 'rolled_back'] }, reason: { type: 'string' } },
      },
    },
  },
});

/** Checks what a caller hands to AdapterStore.add; the error names the field. */
export function checkLineageInput(raw: unknown): LineageInput {
  return validateConfig(validateInput, raw, 'lineage');
}

export function parseLineage(text: string, file: string): AdapterLineage {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new Error(`${file}: not valid JSON (${(err as Error).message})`);
  }
  return validateConfig(validateLineage, raw, file);
}
