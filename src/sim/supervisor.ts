// The scripted operator as a person supervising a policy (HG-DAgger): it watches the privileged
// physics state every tick and says when to take over: the policy has made no progress for a
// few seconds (stall), closed the gripper away from the object (gripper), wandered off from
// anything that matters for the task (drift), or left too little time for the task to be done
// (time). The arm then runs the scripted operator from where the arm is; when its script ends,
// control goes back to the policy and the supervisor watches again.
import type { TaskInstance, TaskName } from './tasks.js';
import { padOffset } from './tasks.js';

export const TAKEOVER_REASONS = ['stall', 'gripper', 'drift', 'time'] as const;
export type TakeoverReason = (typeof TAKEOVER_REASONS)[number];

/** One takeover: why, and when (s since the episode's start). */
export interface Takeover { reason: TakeoverReason; atS: number }

export interface SupervisionLimits {
  /** Seconds without progress (the task's distance-to-go shrinking by progressM) that make a stall. */
  stallS: number;
  progressM: number;
  /** Seconds the gripper must stay closed on nothing, away from the object, before it counts. */
  gripperS: number;
  /** Distance (m) from every relevant point (the object, the goal pad, where the tool started) that counts as drifting off, and for how long. */
  driftM: number;
  driftS: number;
  /** Time (s) the operator keeps in reserve before the task's limit to finish it itself. */
  reserveS: Record<TaskName, number>;
  /** Takeovers an episode may have, and the time after a release before the next may start. */
  maxTakeovers: number;
  cooldownS: number;
}

/**
 * Thresholds a person would use. The reserves cover the scripted operator's own time for the
 * task from a typical mid-episode state (test/sim/supervisor.test.ts measures it), so a takeover
 * for time still ends in success.
 */
export const SUPERVISION: SupervisionLimits = {
  stallS: 2.5, progressM: 0.01, gripperS: 0.2, driftM: 0.2, driftS: 0.5,
  reserveS: { pick: 3.5, place: 6, touch: 2.5 }, maxTakeovers: 3, cooldownS: 1,
};

/** The physics facts the supervisor reads (SimWorld has them). */
export interface SupervisedWorld {
  /** Physics ticks since the episode's reset (its clock). */
  readonly stepCount: number;
  bodyPos(body: string): [number, number, number];
  graspPoint(): [number, number, number];
  gripperOpening(): number;
  gripperTouches(body: string): boolean;
}

const dist = (a: readonly number[], b: readonly number[]): number => Math.hypot(a[0]! - b[0]!, a[1]! - b[1]!, a[2]! - b[2]!);

export class Supervisor {
  /** Takeovers so far (this supervisor's). */
  count = 0;
  private tookOverForTime = false;
  private ticks = 0;
  private best = Infinity;
  private bestTick = 0;
  private phase = '';
  private closedTicks = 0;
  private driftTicks = 0;
  private quietUntilTick = 0;
  private readonly start: [number, number, number];

  /** `dt`: seconds per watched tick; `maxS`: the task's time limit, s. */
  constructor(private readonly world: SupervisedWorld, private readonly inst: TaskInstance, private readonly dt: number, private readonly maxS: number, private readonly limits: SupervisionLimits = SUPERVISION) {
    this.start = world.graspPoint();
  }

  private seconds(ticks: number): number { return ticks * this.dt; }

  /** The target is in the hand and off the table. */
  private held(): boolean {
    const { target } = this.inst;
    return this.world.gripperTouches(target) && this.world.bodyPos(target)[2] > this.inst.sizes.cubeHalf + 0.01;
  }

  /** What is left to do, m: reach the object (unless held), then its lift (pick) or its way to the pad (place). */
  private distanceToGo(held: boolean): number {
    const { task, target, goal } = this.inst;
    const p = this.world.bodyPos(target);
    const reach = held ? 0 : dist(this.world.graspPoint(), p);
    if (task === 'pick') return reach + Math.max(0, this.inst.sizes.cubeHalf + 0.05 - p[2]);
    if (task === 'place') return reach + padOffset(this.world, target, goal!);
    return reach;
  }

  /**
   * One tick of watching (after the physics stepped, while the policy commands): a takeover now,
   * if one is due (counted).
   */
  watch(succeeded: boolean): Takeover | undefined {
    const tick = this.ticks++;
    if (succeeded || this.count >= this.limits.maxTakeovers || tick < this.quietUntilTick) return undefined;
    const reason = this.judge(tick);
    if (!reason) return undefined;
    this.count++;
    if (reason === 'time') this.tookOverForTime = true;
    // when, on the episode's clock (the supervisor may have started mid-episode)
    return { reason, atS: Number(this.seconds(this.world.stepCount).toFixed(3)) };
  }

  private judge(tick: number): TakeoverReason | undefined {
    const L = this.limits, w = this.world, { task, target, goal } = this.inst;
    if (!this.tookOverForTime && this.seconds(this.world.stepCount) >= this.maxS - L.reserveS[task]) return 'time';
    const held = this.held();
    // a grasp (or a drop) is progress of its own: the distance to go changes its meaning
    const phase = held ? 'held' : 'free';
    const togo = this.distanceToGo(held);
    if (phase !== this.phase || togo < this.best - L.progressM) { this.phase = phase; this.best = togo; this.bestTick = tick; }
    if (this.seconds(tick - this.bestTick) >= L.stallS) return 'stall';
    const grasp = w.graspPoint(), p = w.bodyPos(target);
    if (task !== 'touch') {
      const closedOnNothing = w.gripperOpening() < 1.5 * this.inst.sizes.cubeHalf && !w.gripperTouches(target) && dist(grasp, p) > this.inst.sizes.cubeHalf + 0.02;
      this.closedTicks = closedOnNothing ? this.closedTicks + 1 : 0;
      if (this.seconds(this.closedTicks) >= L.gripperS) return 'gripper';
    }
    const relevant = [p, this.start];
    if (goal) relevant.push(w.bodyPos(goal));
    const off = Math.min(...relevant.map((r) => dist(grasp, r))) > L.driftM;
    this.driftTicks = off ? this.driftTicks + 1 : 0;
    if (this.seconds(this.driftTicks) >= L.driftS) return 'drift';
    return undefined;
  }

  /** The operator let go: watch afresh after a cool-down (a new stall clock, nothing carried over). */
  released(): void {
    this.quietUntilTick = this.ticks + Math.round(this.limits.cooldownS / this.dt);
    this.bestTick = this.quietUntilTick;
    this.best = Infinity;
    this.closedTicks = 0;
    this.driftTicks = 0;
  }
}
