// The simulated arm's JointTrajectoryController (ros2_control semantics, reduced to what the
// control loop sends): a trajectory is time-parameterized points with positions and velocities
// relative to its start stamp; between points the reference is the cubic Hermite spline through
// both (JTC's interpolation when velocities are given), from the start stamp to the first point it
// runs from the reference held at the switch, and after the last point it holds that point. A new
// trajectory replaces the active one from its own start stamp on (until then the old one runs).
// Everything is preallocated: the sim thread samples this every physics tick.

export interface TrajectoryBuffer {
  stampNs: number;
  count: number;
  /** [count] seconds after stampNs, strictly increasing. */
  readonly times: Float64Array;
  /** [count][dim] */
  readonly positions: Float64Array;
  readonly velocities: Float64Array;
}

export function trajectoryBuffer(capacity: number, dim: number): TrajectoryBuffer {
  return { stampNs: 0, count: 0, times: new Float64Array(capacity), positions: new Float64Array(capacity * dim), velocities: new Float64Array(capacity * dim) };
}

export class JtcSampler {
  /** The reference last sampled (what goes to the position controller) and its velocity. */
  readonly reference: Float64Array;
  readonly referenceVelocity: Float64Array;
  private active: TrajectoryBuffer;
  private pending: TrajectoryBuffer;
  private hasActive = false;
  private hasPending = false;
  /** Reference and velocity at the active trajectory's start (its implicit first point). */
  private readonly startQ: Float64Array;
  private readonly startV: Float64Array;
  private cursor = 0;

  constructor(readonly dim: number, capacity: number) {
    this.active = trajectoryBuffer(capacity, dim);
    this.pending = trajectoryBuffer(capacity, dim);
    this.reference = new Float64Array(dim);
    this.referenceVelocity = new Float64Array(dim);
    this.startQ = new Float64Array(dim);
    this.startV = new Float64Array(dim);
  }

  get capacity(): number { return this.active.times.length; }
  get running(): boolean { return this.hasActive; }

  /** The buffer to fill with a new trajectory; commit() with it afterwards. */
  get incoming(): TrajectoryBuffer { return this.pending; }

  /** Queues the filled `incoming` buffer; it takes over at its stamp. */
  commit(): void { this.hasPending = this.pending.count > 0; }

  /** Drops any trajectory (a forward command took over); the reference stays where it is. */
  reset(q: ArrayLike<number>): void {
    this.hasActive = false;
    this.hasPending = false;
    for (let j = 0; j < this.dim; j++) { this.reference[j] = q[j]!; this.referenceVelocity[j] = 0; }
  }

  /** Samples the reference at `nowNs`; false while no trajectory has started. */
  sample(nowNs: number): boolean {
    if (this.hasPending && nowNs >= this.pending.stampNs) {
      // The new trajectory starts from wherever the old one's reference is now.
      if (this.hasActive) this.evaluate(nowNs);
      this.startQ.set(this.reference);
      this.startV.set(this.referenceVelocity);
      const t = this.active;
      this.active = this.pending;
      this.pending = t;
      this.hasPending = false;
      this.hasActive = true;
      this.cursor = 0;
    }
    if (!this.hasActive) return false;
    this.evaluate(nowNs);
    return true;
  }

  private evaluate(nowNs: number): void {
    const tr = this.active;
    const n = tr.count;
    const d = this.dim;
    const tau = (nowNs - tr.stampNs) / 1e9;
    if (tau >= tr.times[n - 1]!) {
      for (let j = 0; j < d; j++) { this.reference[j] = tr.positions[(n - 1) * d + j]!; this.referenceVelocity[j] = 0; }
      return;
    }
    while (this.cursor < n && tr.times[this.cursor]! <= tau) this.cursor++;
    // Segment from point cursor-1 (or the start state at tau = 0) to point cursor.
    const i = this.cursor;
    const t0 = i === 0 ? 0 : tr.times[i - 1]!;
    const h = tr.times[i]! - t0;
    const s = h > 0 ? Math.max(0, (tau - t0) / h) : 1;
    const s2 = s * s, s3 = s2 * s;
    const h00 = 2 * s3 - 3 * s2 + 1, h10 = s3 - 2 * s2 + s, h01 = -2 * s3 + 3 * s2, h11 = s3 - s2;
    const d00 = (6 * s2 - 6 * s) / h, d10 = 3 * s2 - 4 * s + 1, d01 = (-6 * s2 + 6 * s) / h, d11 = 3 * s2 - 2 * s;
    for (let j = 0; j < d; j++) {
      const p0 = i === 0 ? this.startQ[j]! : tr.positions[(i - 1) * d + j]!;
      const v0 = i === 0 ? this.startV[j]! : tr.velocities[(i - 1) * d + j]!;
      const p1 = tr.positions[i * d + j]!;
      const v1 = tr.velocities[i * d + j]!;
      this.reference[j] = h00 * p0 + h10 * h * v0 + h01 * p1 + h11 * h * v1;
      this.referenceVelocity[j] = d00 * p0 + d10 * v0 + d01 * p1 + d11 * v1;
    }
  }
}
