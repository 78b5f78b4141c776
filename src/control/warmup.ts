// Warming the tick path before the real epoch. The first ticks of a fresh process run the
// interpreter and hit first-time costs (inline caches, shapes, the first chunk join, the first
// brake profile): measured at 1-4 ms for tick 0 and >1 ms for several early ticks, enough for
// deadline misses at 100-200 Hz. So run() first drives a throwaway ControlLoop over the same robot
// description, join method and output mode on a virtual clock, through every path the real loop
// takes (waiting, run with chunks joining and clamping, hold on stale data, hard stop, recovery),
// until V8 has optimized it; then through the operator's paths (intervention take-over and
// hand-back, teleop). Nothing reaches the real robot, planner or telemetry.
import type { ActionChunk, CameraFrame, JointCommand, JointState, JointTrajectory, Observation } from '../core/index.js';
import { VirtualClock, type Clock } from '../core/index.js';
import type { JoinConfig } from './action-queue.js';
import type { RobotDescription } from './limits.js';
import { ControlLoop, type ControlTelemetry, type TickTap } from './loop.js';
import type { WatchdogState } from './watchdog.js';
import type { ChunkPlanner, LoopRobot, PlanRequest } from './types.js';
import { ObservationStore, type OperatorCommand, type StreamSpec } from './streams.js';

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
  /** Ticks per watchdog state the throwaway loop went through, and the clamps its filter applied. */
  states: Partial<Record<WatchdogState, number>>;
  clamps: number;
}

/** A joint model that goes where it is told (forward) or follows the trajectory's first point. */
class EchoArm implements LoopRobot {
  readonly q: Float64Array;
  stale = false;
  private stamp = 0n;
  private seq = 0;
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
  readFrame(): CameraFrame {
    if (!this.stale) this.seq++;
    return { seq: this.seq, stampNs: this.stamp, images: {}, state: Float32Array.from(this.q) };
  }
  sendCommand(cmd: JointCommand): void { this.q.set(cmd.positions); }
  sendTrajectory(traj: JointTrajectory): void { if (traj.points[0]) this.q.set(traj.points[0].positions); }
}

const noTelemetry: ControlTelemetry = {
  tick() {}, clamp() {}, watchdog() {}, queueDepth() {}, inferenceDelay() {}, inferenceStage() {}, chunk() {},
};

export async function warmUpControlPath(o: WarmUpOptions): Promise<WarmUpResult> {
  const started = performance.now();
  const clock = new VirtualClock(1_000_000_000n);
  const joints = o.robotDescription.joints;
  const n = joints.length;
  const arm = new EchoArm(clock, n);
  joints.forEach((j, i) => { arm.q[i] = (j.position.min + j.position.max) / 2; });
  let operator: OperatorCommand | undefined;
  let opSeq = 0;
  const streams: StreamSpec[] = [
    { name: 'joint_states', source: 'joint_states', rateHz: o.rateHz, maxAgeS: 0.1, requiredBy: ['policy', 'operator', 'hold'] },
    { name: 'teleop', source: 'teleop', rateHz: o.rateHz, maxAgeS: 0.1, requiredBy: [] },
  ];
  const observations = new ObservationStore(arm, streams, { latest: () => operator });
  observations.setInstruction('warm-up');
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
    // Short hand-overs: the operator phases take over and hand back within a few ticks.
    handover: { blendS: 10 / o.rateHz, releaseAfterS: 10 / o.rateHz, operatorTimeoutS: 5 / o.rateHz },
  });
  for (const tap of o.taps ?? []) loop.addTap(tap);
  const total = o.ticks ?? 3000;
  const periodNs = loop.periodNs;
  const states: Partial<Record<WatchdogState, number>> = {};
  for (let step = 0; step < total; step++) {
    // Phases of 600 ticks: run, stale data (hold), run, hard stop, run; every other cycle in
    // intervention mode with an operator taking over and falling silent, every fourth in teleop.
    const cycle = Math.floor(step / 600);
    const phase = (step % 600) / 600;
    if (step % 600 === 0) loop.setMode(cycle % 4 === 3 ? 'teleop' : cycle % 2 === 1 ? 'intervention' : 'autonomous');
    arm.stale = phase >= 0.4 && phase < 0.5;
    loop.hardStop(phase >= 0.7 && phase < 0.8);
    clock.now += periodNs;
    if (loop.mode !== 'autonomous' && phase >= 0.1 && phase < 0.3) {
      operator = { seq: ++opSeq, stampNs: clock.now, positions: Float64Array.from(arm.q, (q, j) => q + 0.001 * Math.sin(step * 0.05 + j)), perturbation: phase > 0.25 };
    }
    const rec = loop.tick(step, clock.now);
    if (rec) states[rec.state] = (states[rec.state] ?? 0) + 1;
    await null; // let answered plans land, as they would between real ticks
  }
  loop.close();
  const clamps = Object.values(loop.snapshot().clamps).reduce((a, perJoint) => a + perJoint.reduce((x, y) => x + y, 0), 0);
  return { ticks: total, chunks, ms: performance.now() - started, states, clamps };
}
