// Warming the tick path before the real epoch. The first ticks of a fresh process run the
// interpreter and hit first-time costs (inline caches, shapes, the first chunk join, the first
// brake profile): measured at 1-4 ms for tick 0 and >1 ms for several early ticks, enough for
// deadline misses at 100-200 Hz. So run() first drives a throwaway ControlLoop over the same robot
// description, join method and output mode on a virtual clock, through every path the real loop
// takes (waiting, run with chunks joining and clamping, hold on stale data, hard stop, recovery),
// until V8 has optimized it. Nothing reaches the real robot, planner or telemetry.
import type { ActionChunk, Observation } from '../core/contracts.js';
import type { JoinConfig } from './action-queue.js';
import type { RobotDescription } from './limits.js';
import { ControlLoop, type ControlTelemetry, type TickTap } from './loop.js';
import type { ControlMode } from './watchdog.js';
import type { ChunkPlanner, Clock, JointCommand, JointState, JointTrajectory, PlanRequest, RobotIO } from './types.js';

export interface WarmUpOptions {
  rateHz: number;
  robotDescription: RobotDescription;
  join?: JoinConfig;
  output?: 'forward' | 'trajectory';
  /** Ticks to run. Default 3000 (about 60-150 ms of CPU). */
  ticks?: number;
  /** Extra per-tick code to warm with synthetic records (must not record for real). */
  taps?: readonly TickTap[];
}

export interface WarmUpResult {
  ticks: number;
  chunks: number;
  ms: number;
  /** Ticks per mode the throwaway loop went through, and the clamps its filter applied. */
  modes: Partial<Record<ControlMode, number>>;
  clamps: number;
}

class VirtualClock implements Clock {
  now = 1_000_000_000n;
  nowNs(): bigint { return this.now; }
}

/** A joint model that goes where it is told (forward) or follows the trajectory's first point. */
class EchoArm implements RobotIO {
  readonly q: Float64Array;
  stale = false;
  private stamp = 0n;
  private readonly state: { stampNs: bigint; positions: Float64Array };
  constructor(private readonly clock: Clock, n: number) {
    this.q = new Float64Array(n);
    this.state = { stampNs: 0n, positions: this.q };
  }
  readState(): JointState {
    if (!this.stale) this.stamp = this.clock.nowNs();
    this.state.stampNs = this.stamp;
    return this.state;
  }
  sendCommand(cmd: JointCommand): void { this.q.set(cmd.positions); }
  sendTrajectory(traj: JointTrajectory): void { if (traj.points[0]) this.q.set(traj.points[0].positions); }
}

const noTelemetry: ControlTelemetry = {
  tick() {}, clamp() {}, watchdog() {}, queueDepth() {}, inferenceDelay() {}, inferenceStage() {}, chunk() {},
};

export async function warmUpControlPath(o: WarmUpOptions): Promise<WarmUpResult> {
  const started = performance.now();
  const clock = new VirtualClock();
  const joints = o.robotDescription.joints;
  const n = joints.length;
  const arm = new EchoArm(clock, n);
  joints.forEach((j, i) => { arm.q[i] = (j.position.min + j.position.max) / 2; });
  let stale = false;
  let obs: Observation | undefined;
  const observations = {
    latest(): Observation | undefined {
      if (!stale || !obs) obs = { stampNs: clock.nowNs(), images: {}, state: Float32Array.from(arm.q), instruction: 'warm-up' };
      return obs;
    },
  };
  const periodS = 1 / o.rateHz;
  const horizon = 50;
  const dt = 2 * periodS;
  let chunks = 0;
  // Sinusoids across most of each joint's range, some of them too fast: the clamps run too.
  const planner: ChunkPlanner = {
    plan(from: Observation, _req: PlanRequest): Promise<ActionChunk> {
      const k = chunks++;
      const actions = new Float32Array(horizon * n);
      for (let h = 0; h < horizon; h++) {
        for (let j = 0; j < n; j++) {
          const lim = joints[j]!.position;
          const mid = (lim.min + lim.max) / 2;
          const amp = 0.45 * (lim.max - lim.min);
          actions[h * n + j] = mid + amp * Math.sin((k * horizon + h) * dt * (1 + j) * 2);
        }
      }
      if (k % 7 === 3) actions[n] = Number.NaN; // the non-finite guard
      return Promise.resolve({ t0Ns: from.stampNs, dt, horizon, actionDim: n, actions, modelVersion: 'warm-up', adapterVersion: '', noiseSeed: 0, inferenceDelaySteps: 0 });
    },
  };
  const loop = new ControlLoop({
    rateHz: o.rateHz, robot: arm, observations, robotDescription: o.robotDescription, planner,
    ...(o.join ? { join: o.join } : {}), ...(o.output ? { output: o.output } : {}),
    clock, telemetry: noTelemetry, replanThreshold: 0.5, warmUpTicks: 0,
  });
  for (const tap of o.taps ?? []) loop.addTap(tap);
  const total = o.ticks ?? 3000;
  const periodNs = loop.periodNs;
  const modes: Partial<Record<ControlMode, number>> = {};
  for (let step = 0; step < total; step++) {
    // Phases: run, stale data (hold), run, hard stop, run.
    const phase = (step % 600) / 600;
    stale = phase >= 0.4 && phase < 0.5;
    arm.stale = stale;
    loop.hardStop(phase >= 0.7 && phase < 0.8);
    clock.now += periodNs;
    const rec = loop.tick(step, clock.now);
    if (rec) modes[rec.mode] = (modes[rec.mode] ?? 0) + 1;
    await null; // let answered plans land, as they would between real ticks
  }
  loop.close();
  const clamps = Object.values(loop.snapshot().clamps).reduce((a, perJoint) => a + perJoint.reduce((x, y) => x + y, 0), 0);
  return { ticks: total, chunks, ms: performance.now() - started, modes, clamps };
}
