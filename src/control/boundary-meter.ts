// Chunk-boundary smoothness of the joined plan, measured from the loop's tap (bench delay and the
// joining tests): how far the command moves at the tick a new chunk takes effect, against its
// ordinary step inside chunks.
import { ActionQueue, type QueuedChunk } from './action-queue.js';
import type { TickRecord } from './loop.js';

/**
 * Chunk-boundary smoothness of the joined plan (before the safety filter), L2 over joints.
 * jump: the step the command takes at the tick a new chunk takes effect. seam: how far that
 * command is from where the previous plan was going at the same tick (0 when chunks agree); it
 * separates the join from the chunk's own roughness (a random-weight model's chunks are noise).
 */
export class BoundaryMeter {
  private prev = new Float64Array(0);
  private oldPlan = new Float64Array(0);
  private havePrev = false;
  private prevSeq = 0;
  private prevLatest: QueuedChunk | undefined;
  boundaryJumps: number[] = [];
  seams: number[] = [];
  private inChunkSum = 0;
  private inChunkN = 0;

  constructor(private readonly queue?: () => ActionQueue, private readonly periodS = 0) {}

  readonly tap = (r: TickRecord): void => {
    const d = r.planned;
    const latest = this.queue?.().latest;
    if (!d) { this.havePrev = false; this.prevSeq = r.chunkSeq; this.prevLatest = latest; return; }
    if (this.prev.length !== d.length) { this.prev = new Float64Array(d.length); this.oldPlan = new Float64Array(d.length); }
    if (this.havePrev) {
      let s = 0;
      for (let j = 0; j < d.length; j++) { const x = d[j]! - this.prev[j]!; s += x * x; }
      const step = Math.sqrt(s);
      if (r.chunkSeq !== this.prevSeq) {
        this.boundaryJumps.push(step);
        if (this.prevLatest && ActionQueue.interpolate(this.prevLatest, r.step * this.periodS, this.oldPlan)) {
          let e = 0;
          for (let j = 0; j < d.length; j++) { const x = d[j]! - this.oldPlan[j]!; e += x * x; }
          this.seams.push(Math.sqrt(e));
        }
      } else { this.inChunkSum += step; this.inChunkN++; }
    }
    this.prev.set(d);
    this.havePrev = true;
    this.prevSeq = r.chunkSeq;
    this.prevLatest = latest;
  };

  get meanInChunkStep(): number { return this.inChunkN ? this.inChunkSum / this.inChunkN : 0; }
  get maxBoundaryJump(): number { return this.boundaryJumps.reduce((a, b) => Math.max(a, b), 0); }
  get maxSeam(): number { return this.seams.reduce((a, b) => Math.max(a, b), 0); }
  /** Largest boundary jump over the mean step inside chunks (about 1 = no visible seam). */
  get ratio(): number { return this.meanInChunkStep > 0 ? this.maxBoundaryJump / this.meanInChunkStep : 0; }
  get seamRatio(): number { return this.meanInChunkStep > 0 ? this.maxSeam / this.meanInChunkStep : 0; }
  /** Every boundary jump over the mean step inside chunks (the distribution behind `ratio`). */
  get boundaryRatios(): number[] { const m = this.meanInChunkStep; return m > 0 ? this.boundaryJumps.map((j) => j / m) : []; }
}
