// LoRA adapters on disk in the Hugging Face PEFT format, so that the toolchain's PyTorch model
// (models/toolchain/model.py) and PEFT itself load what the robot learnt:
//   DIR/adapter_config.json        peft_type LORA, r, lora_alpha, target_modules, ...
//   DIR/adapter_model.safetensors  base_model.model.<module>.lora_A.weight [r, in], .lora_B.weight [out, r]
// The runtime's adapter is one packed vector laid out by manifest.lora.layout (entries
// expert.layers.L.TARGET.{A,B}, A [r, in], B [out, r], delta W = (alpha / r) B A: model.py's
// merged_weights). PEFT's LoRA is the same product with the same orientation and scaling, on the
// PyTorch modules: expert.layers.L.{qkv, o, up, down}. model.py fuses q, k and v into one Linear
// (qkv, rows q ++ k ++ v), so their three adapters become one rank-3r adapter on qkv: A stacked
// [3r, in], B block-diagonal [3D, 3r], alpha 3 alpha (rank_pattern / alpha_pattern), which keeps
// the scale alpha / r and gives exactly q, k, v's three deltas. Reading refuses a qkv adapter whose
// B mixes them (non-zero off-diagonal blocks): the packed layout cannot hold it.
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { allFinite, type LoraEntry, type Manifest } from '../bundle/index.js';
import { writeFileAtomic } from '../core/index.js';
import { decodeSafetensors, encodeSafetensors, type F32Tensor } from './safetensors.js';

export const PEFT_CONFIG_FILE = 'adapter_config.json';
export const PEFT_WEIGHTS_FILE = 'adapter_model.safetensors';
/** PEFT's prefix on every saved key: PeftModel.base_model (LoraModel).model (the wrapped module). */
const KEY_PREFIX = 'base_model.model.';

/** The PyTorch module (model.py ExpertBlock) each LoRA target adapts, and its row block there. */
const TARGET_MODULES: Readonly<Record<string, { module: string; block: number; blocks: number }>> = {
  'attn.q': { module: 'qkv', block: 0, blocks: 3 },
  'attn.k': { module: 'qkv', block: 1, blocks: 3 },
  'attn.v': { module: 'qkv', block: 2, blocks: 3 },
  'attn.o': { module: 'o', block: 0, blocks: 1 },
  'mlp.up': { module: 'up', block: 0, blocks: 1 },
  'mlp.down': { module: 'down', block: 0, blocks: 1 },
};
const ENTRY_RE = /^expert\.layers\.(\d+)\.(.+)\.(A|B)$/;

export type LoraSpec = Manifest['lora'];

/** One adapted PyTorch module: its path, and the layout entries of each fused row block. */
export interface PeftModule {
  path: string;
  /** This module's name in model.py (qkv, o, up, down): the key of rank_pattern / alpha_pattern. */
  name: string;
  /** Per row block (q, k, v for qkv; one otherwise), A [r, in] and B [out, r] in the packed vector. */
  blocks: { a: LoraEntry; b: LoraEntry }[];
  /** lora_A [rank, in] and lora_B [out, rank] with rank = r * blocks. */
  shapeA: [number, number];
  shapeB: [number, number];
}

export class PeftError extends Error {
  constructor(readonly dir: string, message: string) {
    super(`adapter ${dir}: ${message}`);
    this.name = 'PeftError';
  }
}

/** The PEFT modules a bundle's LoRA layout maps to, in layout order of their first entry. */
export function peftModules(lora: LoraSpec): PeftModule[] {
  const byPath = new Map<string, { name: string; blocks: ({ a?: LoraEntry; b?: LoraEntry } | undefined)[] }>();
  for (const e of lora.layout) {
    const m = ENTRY_RE.exec(e.name);
    const target = m ? TARGET_MODULES[m[2]!] : undefined;
    if (!m || !target) throw new Error(`lora.layout entry '${e.name}' has no PEFT module (known targets: ${Object.keys(TARGET_MODULES).join(', ')})`);
    const path = `expert.layers.${Number(m[1])}.${target.module}`;
    const mod = byPath.get(path) ?? { name: target.module, blocks: new Array(target.blocks).fill(undefined) };
    byPath.set(path, mod);
    const block = (mod.blocks[target.block] ??= {});
    if (block[m[3] === 'A' ? 'a' : 'b']) throw new Error(`lora.layout names '${e.name}' twice`);
    block[m[3] === 'A' ? 'a' : 'b'] = e;
  }
  return [...byPath.entries()].map(([path, mod]) => {
    const blocks = mod.blocks.map((b, i) => {
      if (!b?.a || !b.b) throw new Error(`lora.layout: ${path} block ${i} lacks its ${!b?.a ? 'A' : 'B'} entry (${mod.name} adapts ${mod.blocks.length} targets together)`);
      return { a: b.a, b: b.b };
    });
    const [r, fanIn] = blocks[0]!.a.shape as [number, number];
    const fanOut = blocks[0]!.b.shape[0]!;
    for (const b of blocks) {
      const ok = b.a.shape.length === 2 && b.b.shape.length === 2 && b.a.shape[0] === r && b.a.shape[1] === fanIn && b.b.shape[0] === fanOut && b.b.shape[1] === r;
      if (!ok) throw new Error(`lora.layout: ${b.a.name} [${b.a.shape.join(', ')}] / ${b.b.name} [${b.b.shape.join(', ')}] do not share the shapes of ${path}'s other blocks`);
    }
    return { path, name: mod.name, blocks, shapeA: [r * blocks.length, fanIn], shapeB: [fanOut * blocks.length, r * blocks.length] };
  });
}

export const loraKey = (path: string, part: 'A' | 'B'): string => `${KEY_PREFIX}${path}.lora_${part}.weight`;

/** The adapter_config.json PEFT writes for this layout (its field set of peft 0.13). */
export function peftConfig(lora: LoraSpec, baseModel: string): Record<string, unknown> {
  const modules = peftModules(lora);
  const names = [...new Set(modules.map((m) => m.name))];
  // Fused modules (qkv) carry k adapters of rank r: rank k r, alpha k alpha, the same scale.
  const fused = new Map(modules.filter((m) => m.blocks.length > 1).map((m) => [m.name, m.blocks.length]));
  return {
    alpha_pattern: Object.fromEntries([...fused].map(([name, k]) => [name, lora.alpha * k])),
    auto_mapping: null,
    base_model_name_or_path: baseModel,
    bias: 'none',
    fan_in_fan_out: false,
    inference_mode: true,
    init_lora_weights: true,
    layer_replication: null,
    layers_pattern: null,
    layers_to_transform: null,
    loftq_config: {},
    lora_alpha: lora.alpha,
    lora_dropout: 0.0,
    megatron_config: null,
    megatron_core: 'megatron.core',
    modules_to_save: null,
    peft_type: 'LORA',
    r: lora.rank,
    rank_pattern: Object.fromEntries([...fused].map(([name, k]) => [name, lora.rank * k])),
    revision: null,
    // A regex (PEFT full-matches a string against each module path): the prefix's and the energy
    // head's blocks have modules named o, up and down too, and are not adapted.
    target_modules: `^expert\\.layers\\.\\d+\\.(${names.join('|')})$`,
    task_type: null,
    use_dora: false,
    use_rslora: false,
  };
}

/** Packed vector -> PEFT tensors (exact: values are copied, never recomputed). */
export function packToPeft(lora: LoraSpec, vector: Float32Array): Map<string, F32Tensor> {
  if (vector.length !== lora.size) throw new Error(`adapter vector has ${vector.length} values, manifest lora.size is ${lora.size}`);
  const out = new Map<string, F32Tensor>();
  for (const m of peftModules(lora)) {
    const k = m.blocks.length;
    const a = new Float32Array(m.shapeA[0] * m.shapeA[1]);
    const b = new Float32Array(m.shapeB[0] * m.shapeB[1]);
    m.blocks.forEach((blk, i) => {
      const [r] = blk.a.shape as [number, number];
      const [fanOut] = blk.b.shape as [number, number];
      a.set(vector.subarray(blk.a.offset, blk.a.offset + blk.a.shape[0]! * blk.a.shape[1]!), i * r * m.shapeA[1]);
      for (let row = 0; row < fanOut; row++) {
        b.set(vector.subarray(blk.b.offset + row * r, blk.b.offset + (row + 1) * r), (i * fanOut + row) * r * k + i * r);
      }
    });
    out.set(loraKey(m.path, 'A'), { shape: [...m.shapeA], data: a });
    out.set(loraKey(m.path, 'B'), { shape: [...m.shapeB], data: b });
  }
  return out;
}

/** PEFT tensors -> packed vector; throws (naming the tensor) on anything the layout cannot hold. */
export function peftToPack(lora: LoraSpec, tensors: ReadonlyMap<string, F32Tensor>): Float32Array {
  const modules = peftModules(lora);
  const expected = new Set(modules.flatMap((m) => [loraKey(m.path, 'A'), loraKey(m.path, 'B')]));
  const missing = [...expected].filter((n) => !tensors.has(n));
  const extra = [...tensors.keys()].filter((n) => !expected.has(n));
  if (missing.length) throw new Error(`${missing.length} tensor(s) missing, e.g. '${missing[0]}' (this bundle's layout adapts ${modules.length} modules)`);
  if (extra.length) throw new Error(`${extra.length} tensor(s) this bundle's layout has no place for, e.g. '${extra[0]}'`);
  const vector = new Float32Array(lora.size);
  for (const m of modules) {
    const a = tensors.get(loraKey(m.path, 'A'))!, b = tensors.get(loraKey(m.path, 'B'))!;
    const same = (s: number[], want: number[]) => s.length === want.length && s.every((d, i) => d === want[i]);
    if (!same(a.shape, m.shapeA)) throw new Error(`${loraKey(m.path, 'A')} has shape [${a.shape.join(', ')}], the layout needs [${m.shapeA.join(', ')}]`);
    if (!same(b.shape, m.shapeB)) throw new Error(`${loraKey(m.path, 'B')} has shape [${b.shape.join(', ')}], the layout needs [${m.shapeB.join(', ')}]`);
    const k = m.blocks.length, width = m.shapeB[1];
    m.blocks.forEach((blk, i) => {
      const [r, fanIn] = blk.a.shape as [number, number];
      const [fanOut] = blk.b.shape as [number, number];
      vector.set(a.data.subarray(i * r * fanIn, (i + 1) * r * fanIn), blk.a.offset);
      for (let row = 0; row < fanOut; row++) {
        const at = (i * fanOut + row) * width;
        vector.set(b.data.subarray(at + i * r, at + (i + 1) * r), blk.b.offset + row * r);
        for (let col = 0; col < width; col++) {
          if ((col < i * r || col >= (i + 1) * r) && b.data[at + col] !== 0) {
            throw new Error(`${loraKey(m.path, 'B')}[${i * fanOut + row}, ${col}] is ${b.data[at + col]}: ${m.name}'s lora_B must be block-diagonal (${k} separate rank-${r} adapters, as the layout keeps them)`);
          }
        }
      }
    });
  }
  return vector;
}

/** Writes DIR/adapter_model.safetensors then DIR/adapter_config.json, each atomically. */
export async function writePeftAdapter(dir: string, bundle: Pick<Manifest, 'name' | 'version' | 'lora'>, vector: Float32Array): Promise<void> {
  if (!allFinite(vector)) throw new Error('adapter vector contains NaN or Inf');
  const tensors = packToPeft(bundle.lora, vector);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await writeFileAtomic(join(dir, PEFT_WEIGHTS_FILE), encodeSafetensors(tensors, { format: 'pt' }));
  await writeFileAtomic(join(dir, PEFT_CONFIG_FILE), `${JSON.stringify(peftConfig(bundle.lora, `${bundle.name}@${bundle.version}`), null, 2)}\n`);
}

export interface PeftAdapter {
  /** The packed vector for PolicyEngine.loadAdapter. */
  vector: Float32Array;
  /** base_model_name_or_path: the bundle (NAME@VER) it was learnt on. */
  baseModel: string;
  config: Record<string, unknown>;
}

/** Reads and checks an adapter directory against a bundle's LoRA layout. */
export async function readPeftAdapter(dir: string, lora: LoraSpec): Promise<PeftAdapter> {
  const read = async <T>(file: string, how: (p: string) => Promise<T>): Promise<T> => {
    try {
      return await how(join(dir, file));
    } catch (err) {
      throw new PeftError(dir, `${file}: ${(err as Error).message}`);
    }
  };
  return parsePeftAdapter(dir, await read(PEFT_CONFIG_FILE, (p) => readFile(p, 'utf8')), await read(PEFT_WEIGHTS_FILE, (p) => readFile(p)), lora);
}

/** The same from the two files' contents (a caller that hashed the bytes parses those very bytes). */
export function parsePeftAdapter(dir: string, configText: string, weights: Uint8Array, lora: LoraSpec): PeftAdapter {
  try {
    let config: Record<string, unknown>;
    try {
      config = JSON.parse(configText) as Record<string, unknown>;
    } catch (err) {
      throw new Error(`${PEFT_CONFIG_FILE}: not valid JSON (${(err as Error).message})`);
    }
    const { tensors } = decodeSafetensors(weights, PEFT_WEIGHTS_FILE);
    checkConfig(config, lora, tensors);
    return { vector: peftToPack(lora, tensors), baseModel: String(config.base_model_name_or_path ?? ''), config };
  } catch (err) {
    throw new PeftError(dir, (err as Error).message);
  }
}

/** The config must say what the runtime will do with the tensors: delta W = (alpha / r) B A on each. */
function checkConfig(c: Record<string, unknown>, lora: LoraSpec, tensors: ReadonlyMap<string, F32Tensor>): void {
  const fail = (field: string, msg: string): never => { throw new Error(`${PEFT_CONFIG_FILE}: ${field} ${msg}`); };
  if (typeof c !== 'object' || c === null || Array.isArray(c)) fail('(root)', 'is not a JSON object');
  if (c.peft_type !== 'LORA') fail('peft_type', `is ${JSON.stringify(c.peft_type)}, expected "LORA"`);
  if (c.bias !== undefined && c.bias !== 'none') fail('bias', `is ${JSON.stringify(c.bias)}: the runtime adapts weights only ("none")`);
  for (const flag of ['use_rslora', 'use_dora', 'fan_in_fan_out'] as const) if (c[flag] === true) fail(flag, 'is true: the runtime computes plain LoRA, delta W = (lora_alpha / r) B A');
  if (c.modules_to_save !== undefined && c.modules_to_save !== null && !(Array.isArray(c.modules_to_save) && c.modules_to_save.length === 0)) fail('modules_to_save', 'is set: the runtime adapter holds LoRA factors only');
  if (typeof c.r !== 'number' || !(c.r > 0)) fail('r', `is ${JSON.stringify(c.r)}, expected a positive number`);
  if (typeof c.lora_alpha !== 'number') fail('lora_alpha', `is ${JSON.stringify(c.lora_alpha)}, expected a number`);
  const pattern = (field: 'rank_pattern' | 'alpha_pattern', m: PeftModule, fallback: number): number => {
    const p = c[field] ?? {};
    if (typeof p !== 'object' || p === null) fail(field, 'is not an object');
    // PEFT: a key applies to a module whose path is the key or ends with ".key".
    const hit = Object.entries(p as Record<string, unknown>).find(([k]) => m.path === k || m.path.endsWith(`.${k}`));
    if (hit && typeof hit[1] !== 'number') fail(`${field}.${hit[0]}`, 'is not a number');
    return hit ? (hit[1] as number) : fallback;
  };
  const targets = c.target_modules;
  const targeted = (path: string): boolean => {
    if (typeof targets === 'string') return new RegExp(`^(?:${targets})$`).test(path);
    if (Array.isArray(targets)) return targets.some((t) => path === t || path.endsWith(`.${String(t)}`));
    return fail('target_modules', `is ${JSON.stringify(targets)}, expected a regex string or a list of module names`);
  };
  const want = lora.alpha / lora.rank;
  for (const m of peftModules(lora)) {
    if (!targeted(m.path)) fail('target_modules', `does not select ${m.path}, which has LoRA tensors`);
    const rank = pattern('rank_pattern', m, c.r as number);
    const alpha = pattern('alpha_pattern', m, c.lora_alpha as number);
    const rows = tensors.get(loraKey(m.path, 'A'))?.shape[0];
    if (rows !== undefined && rows !== rank) fail('r', `(or rank_pattern) gives ${m.path} rank ${rank}, its lora_A has ${rows} rows`);
    if (Math.abs(alpha / rank - want) > 1e-9 * want) fail('lora_alpha', `(or alpha_pattern) scales ${m.path} by ${alpha}/${rank} = ${alpha / rank}, this bundle's LoRA scale is alpha/rank = ${lora.alpha}/${lora.rank} = ${want}`);
  }
}
