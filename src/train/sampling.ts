// Weighted sampling of windows, and the flow-matching noise and t of each batch. Every draw is a
// function of (seed, pass, step): the RNG state that must survive a crash is the step counter,
// and a resumed pass draws exactly the batches it would have drawn (as train.py does).
import { xoroshiro128plus } from 'pure-rand/generator/xoroshiro128plus';
import { uniformFloat64 } from 'pure-rand/distribution/uniformFloat64';
import { chunkNoiseSeed, gaussianNoise } from '../policy/index.js';

/** One weighted pool: cumulative weights over its windows. */
export class WeightedPool<T> {
  private readonly cumulative: Float64Array;
  constructor(readonly items: readonly T[], weightOf: (item: T) => number) {
    this.cumulative = new Float64Array(items.length);
    let sum = 0;
    items.forEach((it, i) => { sum += weightOf(it); this.cumulative[i] = sum; });
  }
  get total(): number { return this.cumulative.length ? this.cumulative[this.cumulative.length - 1]! : 0; }
  get size(): number { return this.items.length; }
  /** The item whose weight interval holds u * total (u in [0, 1)). */
  pick(u: number): T {
    const x = u * this.total;
    let lo = 0, hi = this.cumulative.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.cumulative[mid]! > x) hi = mid; else lo = mid + 1;
    }
    return this.items[lo]!;
  }
}

/** The seed of one stream of draws at (pass, step). */
export function drawSeed(seed: number, pass: number, step: number, stream: number): number {
  return chunkNoiseSeed(chunkNoiseSeed(chunkNoiseSeed(seed, pass), step), stream);
}

/** A uniform [0, 1) source over xoroshiro128+. */
export function uniforms(seed: number): () => number {
  // Hashed first: xoroshiro128+'s first outputs from small, close seeds are far from uniform.
  const rng = xoroshiro128plus(chunkNoiseSeed(seed, 0x5eed));
  return () => uniformFloat64(rng);
}

/** pi0's time distribution as the toolchain draws it (train.py `flow_t`): Beta(1.5, 1) by its inverse CDF, in [0.001, 0.999]. */
export function flowT(u: number): number {
  return 0.001 + 0.998 * Math.pow(u, 1 / 1.5);
}

export interface BatchDraw<T> { windows: T[]; noise: Float32Array; t: Float32Array; replayed: number }

/**
 * Draws a batch: each sample from `replay` with probability `replayFraction` (when it has
 * windows), else from `fresh`; within a pool by weight. Noise N(0, 1), t ~ flowT.
 */
export function drawBatch<T>(fresh: WeightedPool<T>, replay: WeightedPool<T>, replayFraction: number, batch: number, chunkValues: number, seed: number): BatchDraw<T> {
  const u = uniforms(seed);
  const windows: T[] = [];
  const t = new Float32Array(batch);
  let replayed = 0;
  for (let b = 0; b < batch; b++) {
    const fromReplay = replay.total > 0 && (fresh.total === 0 || u() < replayFraction);
    windows.push((fromReplay ? replay : fresh).pick(u()));
    if (fromReplay) replayed++;
    t[b] = flowT(u());
  }
  return { windows, noise: gaussianNoise(chunkNoiseSeed(seed, 1), batch * chunkValues), t, replayed };
}
