// What is learnt from: per recorded step, the weight of a training window starting there (its
// targets are the H recorded actions from that step on). Pure functions of the step labels.
//
// - `intervention` and `teleop` steps: the operator's own actions, weighted up (kept also in
//   failed episodes: a correction is a label whatever the outcome).
// - `policy` steps: kept (weight `policy`) in successful episodes, except those within
//   `pre_takeover_s` before an operator takeover (what the operator had to correct); never in
//   failed or truncated episodes.
// - `hold` and `perturbation` steps are never a window start.
// - Targets: a window whose targets contain a perturbation is excluded, as the toolchain trains
//   only where no chunk contains a perturbed action (rlds_data.py `first_clean`). Targets that
//   run into a hold are cut there and padded by repeating the last action before it, as the
//   toolchain pads at an episode's end (the arm holds).
import type { ControlMode } from '../core/index.js';
import type { TrainingConfig } from './config.js';

export interface StepLabels {
  modes: readonly ControlMode[];
  /** Capture time of each step, seconds (any origin). */
  stampsS: ArrayLike<number>;
  success: boolean;
}

/** Exclusive end of the recorded targets of a window at `t` (the rest is padding), or -1: excluded. */
export function targetEnd(modes: readonly ControlMode[], t: number, horizon: number): number {
  const last = Math.min(t + horizon, modes.length);
  for (let k = t + 1; k < last; k++) {
    if (modes[k] === 'perturbation') return -1;
    if (modes[k] === 'hold') return k;
  }
  return last;
}

/** Steps at which the operator takes over from the policy (the first intervention step after policy or hold). */
export function takeovers(modes: readonly ControlMode[]): number[] {
  const out: number[] = [];
  for (let i = 1; i < modes.length; i++) if (modes[i] === 'intervention' && modes[i - 1] !== 'intervention') out.push(i);
  return out;
}

/** Sampling weight of a window at each step (0: not learnt from). */
export function windowWeights(ep: StepLabels, cfg: Pick<TrainingConfig, 'weights' | 'pre_takeover_s' | 'window_stride'>, horizon: number): Float32Array {
  const n = ep.modes.length;
  const w = new Float32Array(n);
  const corrected = new Uint8Array(n);
  for (const k of takeovers(ep.modes)) {
    const until = ep.stampsS[k]! - cfg.pre_takeover_s;
    for (let j = k - 1; j >= 0 && ep.stampsS[j]! >= until; j--) corrected[j] = 1;
  }
  for (let t = 0; t < n; t += cfg.window_stride) {
    const mode = ep.modes[t]!;
    let weight = 0;
    if (mode === 'intervention' || mode === 'teleop') weight = cfg.weights[mode];
    else if (mode === 'policy' && ep.success && !corrected[t]) weight = cfg.weights.policy;
    if (weight > 0 && targetEnd(ep.modes, t, horizon) > t) w[t] = weight;
  }
  return w;
}

/**
 * The normalized target chunk of a window: `actions` rows t..end, then the last of them repeated
 * up to `horizon` rows. `actions` is row-major [T][dim]; writes into `out` at `offset`.
 */
export function targetChunk(actions: Float32Array, dim: number, t: number, end: number, horizon: number, out: Float32Array, offset = 0): void {
  for (let h = 0; h < horizon; h++) {
    const row = Math.min(t + h, end - 1);
    out.set(actions.subarray(row * dim, row * dim + dim), offset + h * dim);
  }
}

/** Counts of window starts with weight > 0 by control mode. */
export function countByMode(modes: readonly ControlMode[], weights: Float32Array): Partial<Record<ControlMode, number>> {
  const out: Partial<Record<ControlMode, number>> = {};
  weights.forEach((w, t) => { if (w > 0) out[modes[t]!] = (out[modes[t]!] ?? 0) + 1; });
  return out;
}
