// Reading a bundle directory: manifest, sha256 of every file, normalization stats, golden tensors.
// Runs inside the policy worker (hashing a few MB would stall the control timer on the main thread).
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { BundleError, dtypeBytes, parseManifest, type GoldenTensor, type Manifest, type TensorDtype } from './manifest.js';

export interface NormStats { mean: number[]; std: number[]; q01: number[]; q99: number[] }
export interface NormStatsFile { state: NormStats; actions: NormStats }

export interface BundleContents {
  dir: string;
  manifest: Manifest;
  normStats: NormStatsFile;
  tokenizerJson: Record<string, unknown>;
  golden: Buffer;
}

export async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

export async function readManifest(dir: string): Promise<Manifest> {
  let text: string;
  try {
    text = await readFile(join(dir, 'manifest.json'), 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new BundleError('manifest.json', '(file)', code === 'ENOENT' ? `missing in ${dir}` : `cannot read: ${(err as Error).message}`);
  }
  return parseManifest(text);
}

/** Checks that every file listed in the manifest exists and has the declared sha256. */
export async function verifyHashes(dir: string, manifest: Manifest): Promise<void> {
  for (const [file, want] of Object.entries(manifest.files)) {
    const path = join(dir, file);
    try {
      const st = await stat(path);
      if (!st.isFile()) throw new BundleError(file, '(file)', 'is not a regular file');
      const bytes = manifest.release?.file_bytes[file];
      if (bytes !== undefined && st.size !== bytes) throw new BundleError(file, 'length', `is ${st.size} bytes, the signed release says ${bytes}`);
    } catch (err) {
      if (err instanceof BundleError) throw err;
      throw new BundleError(file, '(file)', `missing (listed in manifest.json files)`);
    }
    const got = await sha256File(path);
    if (got !== want) throw new BundleError(file, 'sha256', `is ${got}, manifest.json files says ${want}`);
  }
  // A file in the directory that the manifest does not cover is not trusted: report it.
  const listed = new Set([...Object.keys(manifest.files), 'manifest.json']);
  for (const entry of await readdir(dir)) {
    if (!listed.has(entry) && !entry.startsWith('.')) throw new BundleError(entry, '(file)', 'is in the bundle but not listed in manifest.json files');
  }
}

function checkStats(stats: unknown, key: string, dim: number, file: string): NormStats {
  const s = stats as Record<string, unknown> | undefined;
  if (!s || typeof s !== 'object') throw new BundleError(file, key, 'missing');
  for (const field of ['mean', 'std', 'q01', 'q99'] as const) {
    const v = s[field];
    if (!Array.isArray(v) || v.length !== dim || !v.every((x) => typeof x === 'number' && Number.isFinite(x))) {
      throw new BundleError(file, `${key}.${field}`, `must be ${dim} finite numbers`);
    }
  }
  const out = s as unknown as NormStats;
  out.std.forEach((x, i) => { if (x < 0) throw new BundleError(file, `${key}.std[${i}]`, 'is negative'); });
  out.q01.forEach((x, i) => { if (x > out.q99[i]!) throw new BundleError(file, `${key}.q01[${i}]`, 'exceeds q99'); });
  return out;
}

async function readJson(dir: string, file: string): Promise<unknown> {
  try {
    return JSON.parse(await readFile(join(dir, file), 'utf8'));
  } catch (err) {
    throw new BundleError(file, '(root)', `not valid JSON: ${(err as Error).message}`);
  }
}

/** Reads and verifies everything except the graphs themselves (those need ORT sessions). */
export async function readBundle(dir: string): Promise<BundleContents> {
  const manifest = await readManifest(dir);
  await verifyHashes(dir, manifest);
  const normFile = manifest.normalization.file;
  const norm = (await readJson(dir, normFile)) as Record<string, unknown>;
  const normStats: NormStatsFile = {
    state: checkStats(norm.state, 'state', manifest.io.state_dim, normFile),
    actions: checkStats(norm.actions, 'actions', manifest.io.action_dim, normFile),
  };
  const tokenizerJson = (await readJson(dir, manifest.tokenizer.file)) as Record<string, unknown>;
  const golden = await readFile(join(dir, manifest.golden.file));
  for (const [name, t] of Object.entries(manifest.golden.tensors)) {
    if (t.offset + t.length > golden.length) {
      throw new BundleError(manifest.golden.file, `golden.tensors.${name}`, `bytes ${t.offset}..${t.offset + t.length} lie past the end of the file (${golden.length} bytes)`);
    }
  }
  return { dir, manifest, normStats, tokenizerJson, golden };
}

export type TypedTensorData = Float32Array | Uint8Array | BigInt64Array | Int32Array;

/** A golden tensor as a typed array (copied, so it is aligned and owned). */
export function goldenTensor(golden: Buffer, t: GoldenTensor): TypedTensorData {
  const bytes = golden.subarray(t.offset, t.offset + t.length);
  const copy = new Uint8Array(bytes).buffer;
  return typedView(t.dtype, copy);
}

export function typedView(dtype: TensorDtype, buf: ArrayBuffer): TypedTensorData {
  switch (dtype) {
    case 'float32': return new Float32Array(buf);
    case 'int64': return new BigInt64Array(buf);
    case 'int32': return new Int32Array(buf);
    case 'uint8': case 'bool': return new Uint8Array(buf);
  }
}

export { dtypeBytes };
