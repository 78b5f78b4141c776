// Hardware profiles (hw-profiles/*.yaml): one declared, validated parameter set per target, in the
// spirit of ros2_control's generate_parameter_library: unknown keys and bad values are errors that
// name the file and the field.
import { resolve } from 'node:path';
import { compileSchema, ConfigError, packagePath, parseYamlText, readYamlFile, validateConfig, IDLE_POLL_MODES, type IdlePollMode } from '../core/index.js';

export const PROVIDER_NAMES = ['tensorrt', 'cuda', 'cpu'] as const;
export type ProviderName = (typeof PROVIDER_NAMES)[number];

export interface ProviderConfig {
  name: ProviderName;
  /** Options as the C/C++/Python APIs name them (device_id, trt_fp16_enable, ...). */
  options?: Record<string, string | number | boolean>;
}

export interface HwProfile {
  name: string;
  description: string;
  execution_providers: ProviderConfig[];
  threads: { intra_op: number; inter_op: number; allow_spinning: boolean };
  control_rate_hz: number;
  /** Overrides the bundle's denoising steps N when set. */
  denoising_steps: number | null;
  /** Best-of-K candidates ranked by the energy head; 1 disables ranking. */
  candidates: number;
  memory_budget_mb: number;
  training: { idle_after_s: number; step_budget_ms: number; max_steps_per_pass: number };
  /** How the machine is held while a real-time control loop runs (see src/core/cpu-wake.ts). */
  realtime: { idle_poll: IdlePollMode; cpu_dma_latency_us: number | null };
}

const SCHEMA = {
  type: 'object',
  additionalProperties: false,
  required: ['name', 'description', 'execution_providers', 'threads', 'control_rate_hz', 'denoising_steps', 'candidates', 'memory_budget_mb', 'training', 'realtime'],
  properties: {
    name: { type: 'string', pattern: '^[a-z0-9-]+$' },
    description: { type: 'string' },
    execution_providers: {
      type: 'array',
      minItems: 1,
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['name'],
        properties: {
          name: { enum: PROVIDER_NAMES },
          options: { type: 'object', additionalProperties: { type: ['string', 'number', 'boolean'] } },
        },
      },
    },
    threads: {
      type: 'object',
      additionalProperties: false,
      required: ['intra_op', 'inter_op', 'allow_spinning'],
      properties: { intra_op: { type: 'integer', minimum: 0, maximum: 64 }, inter_op: { type: 'integer', minimum: 0, maximum: 64 }, allow_spinning: { type: 'boolean' } },
    },
    control_rate_hz: { type: 'number', minimum: 1, maximum: 1000 },
    denoising_steps: { oneOf: [{ type: 'null' }, { type: 'integer', minimum: 1, maximum: 100 }] },
    candidates: { type: 'integer', minimum: 1, maximum: 64 },
    memory_budget_mb: { type: 'integer', minimum: 64 },
    training: {
      type: 'object',
      additionalProperties: false,
      required: ['idle_after_s', 'step_budget_ms', 'max_steps_per_pass'],
      properties: { idle_after_s: { type: 'number', minimum: 0 }, step_budget_ms: { type: 'number', exclusiveMinimum: 0 }, max_steps_per_pass: { type: 'integer', minimum: 0 } },
    },
    realtime: {
      type: 'object',
      additionalProperties: false,
      required: ['idle_poll', 'cpu_dma_latency_us'],
      properties: {
        idle_poll: { enum: IDLE_POLL_MODES },
        cpu_dma_latency_us: { oneOf: [{ type: 'null' }, { type: 'integer', minimum: 0, maximum: 1_000_000 }] },
      },
    },
  },
} as const;

const validate = compileSchema<HwProfile>(SCHEMA);

export class ProfileError extends ConfigError {
  constructor(file: string, field: string, message: string) {
    super(file, field, message);
    this.name = 'ProfileError';
  }
}

const profileError = (file: string, field: string, message: string) => new ProfileError(file, field, message);

export function parseProfile(text: string, file: string): HwProfile {
  return checkProfile(parseYamlText(text, file, profileError), file);
}

function checkProfile(raw: unknown, file: string): HwProfile {
  const profile = validateConfig(validate, raw, file, profileError);
  const seen = new Set<string>();
  profile.execution_providers.forEach((p, i) => {
    if (seen.has(p.name)) throw new ProfileError(file, `execution_providers[${i}].name`, `'${p.name}' listed twice`);
    seen.add(p.name);
  });
  return profile;
}

/** hw-profiles/ at the package root (works from src/ via tsc's dist/src layout). */
export function profilesDir(): string {
  return packagePath('hw-profiles');
}

/** Loads a profile by name (hw-profiles/<name>.yaml) or by path (anything with a slash or .yaml). */
export async function loadProfile(nameOrPath: string): Promise<HwProfile> {
  const path = /[/\\]|\.ya?ml$/.test(nameOrPath) ? resolve(nameOrPath) : packagePath('hw-profiles', `${nameOrPath}.yaml`);
  return checkProfile(await readYamlFile(path, `hardware profile '${nameOrPath}'`, profileError), path);
}
