// manifest.json: types, JSON Schema and the semantic checks a schema cannot express.
// The format is documented in models/BUNDLE_FORMAT.md; this file is its executable form.
import { compileSchema, ConfigError, validateConfig, type CameraSpec } from '../core/index.js';

export const SCHEMA_VERSION = 1;
export const EXPERT_KINDS = ['flow_matching', 'ddim', 'l1_regression'] as const;
export type ExpertKind = (typeof EXPERT_KINDS)[number];
export const GRAPH_NAMES = ['prefix', 'expert', 'expert_vjp', 'energy', 'loss', 'train_step'] as const;
export type GraphName = (typeof GRAPH_NAMES)[number];
export const TENSOR_DTYPES = ['float32', 'uint8', 'int64', 'int32', 'bool'] as const;
export type TensorDtype = (typeof TENSOR_DTYPES)[number];

export type Dim = number | string;
export interface TensorSpec { name: string; dtype: TensorDtype; shape: Dim[] }
export interface GraphSpec { file: string; inputs: TensorSpec[]; outputs: TensorSpec[] }

export type { CameraSpec };

export interface IoSpec {
  cameras: CameraSpec[];
  state_dim: number;
  action_dim: number;
  chunk_length: number;
  control_dt: number;
  state_names?: string[];
  action_names?: string[];
}

export interface SamplerSpec {
  steps: number;
  alphas_cumprod?: number[];
  /** Standard deviation of the initial noise (sampling temperature); default 1. */
  noise_scale?: number;
}
export interface LoraEntry { name: string; offset: number; shape: number[] }
export interface GoldenTensor { dtype: TensorDtype; shape: number[]; offset: number; length: number }
export interface GoldenCase {
  graph: GraphName | 'sample';
  steps?: number;
  inputs: Record<string, string>;
  outputs: Record<string, string>;
}

export interface Manifest {
  schema_version: number;
  name: string;
  version: string;
  created_at?: string;
  description?: string;
  io: IoSpec;
  model?: Record<string, unknown>;
  expert: { kind: ExpertKind; sampler: SamplerSpec };
  graphs: { prefix: GraphSpec; expert: GraphSpec } & Partial<Record<GraphName, GraphSpec>>;
  normalization: { mode: 'mean_std' | 'quantile'; file: string };
  tokenizer: { file: string; max_tokens: number; pad_id: number };
  lora: { rank: number; alpha: number; size: number; targets: string[]; layout: LoraEntry[] };
  training?: { batch: number; optimizer?: Record<string, unknown>; loss_weights?: Record<string, number> };
  files: Record<string, string>;
  golden: {
    file: string;
    tolerance: number;
    instruction?: string;
    instruction_tokens?: number[];
    tensors: Record<string, GoldenTensor>;
    cases: GoldenCase[];
  };
  /** Signed release metadata (covered by the signature): when the bundle stops being trusted, and where it may run. */
  release?: { expires: string; hw_profiles: string[]; file_bytes: Record<string, number> };
  /** One signature, or several (a robot may require a threshold of trusted keys). */
  signature: null | BundleSignature | BundleSignature[];
}

export interface BundleSignature { alg: 'ed25519'; key_id: string; value: string }

const positiveInt = { type: 'integer', minimum: 1 } as const;
const signatureSchema = {
  type: 'object', additionalProperties: false, required: ['alg', 'key_id', 'value'],
  properties: { alg: { const: 'ed25519' }, key_id: { type: 'string', pattern: '^[0-9a-f]{16}$' }, value: { type: 'string', pattern: '^[A-Za-z0-9+/]{86}==$' } },
} as const;
const nonNegInt = { type: 'integer', minimum: 0 } as const;
const fileName = { type: 'string', pattern: '^[A-Za-z0-9._-]+$', not: { enum: ['.', '..', 'manifest.json'] } } as const;
const dim = { oneOf: [positiveInt, { type: 'string', minLength: 1 }] } as const;
const tensorSpec = {
  type: 'object',
  additionalProperties: false,
  required: ['name', 'dtype', 'shape'],
  properties: { name: { type: 'string', minLength: 1 }, dtype: { enum: TENSOR_DTYPES }, shape: { type: 'array', items: dim } },
} as const;
const graphSpec = {
  type: 'object',
  additionalProperties: false,
  required: ['file', 'inputs', 'outputs'],
  properties: { file: fileName, inputs: { type: 'array', items: tensorSpec, minItems: 1 }, outputs: { type: 'array', items: tensorSpec, minItems: 1 } },
} as const;
const statsName = { type: 'array', items: { type: 'string' } } as const;

export const MANIFEST_SCHEMA = {
  $id: 'https://vlad.robot/schemas/bundle-manifest-1.json',
  type: 'object',
  additionalProperties: false,
  required: ['schema_version', 'name', 'version', 'io', 'expert', 'graphs', 'normalization', 'tokenizer', 'lora', 'files', 'golden', 'signature'],
  properties: {
    schema_version: { const: SCHEMA_VERSION },
    name: { type: 'string', pattern: '^[A-Za-z0-9._-]+$' },
    version: { type: 'string', minLength: 1 },
    created_at: { type: 'string' },
    description: { type: 'string' },
    io: {
      type: 'object',
      additionalProperties: false,
      required: ['cameras', 'state_dim', 'action_dim', 'chunk_length', 'control_dt'],
      properties: {
        cameras: {
          type: 'array',
          minItems: 1,
          items: {
            type: 'object',
            additionalProperties: false,
            required: ['name', 'height', 'width', 'channels'],
            properties: { name: { type: 'string', pattern: '^[A-Za-z0-9_]+$' }, height: positiveInt, width: positiveInt, channels: { const: 3 } },
          },
        },
        state_dim: positiveInt,
        action_dim: positiveInt,
        chunk_length: positiveInt,
        control_dt: { type: 'number', exclusiveMinimum: 0, maximum: 1 },
        state_names: statsName,
        action_names: statsName,
      },
    },
    model: { type: 'object' },
    expert: {
      type: 'object',
      additionalProperties: false,
      required: ['kind', 'sampler'],
      properties: {
        kind: { type: 'string' }, // checked semantically so the error can list the known kinds
        sampler: {
          type: 'object',
          additionalProperties: false,
          required: ['steps'],
          properties: {
            steps: { type: 'integer', minimum: 1, maximum: 1000 },
            alphas_cumprod: { type: 'array', items: { type: 'number', exclusiveMinimum: 0, maximum: 1 }, minItems: 2 },
            noise_scale: { type: 'number', minimum: 0, maximum: 4 },
          },
        },
      },
    },
    graphs: {
      type: 'object',
      additionalProperties: false,
      required: ['prefix', 'expert'],
      properties: Object.fromEntries(GRAPH_NAMES.map((g) => [g, graphSpec])),
    },
    normalization: {
      type: 'object',
      additionalProperties: false,
      required: ['mode', 'file'],
      properties: { mode: { enum: ['mean_std', 'quantile'] }, file: fileName },
    },
    tokenizer: {
      type: 'object',
      additionalProperties: false,
      required: ['file', 'max_tokens', 'pad_id'],
      properties: { file: fileName, max_tokens: positiveInt, pad_id: nonNegInt },
    },
    lora: {
      type: 'object',
      additionalProperties: false,
      required: ['rank', 'alpha', 'size', 'targets', 'layout'],
      properties: {
        rank: positiveInt,
        alpha: { type: 'number', exclusiveMinimum: 0 },
        size: positiveInt,
        targets: { type: 'array', items: { type: 'string' }, minItems: 1 },
        layout: {
          type: 'array',
          minItems: 1,
          items: {
            type: 'object',
            additionalProperties: false,
            required: ['name', 'offset', 'shape'],
            properties: { name: { type: 'string' }, offset: nonNegInt, shape: { type: 'array', items: positiveInt, minItems: 1 } },
          },
        },
      },
    },
    training: {
      type: 'object',
      required: ['batch'],
      properties: { batch: positiveInt, optimizer: { type: 'object' }, loss_weights: { type: 'object', additionalProperties: { type: 'number' } } },
    },
    files: { type: 'object', minProperties: 1, additionalProperties: { type: 'string', pattern: '^[0-9a-f]{64}$' }, propertyNames: fileName },
    golden: {
      type: 'object',
      additionalProperties: false,
      required: ['file', 'tolerance', 'tensors', 'cases'],
      properties: {
        file: fileName,
        tolerance: { type: 'number', exclusiveMinimum: 0, maximum: 0.1 },
        instruction: { type: 'string' },
        instruction_tokens: { type: 'array', items: nonNegInt },
        tensors: {
          type: 'object',
          additionalProperties: {
            type: 'object',
            additionalProperties: false,
            required: ['dtype', 'shape', 'offset', 'length'],
            properties: { dtype: { enum: TENSOR_DTYPES }, shape: { type: 'array', items: nonNegInt }, offset: nonNegInt, length: nonNegInt },
          },
        },
        cases: {
          type: 'array',
          minItems: 1,
          items: {
            type: 'object',
            additionalProperties: false,
            required: ['graph', 'inputs', 'outputs'],
            properties: {
              graph: { enum: [...GRAPH_NAMES, 'sample'] },
              steps: positiveInt,
              inputs: { type: 'object', additionalProperties: { type: 'string' } },
              outputs: { type: 'object', minProperties: 1, additionalProperties: { type: 'string' } },
            },
          },
        },
      },
    },
    release: {
      type: 'object', additionalProperties: false, required: ['expires', 'hw_profiles', 'file_bytes'],
      properties: {
        expires: { type: 'string', pattern: '^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}(\\.\\d+)?Z$' },
        hw_profiles: { type: 'array', minItems: 1, uniqueItems: true, items: { type: 'string', pattern: '^[a-z0-9-]+$' } },
        file_bytes: { type: 'object', additionalProperties: nonNegInt, propertyNames: fileName },
      },
    },
    signature: {
      oneOf: [
        { type: 'null' },
        signatureSchema,
        { type: 'array', minItems: 1, maxItems: 16, items: signatureSchema },
      ],
    },
  },
} as const;

export class BundleError extends ConfigError {
  constructor(file: string, field: string, message: string) {
    super(file, field, message);
    this.name = 'BundleError';
  }
}

const validateSchema = compileSchema<Manifest>(MANIFEST_SCHEMA);

/** Parses and validates manifest text; every failure names manifest.json and the field. */
export function parseManifest(text: string): Manifest {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new BundleError('manifest.json', '(root)', `not valid JSON: ${(err as Error).message}`);
  }
  if (typeof raw === 'object' && raw !== null && 'schema_version' in raw && raw.schema_version !== SCHEMA_VERSION) {
    throw new BundleError('manifest.json', 'schema_version', `unsupported schema version ${JSON.stringify(raw.schema_version)} (this vlad reads ${SCHEMA_VERSION})`);
  }
  validateConfig(validateSchema, raw, 'manifest.json', (file, field, message) => new BundleError(file, field, message));
  const m = raw as unknown as Manifest;
  checkSemantics(m);
  return m;
}

function checkSemantics(m: Manifest): void {
  const fail = (field: string, msg: string): never => { throw new BundleError('manifest.json', field, msg); };
  if (!(EXPERT_KINDS as readonly string[]).includes(m.expert.kind)) {
    fail('expert.kind', `unknown expert kind '${m.expert.kind}' (known: ${EXPERT_KINDS.join(', ')})`);
  }
  if (m.expert.kind === 'ddim' && !m.expert.sampler.alphas_cumprod) fail('expert.sampler.alphas_cumprod', 'required for a ddim expert');
  if (m.expert.kind === 'l1_regression' && m.expert.sampler.steps !== 1) fail('expert.sampler.steps', 'an l1_regression expert takes exactly 1 step');
  if (m.expert.kind === 'l1_regression' && m.expert.sampler.noise_scale !== undefined) fail('expert.sampler.noise_scale', 'an l1_regression expert uses no noise');
  const names = new Set(m.io.cameras.map((c) => c.name));
  if (names.size !== m.io.cameras.length) fail('io.cameras', 'camera names must be unique');
  if (m.io.state_names && m.io.state_names.length !== m.io.state_dim) fail('io.state_names', `has ${m.io.state_names.length} names for state_dim ${m.io.state_dim}`);
  if (m.io.action_names && m.io.action_names.length !== m.io.action_dim) fail('io.action_names', `has ${m.io.action_names.length} names for action_dim ${m.io.action_dim}`);
  // The LoRA layout must tile [0, size) exactly, in order.
  let expected = 0;
  m.lora.layout.forEach((e, i) => {
    if (e.offset !== expected) fail(`lora.layout[${i}].offset`, `is ${e.offset}, expected ${expected} (entries must be contiguous)`);
    expected += e.shape.reduce((a, b) => a * b, 1);
  });
  if (expected !== m.lora.size) fail('lora.size', `is ${m.lora.size} but the layout covers ${expected}`);
  // The graphs' fixed shapes must agree with the I/O spec the robot side is built from.
  const c0 = m.io.cameras[0]!;
  if (m.io.cameras.some((c) => c.height !== c0.height || c.width !== c0.width)) fail('io.cameras', 'all cameras must share one size (the prefix takes one stacked image tensor)');
  const expectShape = (graph: 'prefix' | 'expert', side: 'inputs' | 'outputs', name: string, want: Dim[]) => {
    const spec = m.graphs[graph][side].find((t) => t.name === name);
    if (!spec) fail(`graphs.${graph}.${side}`, `must declare '${name}'`);
    const ok = spec!.shape.length === want.length && spec!.shape.every((d, i) => want[i] === '*' || d === want[i]);
    if (!ok) fail(`graphs.${graph}.${side}.${name}.shape`, `is [${spec!.shape.join(', ')}], io implies [${want.join(', ')}]`);
  };
  expectShape('prefix', 'inputs', 'images', [1, m.io.cameras.length, c0.height, c0.width, 3]);
  expectShape('prefix', 'inputs', 'tokens', [1, m.tokenizer.max_tokens]);
  expectShape('prefix', 'inputs', 'state', [1, m.io.state_dim]);
  expectShape('expert', 'inputs', 'x_t', ['*', m.io.chunk_length, m.io.action_dim]);
  expectShape('expert', 'inputs', 'lora', [m.lora.size]);
  expectShape('expert', 'outputs', 'out', ['*', m.io.chunk_length, m.io.action_dim]);
  // Every referenced file must be hashed: an unhashed file could be swapped unnoticed.
  const referenced: [string, string][] = [
    ...Object.entries(m.graphs).map(([g, spec]) => [`graphs.${g}.file`, (spec as GraphSpec).file] as [string, string]),
    ['normalization.file', m.normalization.file],
    ['tokenizer.file', m.tokenizer.file],
    ['golden.file', m.golden.file],
  ];
  for (const [field, file] of referenced) if (!(file in m.files)) fail(field, `'${file}' has no sha256 in files`);
  if (m.release) {
    // The signed lengths cover exactly the hashed files: a length lets an upload refuse early.
    const sized = Object.keys(m.release.file_bytes).sort(), hashed = Object.keys(m.files).sort();
    if (JSON.stringify(sized) !== JSON.stringify(hashed)) fail('release.file_bytes', `must list exactly the files in files (${hashed.join(', ')}), lists ${sized.join(', ') || 'none'}`);
  }
  for (const [name, t] of Object.entries(m.golden.tensors)) {
    const want = t.shape.reduce((a, b) => a * b, 1) * dtypeBytes(t.dtype);
    if (want !== t.length) fail(`golden.tensors.${name}.length`, `is ${t.length} bytes, shape ${JSON.stringify(t.shape)} ${t.dtype} needs ${want}`);
  }
  m.golden.cases.forEach((c, i) => {
    if (c.graph !== 'sample' && !m.graphs[c.graph]) fail(`golden.cases[${i}].graph`, `graph '${c.graph}' is not in graphs`);
    for (const [io, ref] of [...Object.entries(c.inputs), ...Object.entries(c.outputs)]) {
      if (!(ref in m.golden.tensors)) fail(`golden.cases[${i}]`, `'${io}' refers to unknown golden tensor '${ref}'`);
    }
  });
}

export function dtypeBytes(dtype: TensorDtype): number {
  switch (dtype) {
    case 'float32': case 'int32': return 4;
    case 'int64': return 8;
    case 'uint8': case 'bool': return 1;
  }
}

/** The manifest text a signature covers: keys sorted, no whitespace, `signature` removed. */
export function canonicalManifest(m: Manifest): string {
  const { signature: _omit, ...rest } = m;
  return canonicalJson(rest);
}

function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (v && typeof v === 'object') {
    const entries = Object.entries(v as Record<string, unknown>).filter(([, x]) => x !== undefined).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, x]) => `${JSON.stringify(k)}:${canonicalJson(x)}`).join(',')}}`;
  }
  return JSON.stringify(v);
}
