// The trainer's state on disk, one file written temp + fsync + rename: the AdamW state (lora, m,
// v, step) of the running pass, its plan and progress, the data cursor, the parent adapter, and
// the last finished pass's candidate. A SIGKILL at any moment leaves the previous state or the
// new one; a resumed pass redoes at most `checkpoint_every` steps, drawing the same batches.
import { join } from 'node:path';
import { Packr } from 'msgpackr';
import type { ControlMode } from '../core/index.js';
import { readFileIfExists, writeFileAtomic } from '../core/index.js';
import type { EpisodeKey } from './episodes.js';

export const STATE_FILE = 'trainer-state.msgpack';
const FORMAT = 1;

export interface LossSummary { first: number; last: number; min: number; mean: number; /** Mean loss of each tenth of the pass. */ curve: number[] }

/** What a pass knows of the candidate it produced (the adapter store files it as a LineageInput). */
export interface PassLineage {
  /** Adapter version the pass started from. */
  parent: string;
  /** The bundle identity (name@version + prefix hash) it was trained on. */
  bundle: string;
  pass: number;
  seed: number;
  steps: number;
  lr: number;
  /** Episodes new in this pass and those replayed. */
  episodes: { fresh: EpisodeKey[]; replay: EpisodeKey[] };
  /** Learnable windows in those episodes, by who commanded the first step. */
  windowsByMode: Partial<Record<ControlMode, number>>;
  /** Windows actually drawn into batches, by mode. */
  sampledByMode: Partial<Record<ControlMode, number>>;
  loss: LossSummary;
  finishedAt: string;
}

export interface CandidateAdapter { lora: Float32Array; lineage: PassLineage }

export interface PassState {
  index: number;
  parent: string;
  /** The pass's own draws and learning rate: a config change applies from the next pass. */
  seed: number;
  lr: number;
  warmupSteps: number;
  fresh: EpisodeKey[];
  replay: EpisodeKey[];
  /** The cursor once this pass is done (episodes per dataset folder). */
  cursorAfter: Record<string, number>;
  step: number;
  losses: number[];
  sampledByMode: Partial<Record<ControlMode, number>>;
  lora: Float32Array;
  m: Float32Array;
  v: Float32Array;
  adamStep: number;
}

export interface TrainerState {
  format: number;
  identity: string;
  /** Episodes already learnt from, per dataset folder. */
  cursor: Record<string, number>;
  passesDone: number;
  parent: { version: string; lora: Float32Array };
  pass: PassState | null;
  candidate: CandidateAdapter | null;
}

const packr = new Packr({ useRecords: false });

// Float32Arrays travel as their bytes (msgpack bin) and come back as aligned copies.
const bytes = (a: Float32Array): Uint8Array => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
function floats(b: unknown, field: string): Float32Array {
  if (!(b instanceof Uint8Array) || b.byteLength % 4 !== 0) throw new Error(`${field}: not a float32 vector`);
  const copy = new Uint8Array(b.byteLength); // a Buffer's slice() would share its pool
  copy.set(b);
  return new Float32Array(copy.buffer);
}
type Vectors<T> = { [K in keyof T]: T[K] extends Float32Array ? Uint8Array : T[K] };

function toDisk(s: TrainerState): unknown {
  return {
    ...s,
    parent: { ...s.parent, lora: bytes(s.parent.lora) },
    pass: s.pass ? { ...s.pass, lora: bytes(s.pass.lora), m: bytes(s.pass.m), v: bytes(s.pass.v) } satisfies Vectors<PassState> : null,
    candidate: s.candidate ? { ...s.candidate, lora: bytes(s.candidate.lora) } : null,
  };
}

function fromDisk(d: TrainerState): TrainerState {
  return {
    ...d,
    parent: { ...d.parent, lora: floats(d.parent.lora, 'parent.lora') },
    pass: d.pass ? { ...d.pass, lora: floats(d.pass.lora, 'pass.lora'), m: floats(d.pass.m, 'pass.m'), v: floats(d.pass.v, 'pass.v') } : null,
    candidate: d.candidate ? { ...d.candidate, lora: floats(d.candidate.lora, 'candidate.lora') } : null,
  };
}

export async function loadState(dir: string): Promise<TrainerState | null> {
  const file = join(dir, STATE_FILE);
  let buf: Buffer | undefined;
  try { buf = await readFileIfExists(file); } catch (e) {
    throw new Error(`${file}: cannot read the trainer state (${(e as Error).message})`);
  }
  if (buf === undefined) return null;
  let s: TrainerState;
  try { s = packr.unpack(buf) as TrainerState; } catch (e) { throw new Error(`${file}: not a trainer state (${(e as Error).message})`); }
  if (s?.format !== FORMAT) throw new Error(`${file}: format ${String(s?.format)}, this vlad reads format ${FORMAT}`);
  try { return fromDisk(s); } catch (e) { throw new Error(`${file}: ${(e as Error).message}`); }
}

export async function saveState(dir: string, s: TrainerState): Promise<void> {
  await writeFileAtomic(join(dir, STATE_FILE), packr.pack(toDisk(s)), 0o600);
}

export function freshState(identity: string, parent: { version: string; lora: Float32Array }): TrainerState {
  return { format: FORMAT, identity, cursor: {}, passesDone: 0, parent, pass: null, candidate: null };
}

export function summarizeLosses(losses: readonly number[]): LossSummary {
  const n = losses.length;
  const curve: number[] = [];
  const parts = Math.min(10, n);
  for (let i = 0; i < parts; i++) {
    const a = Math.floor((i * n) / parts), b = Math.floor(((i + 1) * n) / parts);
    curve.push(losses.slice(a, b).reduce((s, x) => s + x, 0) / (b - a));
  }
  return { first: losses[0] ?? NaN, last: losses[n - 1] ?? NaN, min: Math.min(...losses), mean: losses.reduce((s, x) => s + x, 0) / Math.max(1, n), curve };
}
