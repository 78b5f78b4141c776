// The scripted operator. It sees the privileged physics state (object poses) that a policy never
// gets, plans top-down tool motions segment by segment, and emits one joint-target command per
// control tick, like a person on a leader arm. Variation comes from the seed: speed, hover
// heights, approach offsets, grasp depth, wrist angle, pauses, a slight tremor, and retries.
//
// Recovery data (missRate > 0): some episodes start with a deliberate miss, a grasp 3-4.5 cm off
// the object's centre, the size of a trained policy's typical error. The operator then does what
// a person would: opens, rises and grasps again. The miss is flagged (`perturbing`) so it is
// recorded as a perturbation: learners train on the recovery, never on the error itself.
// Edge misses (edgeMissRate > 0) are the policy's other error: the fingers close 2.6-3.6 cm off
// centre along the pads, so the pads catch only the cube's edge and it slips out on the lift.
// (Offsets across the pads do not need teaching: the closing fingers centre the cube.)
import { Rng } from './rng.js';
import { solveTopDownIk, forwardGraspPoint } from './kinematics.js';
import { GRIPPER_LIMITS, JOINT_LIMITS } from './scene.js';
import type { SimWorld } from './world.js';
import type { TaskInstance } from './tasks.js';

interface Pose { x: number; y: number; z: number; roll: number; grip: number }
interface Segment { to: Pose; seconds: number; perturbed?: boolean }
type Step = () => Segment | undefined;
/** A grasp attempt's deliberate error: none, beside the object, or on its edge. */
type Miss = 'none' | 'beside' | 'edge';
/** An episode's one deliberate error (recovery data): a grasp miss, or a place's release short of the pad. */
type DeliberateError = Miss | 'short-release';

export interface ExpertOptions {
  /** Probability (0-1) that a pick or place starts with a deliberate miss and a retry. */
  missRate?: number;
  /** Probability (0-1) that a place without a grasp miss lets the cube go short of the pad, then picks it up again and places it. */
  releaseMissRate?: number;
  /** Probability (0-1) that a pick or place (without another deliberate error) starts with a grasp on the cube's edge, which slips, and a retry. */
  edgeMissRate?: number;
}

/** Deliberate misses land this far (m) from the object's centre: beside it, not on it. */
const MISS_RADIUS = [0.03, 0.045] as const;
/** Deliberately short releases land this far (m) from the pad's centre: off the pad (half-size 5 cm). */
const RELEASE_MISS_RADIUS = [0.075, 0.095] as const;
/** Edge grasps sit this far (m) off centre along the finger pads (half-width 1.4 cm): they overlap the cube (half-size 2 cm) by 0.4-1.4 cm. */
const EDGE_MISS_OFFSET = [0.026, 0.036] as const;

const minJerk = (t: number): number => t * t * t * (10 - 15 * t + 6 * t * t);
const wrapQuarter = (a: number): number => {
  // Square objects repeat every pi/2: pick the wrist roll in [-pi/4, pi/4).
  const q = Math.PI / 2;
  return ((((a + q / 2) % q) + q) % q) - q / 2;
};

export class ScriptedExpert {
  private readonly rng: Rng;
  private readonly speed: number;
  private readonly tremor: { amp: number; f1: number; f2: number; p1: number; p2: number };
  private current: Pose;
  private segStart: Pose;
  private segment: Segment | undefined;
  private segTicks = 0;
  private segTick = 0;
  private readonly plan: Step[] = [];
  private tick = 0;
  /** Attempts (grasps, placements) repeated after a failed one. */
  retries = 0;
  /** The episode's deliberate error, if any: learners train from its recovery on. */
  readonly error: DeliberateError;
  done = false;

  constructor(private readonly world: SimWorld, private readonly inst: TaskInstance, seed: number, opts: ExpertOptions = {}) {
    const missRate = opts.missRate ?? 0, releaseMissRate = opts.releaseMissRate ?? 0, edgeMissRate = opts.edgeMissRate ?? 0;
    for (const [k, v] of [['missRate', missRate], ['releaseMissRate', releaseMissRate], ['edgeMissRate', edgeMissRate]] as const) {
      if (!(v >= 0 && v <= 1)) throw new RangeError(`ScriptedExpert: ${k} ${v} is not in [0, 1]`);
    }
    this.rng = new Rng(seed);
    this.speed = this.rng.uniform(0.8, 1.3);
    this.tremor = { amp: this.rng.uniform(0, 0.0015), f1: this.rng.uniform(0.5, 1.5), f2: this.rng.uniform(2, 4), p1: this.rng.uniform(0, 6.28), p2: this.rng.uniform(0, 6.28) };
    const q = Array.from(world.currentTarget());
    const [x, y, z] = forwardGraspPoint(q);
    this.current = { x, y, z, roll: q[5]!, grip: q[6]! };
    this.segStart = { ...this.current };
    // drawn only when asked for and in this order, so rates of 0 replay the operator streams of
    // older datasets; one deliberate error per episode
    this.error = missRate > 0 && inst.task !== 'touch' && this.rng.next() < missRate ? 'beside'
      : releaseMissRate > 0 && inst.task === 'place' && this.rng.next() < releaseMissRate ? 'short-release'
        : edgeMissRate > 0 && inst.task !== 'touch' && this.rng.next() < edgeMissRate ? 'edge' : 'none';
    this.buildPlan();
  }

  /** True while the command comes from a deliberate error (record it as a perturbation). */
  get perturbing(): boolean { return !this.done && this.segment?.perturbed === true; }

  private get dt(): number { return this.world.controlDt; }
  private seconds(base: number, jitter = 0.2): number { return (base * this.rng.uniform(1 - jitter, 1 + jitter)) / this.speed; }
  private travelSeconds(to: { x: number; y: number; z: number }): number {
    const d = Math.hypot(to.x - this.current.x, to.y - this.current.y, to.z - this.current.z);
    return Math.max(0.4, d / (this.rng.uniform(0.22, 0.35) * this.speed));
  }

  /** Wrist roll that aligns the fingers with a face of the cube (plus a little human slop). */
  private graspRoll(body: string, x: number, y: number): number {
    const q1 = Math.atan2(y, x);
    return wrapQuarter(q1 - this.world.bodyYaw(body)) + this.rng.normal(0, 0.04);
  }

  private hold(seconds: number): () => Segment { return () => ({ to: { ...this.current }, seconds }); }

  private buildPlan(): void {
    const { task, target } = this.inst;
    const open = this.rng.uniform(0.066, GRIPPER_LIMITS[1]);
    const hover = this.rng.uniform(0.09, 0.14);
    const settle = this.rng.uniform(0.1, 0.25); // drawn here for every task: keeps seeds' streams stable
    const jitter = (s: number): number => this.rng.uniform(-s, s);
    const approach = (grip: number, offset: number, aim: [number, number] = [0, 0]): Step => () => {
      const [bx, by] = this.world.bodyPos(target);
      const x = bx + aim[0] + jitter(offset), y = by + aim[1] + jitter(offset);
      const roll = task === 'touch' ? this.current.roll + jitter(0.3) : this.graspRoll(target, x, y);
      const to = { x, y, z: hover, roll, grip };
      return { to, seconds: this.travelSeconds(to) };
    };
    const recenter = (aim: [number, number] | (() => [number, number]) = [0, 0]): Step => () => {
      const [bx, by] = this.world.bodyPos(target);
      const [ax, ay] = typeof aim === 'function' ? aim() : aim;
      const to = { ...this.current, x: bx + ax + jitter(0.003), y: by + ay + jitter(0.003) };
      // an edge aim was measured along the pads at this roll: re-rolling could turn the hand a quarter turn
      if (task !== 'touch' && typeof aim !== 'function') to.roll = this.graspRoll(target, to.x, to.y);
      return { to, seconds: this.seconds(0.35) };
    };
    const maybePause: Step = () => (this.rng.next() < 0.4 ? { to: { ...this.current }, seconds: this.rng.uniform(0.1, 0.5) } : undefined);
    const perturbed = (steps: Step[]): Step[] => steps.map((f) => () => {
      const s = f();
      return s && { ...s, perturbed: true };
    });
    /** Approach, centre, descend, close, settle, and the lift that follows; a `miss` aims beside the object, an `edge` miss onto its edge. */
    const graspAndLift = (miss: Miss, lift: Step): Step[] => {
      const aim: [number, number] = [0, 0];
      if (miss === 'beside') {
        const a = this.rng.uniform(0, 2 * Math.PI), r = this.rng.uniform(MISS_RADIUS[0], MISS_RADIUS[1]);
        aim[0] = r * Math.cos(a);
        aim[1] = r * Math.sin(a);
      }
      // along the pads as the hand hovers, rolled to the cube: known only once it is there
      const edgeAim = (): [number, number] => {
        const r = this.rng.uniform(EDGE_MISS_OFFSET[0], EDGE_MISS_OFFSET[1]) * (this.rng.next() < 0.5 ? -1 : 1);
        const [px, py] = this.world.padAxis();
        return [r * px, r * py];
      };
      const steps: Step[] = [
        approach(open, 0.02, aim),
        maybePause,
        recenter(miss === 'edge' ? edgeAim : aim),
        () => ({ to: { ...this.current, z: this.rng.uniform(0.019, 0.026) }, seconds: this.seconds(0.7) }),
        () => ({ to: { ...this.current, grip: 0 }, seconds: this.seconds(0.35) }),
        this.hold(settle),
        lift,
      ];
      return miss !== 'none' ? perturbed(steps) : steps;
    };
    /** A grasp attempt, then a check; a failed attempt is retried (up to twice) cleanly. */
    const openAndRise: Step = () => ({ to: { ...this.current, grip: GRIPPER_LIMITS[1], z: this.current.z + 0.03 }, seconds: this.seconds(0.4) });
    const attempt = (miss: Miss, lift: Step, held: () => boolean): Step[] =>
      [...graspAndLift(miss, lift), () => this.retryUnless(held, () => attempt('none', lift, held), openAndRise)];
    const firstMiss: Miss = this.error === 'short-release' ? 'none' : this.error;
    const cubeHeld = (): boolean => this.world.bodyPos(target)[2] > this.inst.sizes.cubeHalf + 0.04 && this.world.gripperTouches(target);
    switch (task) {
      case 'pick': {
        const lift: Step = () => ({ to: { ...this.current, x: this.current.x + jitter(0.02), y: this.current.y + jitter(0.02), z: this.rng.uniform(0.14, 0.2) }, seconds: this.seconds(0.9) });
        this.plan.push(...attempt(firstMiss, lift, () => this.world.success()), this.hold(2));
        break;
      }
      case 'place': {
        const goal = this.inst.goal!;
        const lift: Step = () => ({ to: { ...this.current, z: this.rng.uniform(0.1, 0.14) }, seconds: this.seconds(0.6) });
        /** Carry, lower, let go and rise; `short` lets go off the pad, between it and where the cube came from. */
        const placeOnPad = (short: boolean): Step[] => {
          const steps: Step[] = [
            () => {
              const [px, py] = this.world.bodyPos(goal);
              const to = { ...this.current, x: px + jitter(0.015), y: py + jitter(0.015) };
              if (short) {
                const back = Math.atan2(this.current.y - py, this.current.x - px) + this.rng.uniform(-0.6, 0.6);
                const r = this.rng.uniform(RELEASE_MISS_RADIUS[0], RELEASE_MISS_RADIUS[1]);
                to.x = px + r * Math.cos(back);
                to.y = py + r * Math.sin(back);
              }
              return { to, seconds: this.travelSeconds(to) };
            },
            maybePause,
            () => ({ to: { ...this.current, z: this.rng.uniform(0.026, 0.032) }, seconds: this.seconds(0.6) }),
            () => ({ to: { ...this.current, grip: open }, seconds: this.seconds(0.3) }),
          ];
          return [...(short ? perturbed(steps) : steps),
            () => ({ to: { ...this.current, z: this.rng.uniform(0.12, 0.16) }, seconds: this.seconds(0.6) }),
            // not on the pad: pick the cube up from where it lies and place it again
            () => this.retryUnless(() => this.world.success(), () => [...attempt('none', lift, cubeHeld), ...placeOnPad(false)])];
        };
        this.plan.push(...attempt(firstMiss, lift, cubeHeld), ...placeOnPad(this.error === 'short-release'), this.hold(2));
        break;
      }
      case 'touch':
        this.plan.push(approach(this.rng.uniform(0, 0.01), 0.015), maybePause, recenter(),
          () => ({ to: { ...this.current, z: 0.04 }, seconds: this.seconds(0.8) }),
          this.hold(0.5),
          () => ({ to: { ...this.current, z: hover }, seconds: this.seconds(0.6) }),
          this.hold(2));
        break;
    }
  }

  /** After an attempt: unless `ok`, queue `again` (at most twice an episode), led by the segment `first` returns. */
  private retryUnless(ok: () => boolean, again: () => Step[], first: Step = () => undefined): Segment | undefined {
    if (ok() || this.retries >= 2) return undefined;
    this.retries++;
    this.plan.unshift(...again());
    return first();
  }

  private startNextSegment(): void {
    this.segment = undefined;
    while (!this.segment) {
      const next = this.plan.shift();
      if (!next) { this.done = true; return; }
      this.segment = next();
    }
    this.segStart = { ...this.current };
    this.segTicks = Math.max(1, Math.round(this.segment.seconds / this.dt));
    this.segTick = 0;
  }

  /** The joint-target command for this control tick (6 joints + gripper opening). */
  act(): Float64Array {
    if (this.plan.length === 0 && !this.segment) this.done = true;
    if (!this.done && (!this.segment || this.segTick >= this.segTicks)) {
      if (this.segment) this.current = { ...this.segment.to };
      this.startNextSegment();
    }
    let pose = this.current;
    if (this.segment && !this.done) {
      this.segTick++;
      const s = minJerk(this.segTick / this.segTicks);
      const a = this.segStart, b = this.segment.to;
      pose = { x: a.x + (b.x - a.x) * s, y: a.y + (b.y - a.y) * s, z: a.z + (b.z - a.z) * s, roll: a.roll + (b.roll - a.roll) * s, grip: a.grip + (b.grip - a.grip) * s };
      if (this.segTick >= this.segTicks) this.current = { ...b };
    }
    const t = this.tick++ * this.dt;
    const tr = this.tremor;
    const wobble = tr.amp * (Math.sin(2 * Math.PI * tr.f1 * t + tr.p1) + 0.5 * Math.sin(2 * Math.PI * tr.f2 * t + tr.p2));
    const q = solveTopDownIk({ x: pose.x + wobble, y: pose.y - wobble, z: pose.z, yaw: 0 });
    const out = new Float64Array(7);
    for (let i = 0; i < 5; i++) out[i] = q[i]!;
    out[5] = Math.min(JOINT_LIMITS[5]![1], Math.max(JOINT_LIMITS[5]![0], pose.roll));
    out[6] = pose.grip;
    return out;
  }
}
