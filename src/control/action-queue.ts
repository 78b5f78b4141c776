// Timestep-indexed action queue. Time is the loop's own: seconds since the loop's epoch, control
// step k at k * period. A chunk's action i applies at t0 + i * dt (t0 = the observation time it was
// planned from); between actions the queue interpolates linearly in time, so a chunk's dt may
// differ from the loop period. The loop only ever samples the step it is executing, so actions
// whose time has passed are never executed.
import type { ActionChunk } from '../core/index.js';

export type JoinConfig =
  | { method: 'replace' }
  /** ACT-style: w_j = exp(-decay * j), j = 0 for the oldest chunk covering the step. */
  | { method: 'ensemble'; decay?: number }
  /** Real-time chunking: the planner continues the executing trajectory; the new chunk replaces. */
  | { method: 'rtc'; maxGuidanceWeight?: number };

export type JoinMethod = JoinConfig['method'];
export const JOIN_METHODS: readonly JoinMethod[] = ['replace', 'ensemble', 'rtc'];

export interface QueuedChunk {
  readonly chunk: ActionChunk;
  /** Chunk start, seconds since the loop epoch. */
  readonly t0S: number;
  /** Time of the chunk's last action, seconds since the loop epoch. */
  readonly endS: number;
  /** First control step at which the chunk may act (the step after it arrived). */
  readonly firstStep: number;
  readonly seq: number;
}

const EPS = 1e-9;

export class ActionQueue {
  private entries: QueuedChunk[] = [];
  private seq = 0;
  private readonly decay: number;

  constructor(readonly join: JoinConfig, readonly periodS: number, readonly actionDim: number) {
    this.decay = join.method === 'ensemble' ? join.decay ?? 0.01 : 0;
  }

  get size(): number { return this.entries.length; }
  get chunks(): readonly QueuedChunk[] { return this.entries; }
  get latest(): QueuedChunk | undefined { return this.entries.at(-1); }

  /** Adds a validated chunk that arrived before control step `firstStep` executes. */
  add(chunk: ActionChunk, t0S: number, firstStep: number): QueuedChunk {
    if (chunk.actionDim !== this.actionDim) throw new Error(`chunk has ${chunk.actionDim} action dims, queue expects ${this.actionDim}`);
    const entry: QueuedChunk = { chunk, t0S, endS: t0S + (chunk.horizon - 1) * chunk.dt, firstStep, seq: ++this.seq };
    if (this.join.method === 'ensemble') this.entries.push(entry);
    else this.entries = [entry];
    return entry;
  }

  clear(): void { this.entries = []; }

  /** Drops chunks that no longer cover step `step` or anything after it. */
  prune(step: number): void {
    const t = step * this.periodS;
    if (this.entries.some((e) => e.endS < t - EPS)) this.entries = this.entries.filter((e) => e.endS >= t - EPS);
  }

  /** Interpolated action of one chunk at time tS (seconds since epoch), or false if not covered. */
  static interpolate(e: QueuedChunk, tS: number, out: Float64Array): boolean {
    const c = e.chunk;
    const u = (tS - e.t0S) / c.dt;
    if (u < -EPS || u > c.horizon - 1 + EPS) return false;
    const i = Math.min(c.horizon - 1, Math.max(0, Math.floor(u + EPS)));
    const frac = i >= c.horizon - 1 ? 0 : Math.min(1, Math.max(0, u - i));
    const A = c.actionDim, a = c.actions;
    for (let j = 0; j < A; j++) {
      const x0 = a[i * A + j]!;
      out[j] = frac === 0 ? x0 : x0 + (a[(i + 1) * A + j]! - x0) * frac;
    }
    return true;
  }

  /**
   * The joined action for control step `step` into `out`; false if no chunk covers it.
   * Chunks act only from their firstStep, never on steps that ran before they arrived.
   */
  sample(step: number, out: Float64Array): boolean {
    const t = step * this.periodS;
    if (this.join.method !== 'ensemble') {
      const e = this.entries.at(-1);
      return e !== undefined && step >= e.firstStep && ActionQueue.interpolate(e, t, out);
    }
    const tmp = new Float64Array(this.actionDim);
    out.fill(0);
    let wsum = 0, j = 0;
    for (const e of this.entries) {
      if (step < e.firstStep || !ActionQueue.interpolate(e, t, tmp)) continue;
      const w = Math.exp(-this.decay * j++);
      for (let k = 0; k < this.actionDim; k++) out[k]! += w * tmp[k]!;
      wsum += w;
    }
    if (wsum === 0) return false;
    for (let k = 0; k < this.actionDim; k++) out[k]! /= wsum;
    return true;
  }

  /** Last control step any chunk covers, or -1. */
  lastCoveredStep(): number {
    let end = Number.NEGATIVE_INFINITY;
    for (const e of this.entries) end = Math.max(end, e.endS);
    return end === Number.NEGATIVE_INFINITY ? -1 : Math.floor(end / this.periodS + EPS);
  }

  /** Steps still covered after step `step` (the remaining horizon). */
  remainingSteps(step: number): number {
    return Math.max(0, this.lastCoveredStep() - step);
  }
}
