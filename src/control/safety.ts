// The safety envelope: every command leaving the loop passes through here. Rules, in order, per
// joint: NaN/Inf guard, position limits, max per-tick step, velocity, acceleration, and a braking
// envelope that keeps the position limit reachable within the acceleration limit. A final position
// clamp always wins, so the commanded position is inside the limits on every tick.
import type { RobotDescription } from './limits.js';

export const SAFETY_RULES = ['nonfinite', 'position', 'step', 'velocity', 'acceleration'] as const;
export type SafetyRule = (typeof SAFETY_RULES)[number];

export type ClampListener = (rule: SafetyRule, joint: number) => void;

/** Joint-space command state: position and velocity of the last command. */
export interface CommandState {
  readonly positions: Float64Array;
  readonly velocities: Float64Array;
}

export class SafetyFilter {
  readonly jointCount: number;
  readonly jointNames: readonly string[];
  private readonly lo: Float64Array;
  private readonly hi: Float64Array;
  private readonly vmax: Float64Array;
  private readonly amax: Float64Array;
  private readonly estop: Float64Array;
  private readonly maxStep: Float64Array;
  private q: Float64Array;
  private v: Float64Array;
  private initialized = false;
  /** clamps[rule][joint]: how many ticks each rule changed each joint's command. */
  readonly clamps: Record<SafetyRule, number[]>;
  private listener: ClampListener | undefined;

  constructor(robot: RobotDescription, readonly dtS: number) {
    if (!(dtS > 0)) throw new Error(`safety filter: control period must be > 0 (got ${dtS})`);
    const n = robot.joints.length;
    this.jointCount = n;
    this.jointNames = robot.joints.map((j) => j.name);
    const col = (f: (j: RobotDescription['joints'][number]) => number) => Float64Array.from(robot.joints, f);
    this.lo = col((j) => j.position.min);
    this.hi = col((j) => j.position.max);
    this.vmax = col((j) => j.velocity);
    this.amax = col((j) => j.acceleration);
    this.estop = col((j) => j.emergency_deceleration ?? j.acceleration);
    this.maxStep = col((j) => j.max_step ?? Number.POSITIVE_INFINITY);
    this.q = new Float64Array(n);
    this.v = new Float64Array(n);
    this.clamps = Object.fromEntries(SAFETY_RULES.map((r) => [r, new Array<number>(n).fill(0)])) as Record<SafetyRule, number[]>;
  }

  onClamp(listener: ClampListener | undefined): void { this.listener = listener; }

  get ready(): boolean { return this.initialized; }
  get state(): CommandState { return { positions: this.q, velocities: this.v }; }

  /** Starts from the measured position (at rest). Non-finite measurements are refused. */
  reset(positions: ArrayLike<number>, velocities?: ArrayLike<number>): void {
    if (positions.length !== this.jointCount) throw new Error(`safety filter: state has ${positions.length} joints, robot has ${this.jointCount}`);
    for (let j = 0; j < this.jointCount; j++) {
      const p = positions[j]!;
      if (!Number.isFinite(p)) throw new Error(`safety filter: measured position of ${this.jointNames[j]} is ${p}`);
      this.q[j] = p;
      const v = velocities?.[j] ?? 0;
      this.v[j] = Number.isFinite(v) ? Math.max(-this.vmax[j]!, Math.min(this.vmax[j]!, v)) : 0;
    }
    this.initialized = true;
  }

  /** Forgets the command state: the next reset() (from a new measurement) starts it again. */
  unset(): void { this.initialized = false; }

  /** A copy of the filter's state, for look-ahead (trajectory mode) without touching counters. */
  fork(): SafetyFilter {
    const f = Object.create(SafetyFilter.prototype) as SafetyFilter;
    Object.assign(f, this);
    (f as unknown as { q: Float64Array }).q = Float64Array.from(this.q);
    (f as unknown as { v: Float64Array }).v = Float64Array.from(this.v);
    (f as unknown as { clamps: Record<SafetyRule, number[]> }).clamps = Object.fromEntries(SAFETY_RULES.map((r) => [r, new Array<number>(this.jointCount).fill(0)])) as Record<SafetyRule, number[]>;
    (f as unknown as { listener: undefined }).listener = undefined;
    return f;
  }

  private count(rule: SafetyRule, j: number): void {
    this.clamps[rule][j]!++;
    this.listener?.(rule, j);
  }

  /** Largest speed toward a limit `dist` away from which a stop at `a` is still possible. */
  private brakingSpeed(dist: number, a: number): number {
    if (dist <= 0) return 0;
    const adt = a * this.dtS;
    return -adt + Math.sqrt(adt * adt + 2 * a * dist);
  }

  /** Filters the desired positions of one tick; returns (and keeps) the command. */
  filter(desired: ArrayLike<number>): CommandState {
    if (!this.initialized) throw new Error('safety filter: reset() with the measured state first');
    if (desired.length !== this.jointCount) throw new Error(`safety filter: command has ${desired.length} joints, robot has ${this.jointCount}`);
    const dt = this.dtS;
    for (let j = 0; j < this.jointCount; j++) {
      const qPrev = this.q[j]!, vPrev = this.v[j]!;
      // Out-of-limit start (measured outside): never move further out, never jump in.
      const lo = Math.min(this.lo[j]!, qPrev), hi = Math.max(this.hi[j]!, qPrev);
      let x = desired[j]!;
      // A bad value asks to stay put; the acceleration rule turns that into a smooth stop.
      if (!Number.isFinite(x)) { this.count('nonfinite', j); x = qPrev; }
      if (x < lo || x > hi) { this.count('position', j); x = Math.min(hi, Math.max(lo, x)); }
      let dx = x - qPrev;
      const ms = this.maxStep[j]!;
      if (Math.abs(dx) > ms) { this.count('step', j); dx = Math.sign(dx) * ms; }
      let v = dx / dt;
      const vm = this.vmax[j]!;
      if (Math.abs(v) > vm) { this.count('velocity', j); v = Math.sign(v) * vm; }
      const a = this.amax[j]!;
      const vLo = vPrev - a * dt, vHi = vPrev + a * dt;
      if (v < vLo - 1e-12 || v > vHi + 1e-12) { this.count('acceleration', j); v = Math.min(vHi, Math.max(vLo, v)); }
      // The position rule acting ahead: slow down early enough to stop at the limit.
      const vUp = this.brakingSpeed(hi - qPrev, a), vDown = this.brakingSpeed(qPrev - lo, a);
      if (v > vUp + 1e-12 || v < -vDown - 1e-12) { this.count('position', j); v = Math.min(vUp, Math.max(-vDown, v)); }
      let q = qPrev + v * dt;
      if (q > hi) q = hi;
      else if (q < lo) q = lo;
      this.q[j] = q;
      this.v[j] = (q - qPrev) / dt;
    }
    return this.state;
  }

  /** Decelerates toward rest (watchdog hold, hard stop); never jumps. Returns true once at rest. */
  brake(kind: 'hold' | 'emergency'): boolean {
    if (!this.initialized) throw new Error('safety filter: reset() with the measured state first');
    const dt = this.dtS;
    let still = true;
    for (let j = 0; j < this.jointCount; j++) {
      const qPrev = this.q[j]!, vPrev = this.v[j]!;
      const decel = kind === 'emergency' ? this.estop[j]! : this.amax[j]!;
      const speed = Math.max(0, Math.abs(vPrev) - decel * dt);
      let q = qPrev + Math.sign(vPrev) * speed * dt;
      const lo = Math.min(this.lo[j]!, qPrev), hi = Math.max(this.hi[j]!, qPrev);
      q = Math.min(hi, Math.max(lo, q));
      this.q[j] = q;
      this.v[j] = (q - qPrev) / dt;
      if (this.v[j] !== 0) still = false;
    }
    return still;
  }

  totalClamps(): number {
    let n = 0;
    for (const r of SAFETY_RULES) for (const c of this.clamps[r]) n += c;
    return n;
  }
}
