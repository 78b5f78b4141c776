// Recorded episodes as the trainer sees them: per step who commanded it, when, and the action
// normalized exactly as the model was trained (the bundle's norm stats, rlds_data.py `normalize`).
// Images stay on disk: they are read again only to compute (and cache) prefix outputs.
import { basename } from 'node:path';
import type { ControlMode } from '../core/index.js';
import { CONTROL_MODES, openDataset, type Dataset, type EncodedImage, type Episode, type Tensor } from '../rlds/index.js';
import type { Normalizer } from '../policy/index.js';
import type { TrainingConfig } from './config.js';
import { windowWeights } from './windows.js';

/** Where an episode lives: its dataset folder and its index there; with its id, to notice a changed dataset. */
export interface EpisodeKey { dataset: string; index: number; episodeId: string; numSteps: number }

export interface TrainingEpisode extends EpisodeKey {
  success: boolean;
  heldOut: boolean;
  modes: ControlMode[];
  /** Normalized actions, row-major [T][A]. */
  actions: Float32Array;
  /** Window weight per step (windows.ts). */
  weights: Float32Array;
  /** Whether any step is an operator intervention. */
  hasIntervention: boolean;
}

export class TrainingDataError extends Error {}

const str = (t: Tensor | EncodedImage[], where: string): string[] => {
  if (Array.isArray(t) || t.dtype !== 'string') throw new TrainingDataError(`${where}: expected a text feature`);
  return t.data as string[];
};
const floats = (t: Tensor | EncodedImage[], dim: number, where: string): Float32Array => {
  if (Array.isArray(t) || !(t.data instanceof Float32Array) || t.shape[1] !== dim) throw new TrainingDataError(`${where}: expected float32 [T, ${dim}], got ${Array.isArray(t) ? 'images' : `${t.dtype} [${t.shape.join(', ')}]`}`);
  return t.data;
};

export interface EpisodeReadOptions { actionNorm: Normalizer; actionDim: number; horizon: number; controlDt: number; config: TrainingConfig }

/** Labels of one recorded episode; bad recordings throw a TrainingDataError naming the episode and field. */
export function trainingEpisode(ep: Episode, key: Omit<EpisodeKey, 'episodeId' | 'numSteps'>, o: EpisodeReadOptions): TrainingEpisode {
  const md = (ep.metadata().episode_metadata ?? {}) as Record<string, unknown>;
  const episodeId = String(md.episode_id ?? '');
  const where = `${key.dataset} episode ${key.index} (${episodeId || 'no id'})`;
  const modes = str(ep.column('provenance/control_mode'), `${where}: steps/provenance/control_mode`);
  modes.forEach((m, t) => { if (!CONTROL_MODES.includes(m as ControlMode)) throw new TrainingDataError(`${where}: step ${t}: control_mode '${m}' is not one of ${CONTROL_MODES.join(', ')}`); });
  const stamps = ep.column('provenance/timestamp_ns') as Tensor;
  const stampsS = Float64Array.from(stamps.data as BigInt64Array, (v) => Number(v) / 1e9);
  // The model's chunk rows are control_dt apart: a recording at another rate would teach the wrong speed.
  if (stampsS.length > 2) {
    const dt = (stampsS[stampsS.length - 1]! - stampsS[0]!) / (stampsS.length - 1);
    if (Math.abs(dt - o.controlDt) > 0.1 * o.controlDt) throw new TrainingDataError(`${where}: recorded at ${(1 / dt).toFixed(1)} Hz, the bundle's chunks are ${(1 / o.controlDt).toFixed(1)} Hz (control_dt ${o.controlDt})`);
  }
  const raw = floats(ep.column('action'), o.actionDim, `${where}: steps/action`);
  const success = md.success === true && md.truncated !== true;
  const dropped = Number(md.dropped_steps ?? 0);
  const labels = { modes: modes as ControlMode[], stampsS, success };
  // An episode with dropped steps has gaps: its chunks would skip time (the toolchain skips it too).
  const weights = dropped > 0 ? new Float32Array(ep.numSteps) : windowWeights(labels, o.config, o.horizon);
  const heldOut = o.config.holdout_every > 0 && key.index % o.config.holdout_every === o.config.holdout_every - 1;
  return {
    ...key, episodeId, numSteps: ep.numSteps, success, heldOut, modes: labels.modes,
    actions: o.actionNorm.normalize(raw), weights, hasIntervention: modes.includes('intervention'),
  };
}

export async function openTrainingDataset(datasetDir: string): Promise<Dataset> {
  try {
    return await openDataset(datasetDir, { includeOpenShard: true });
  } catch (e) {
    throw new TrainingDataError(`${datasetDir}: cannot read it as a dataset (${(e as Error).message})`);
  }
}

/** The recorded episode behind a key, checked to be the one the key names. */
export async function recordedEpisode(ds: Dataset, key: EpisodeKey): Promise<Episode> {
  const ep = await ds.episode(key.index);
  const id = String(((ep.metadata().episode_metadata ?? {}) as Record<string, unknown>).episode_id ?? '');
  if (id !== key.episodeId || ep.numSteps !== key.numSteps) throw new TrainingDataError(`${basename(key.dataset)} episode ${key.index}: is now ${id} (${ep.numSteps} steps), was ${key.episodeId} (${key.numSteps} steps): the dataset changed under the trainer`);
  return ep;
}

/** The prefix inputs of step t: the cameras' images packed in the given order, the raw state, the instruction. */
export interface PrefixInput { images: Uint8Array; state: Float32Array; instruction: string }

export async function prefixInput(ep: Episode, t: number, cameras: readonly string[], stateDim: number): Promise<PrefixInput> {
  const decoded = await Promise.all(cameras.map((c) => (ep.column(`observation/${c}`) as EncodedImage[])[t]!.decode()));
  const images = new Uint8Array(decoded.reduce((n, d) => n + d.data.length, 0));
  let off = 0;
  for (const d of decoded) { images.set(d.data, off); off += d.data.length; }
  const state = floats(ep.column('observation/state'), stateDim, 'steps/observation/state');
  const text = str(ep.column('language_instruction'), 'steps/language_instruction');
  return { images, state: state.slice(t * stateDim, (t + 1) * stateDim), instruction: text[t]! };
}
