// Closed-loop episodes of the real ControlLoop on the sim-worker robot in lockstep, virtual time:
// the loop's clock is simulated time, the sim advances one control period per tick, and planner
// answers land at a chosen virtual delay after their observation (compute time is not counted,
// so runs are reproducible and the injected delay is the whole delay). What this measures is the
// runtime's behaviour under delay (joining, latency compensation), not this machine's speed.
import type { ActionChunk } from '../core/contracts.js';
import { ControlLoop, type ControlLoopStats, type TickRecord } from '../control/loop.js';
import { ActionQueue, type JoinConfig, type QueuedChunk } from '../control/action-queue.js';
import type { RobotDescription } from '../control/limits.js';
import type { ChunkPlanner, Clock, PlanOutcome } from '../control/types.js';
import { SETTLE_TICKS } from './episode.js';
import { GRIPPER_LIMITS, JOINT_LIMITS, STATE_NAMES, VELOCITY_LIMITS } from './scene.js';
import type { TaskName } from './tasks.js';
import type { SimWorkerRobot } from './worker-robot.js';

/** The simulated arm's safety envelope (its controller's limits; accelerations generous). */
export function simRobotDescription(): RobotDescription {
  const limits = [...JOINT_LIMITS, GRIPPER_LIMITS];
  return {
    name: 'vlad-sim-arm',
    joints: STATE_NAMES.map((name, i) => ({
      name,
      position: { min: limits[i]![0], max: limits[i]![1] },
      velocity: VELOCITY_LIMITS[i]!,
      acceleration: name === 'gripper' ? 2 : 15,
      emergency_deceleration: name === 'gripper' ? 4 : 30,
    })),
  };
}

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
    const d = r.desired;
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

class VirtualClock implements Clock {
  now = 0n;
  nowNs(): bigint { return this.now; }
}

/** Holds each planner answer until virtual time reaches observation + delay. */
class DelayedPlanner implements ChunkPlanner {
  private readonly held: { dueNs: bigint; result: Promise<ActionChunk | PlanOutcome>; release: (r: Promise<ActionChunk | PlanOutcome>) => void }[] = [];
  constructor(private readonly inner: ChunkPlanner, private readonly delayNs: bigint) {}

  plan(...args: Parameters<ChunkPlanner['plan']>): Promise<ActionChunk | PlanOutcome> {
    const result = this.inner.plan(...args);
    result.catch(() => undefined);
    return new Promise((resolve) => { this.held.push({ dueNs: args[0].stampNs + this.delayNs, result, release: resolve }); });
  }

  /** Releases every answer due by `nowNs`, waiting for its computation (virtual time stands still). */
  async deliver(nowNs: bigint): Promise<number> {
    let n = 0;
    while (this.held.length && this.held[0]!.dueNs <= nowNs) {
      const h = this.held.shift()!;
      await h.result.catch(() => undefined);
      h.release(h.result);
      n++;
    }
    if (n) await new Promise<void>((r) => setImmediate(r)); // let the loop's handlers run
    return n;
  }

  async drain(): Promise<void> { await Promise.allSettled(this.held.map((h) => h.result)); }
}

export interface ControlEpisodeOptions {
  task: TaskName;
  taskSeed: number;
  operatorSeed?: number;
  planner: ChunkPlanner;
  join: JoinConfig;
  /** Virtual delay from observation to the answer's arrival, s. 0 = next control step. */
  delayS: number;
  /** Render camera pixels every tick (a model planner needs them; the privileged expert does not). */
  pixels: boolean;
  replanThreshold?: number;
  /** Per-tick commands (forward controller) or trajectories per plan (JointTrajectoryController). Default forward. */
  output?: 'forward' | 'trajectory';
  maxSteps?: number;
  /** Stop at success (+ settle ticks). Default true. */
  stopOnSuccess?: boolean;
  onTick?: (r: TickRecord) => void;
}

export interface ControlEpisodeResult {
  success: boolean;
  steps: number;
  stats: ControlLoopStats;
  smoothness: { boundary_max_jump: number; mean_in_chunk_step: number; ratio: number; seam_max: number; seam_ratio: number; boundaries: number; boundary_ratios: number[] };
}

/** One lockstep episode: the loop runs at the sim's physics period. */
export async function runControlEpisode(robot: SimWorkerRobot, opts: ControlEpisodeOptions): Promise<ControlEpisodeResult> {
  const info = await robot.reset(opts.task, opts.taskSeed, opts.operatorSeed);
  const clock = new VirtualClock();
  const periodNs = BigInt(Math.round(robot.physicsDt * 1e9));
  const planner = new DelayedPlanner(opts.planner, BigInt(Math.round(opts.delayS * 1e9)));
  const loop: ControlLoop = new ControlLoop({
    rateHz: 1 / robot.physicsDt, robot, robotDescription: simRobotDescription(), observations: robot, planner,
    join: opts.join, clock, ...(opts.replanThreshold !== undefined ? { replanThreshold: opts.replanThreshold } : {}),
    maxPlanWaitS: opts.delayS + 1, output: opts.output ?? 'forward',
  });
  const meter = new BoundaryMeter(() => loop.actionQueue, loop.periodS);
  loop.addTap(meter.tap);
  if (opts.onTick) loop.addTap(opts.onTick);
  const maxSteps = opts.maxSteps ?? info.maxSteps;
  let settle = -1;
  let step = 0;
  try {
    for (; step < maxSteps && settle !== 0; step++) {
      clock.now = BigInt(step) * periodNs;
      await planner.deliver(clock.now);
      loop.tick(step, clock.now);
      await robot.advance(1, opts.pixels);
      if (robot.succeeded && opts.stopOnSuccess !== false) settle = settle < 0 ? SETTLE_TICKS[info.task] : settle - 1;
    }
  } finally {
    loop.close();
    await planner.drain();
  }
  return {
    success: robot.succeeded, steps: step, stats: loop.snapshot(),
    smoothness: { boundary_max_jump: meter.maxBoundaryJump, mean_in_chunk_step: meter.meanInChunkStep, ratio: meter.ratio, seam_max: meter.maxSeam, seam_ratio: meter.seamRatio, boundaries: meter.boundaryJumps.length, boundary_ratios: meter.boundaryRatios },
  };
}
