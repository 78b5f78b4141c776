// Test rig for the control loop: a virtual clock, a kinematic joint model that executes commands
// exactly and checks every tick against the limits, an observation source, and a planner whose
// answers land at a chosen virtual time. Everything is deterministic: the test advances time.
import type { ActionChunk, CameraFrame, Clock, JointCommand, JointState, JointTrajectory, Observation } from '../../src/core/index.js';
import { VirtualClock as CoreVirtualClock } from '../../src/core/index.js';
import type { ChunkPlanner, LoopRobot, OperatorCommand, PlanRequest, RobotDescription, StreamSpec } from '../../src/control/index.js';
import { ControlLoop, ObservationStore, type ControlLoopOptions } from '../../src/control/index.js';

export class VirtualClock extends CoreVirtualClock {
  constructor(now = 1_000_000_000n) { super(now); }
}

export function robot(n = 3, over: Partial<RobotDescription['joints'][number]> = {}): RobotDescription {
  return {
    name: 'test-arm',
    joints: Array.from({ length: n }, (_, i) => ({
      name: `j${i}`,
      position: { min: -1, max: 1 },
      velocity: 2,
      acceleration: 20,
      emergency_deceleration: 40,
      ...over,
    })),
  };
}

/** A robot whose joints go exactly where commanded; it records violations of the description. */
export class KinematicArm implements LoopRobot {
  q: Float64Array;
  v: Float64Array;
  stamp: bigint | undefined;
  commands: JointCommand[] = [];
  trajectories: JointTrajectory[] = [];
  violations: string[] = [];
  /** When false the arm stops publishing joint states (stale sensor). */
  publishing = true;
  private prevV: Float64Array;

  constructor(private readonly clock: Clock, readonly desc: RobotDescription, start?: number[], private readonly periodS = 0.01) {
    const n = desc.joints.length;
    this.q = Float64Array.from(start ?? new Array<number>(n).fill(0));
    this.v = new Float64Array(n);
    this.prevV = new Float64Array(n);
  }

  readState(): JointState | undefined {
    if (this.publishing) this.stamp = this.clock.nowNs();
    return this.stamp === undefined ? undefined : { stampNs: this.stamp, positions: Float64Array.from(this.q), velocities: Float64Array.from(this.v) };
  }

  sendCommand(cmd: JointCommand): void {
    const tol = 1e-9;
    this.desc.joints.forEach((j, i) => {
      const p = cmd.positions[i]!;
      const v = (p - this.q[i]!) / this.periodS;
      const a = (v - this.prevV[i]!) / this.periodS;
      if (!Number.isFinite(p) || p < j.position.min - tol || p > j.position.max + tol) this.violations.push(`step ${cmd.step} ${j.name} position ${p}`);
      if (Math.abs(v) > j.velocity * (1 + 1e-6) + tol) this.violations.push(`step ${cmd.step} ${j.name} velocity ${v}`);
      const amax = Math.max(j.acceleration, j.emergency_deceleration ?? 0);
      if (Math.abs(a) > amax * (1 + 1e-6) + 1e-6) this.violations.push(`step ${cmd.step} ${j.name} acceleration ${a}`);
      this.prevV[i] = v;
      this.v[i] = v;
      this.q[i] = p;
    });
    this.commands.push(cmd);
  }

  sendTrajectory(traj: JointTrajectory): void { this.trajectories.push(traj); }

  /** The camera: a 1x1 frame stamped now, with the joint state, while `camera.publishing`. */
  readonly camera = { publishing: true, last: undefined as CameraFrame | undefined, seq: 0 };
  readFrame(): CameraFrame | undefined {
    const c = this.camera;
    if (c.publishing) c.last = { seq: ++c.seq, stampNs: this.clock.nowNs(), images: { cam: { width: 1, height: 1, data: new Uint8Array(3) } }, state: Float32Array.from(this.q) };
    return c.last;
  }
}

/** The operator side of the rig: tests push commands, stamped on the virtual clock. */
export class TestOperator {
  latestCommand: OperatorCommand | undefined;
  private seq = 0;
  constructor(private readonly clock: Clock) {}
  send(positions: ArrayLike<number>, opts: { perturbation?: boolean; release?: boolean } = {}): void {
    this.latestCommand = { seq: ++this.seq, stampNs: this.clock.nowNs(), positions: Float64Array.from(positions), perturbation: opts.perturbation ?? false, release: opts.release ?? false };
  }
  latest(): OperatorCommand | undefined { return this.latestCommand; }
}

/** The rig's streams table: joint states and one camera, both stale after `maxAgeS`. */
export function rigStreams(rateHz: number, maxAgeS = 0.25): StreamSpec[] {
  return [
    { name: 'joint_states', source: 'joint_states', rateHz, maxAgeS, requiredBy: ['policy', 'operator', 'hold'] },
    { name: 'camera/cam', source: 'camera', camera: 'cam', rateHz, maxAgeS, requiredBy: ['policy'] },
    { name: 'teleop', source: 'teleop', rateHz, maxAgeS: 0.25, requiredBy: [] },
  ];
}

export type ChunkFn = (obs: Observation, request: PlanRequest) => ActionChunk | Promise<ActionChunk>;

/**
 * A planner whose chunk is computed at request time and delivered when the virtual clock reaches
 * obs time + latency (pump() resolves due answers). `latencyS` may vary per request.
 */
export class ScriptedPlanner implements ChunkPlanner {
  requests: { obs: Observation; request: PlanRequest }[] = [];
  private pending: { dueNs: bigint; resolve: () => void }[] = [];
  /** When true, requests are accepted but never answered. */
  silent = false;

  constructor(private readonly make: ChunkFn, public latencyS: number | ((n: number) => number)) {}

  plan(obs: Observation, request: PlanRequest): Promise<ActionChunk> {
    this.requests.push({ obs, request });
    const chunk = Promise.resolve(this.make(obs, request));
    if (this.silent) return new Promise<ActionChunk>(() => {});
    const lat = typeof this.latencyS === 'number' ? this.latencyS : this.latencyS(this.requests.length);
    const dueNs = obs.stampNs + BigInt(Math.round(lat * 1e9));
    return new Promise<ActionChunk>((resolve, reject) => this.pending.push({ dueNs, resolve: () => chunk.then(resolve, reject) }));
  }

  pump(nowNs: bigint): void {
    const due = this.pending.filter((p) => p.dueNs <= nowNs);
    this.pending = this.pending.filter((p) => p.dueNs > nowNs);
    for (const p of due) p.resolve();
  }
}

export function makeChunk(t0Ns: bigint, dt: number, horizon: number, actionDim: number, value: (i: number, j: number) => number, noiseSeed = 0): ActionChunk {
  const actions = new Float32Array(horizon * actionDim);
  for (let i = 0; i < horizon; i++) for (let j = 0; j < actionDim; j++) actions[i * actionDim + j] = value(i, j);
  return { t0Ns, dt, horizon, actionDim, actions, modelVersion: 'test@0', adapterVersion: 'base', noiseSeed, inferenceDelaySteps: 0 };
}

/** A smooth reference motion inside the limits. */
export const reference = (tS: number, j: number) => 0.5 * Math.sin(2 * Math.PI * 0.5 * tS + j);

export const flush = () => new Promise<void>((r) => setImmediate(r));

export interface Rig {
  clock: VirtualClock;
  arm: KinematicArm;
  /** The camera feed (set `publishing` false to make observations stale). */
  obs: KinematicArm['camera'];
  store: ObservationStore;
  operator: TestOperator;
  planner: ScriptedPlanner;
  loop: ControlLoop;
  logs: string[];
  /** Runs steps [from, to): time to each step, deliver due answers, tick. */
  run(from: number, to: number, each?: (step: number) => void): Promise<void>;
}

export function rig(opts: { rateHz?: number; joints?: number; make: ChunkFn; latencyS?: number | ((n: number) => number); loop?: Partial<ControlLoopOptions>; desc?: RobotDescription; start?: number[]; maxAgeS?: number }): Rig {
  const rateHz = opts.rateHz ?? 100;
  const clock = new VirtualClock();
  const desc = opts.desc ?? robot(opts.joints ?? 3);
  const arm = new KinematicArm(clock, desc, opts.start, 1 / rateHz);
  const operator = new TestOperator(clock);
  const store = new ObservationStore(arm, rigStreams(rateHz, opts.maxAgeS), operator);
  store.setInstruction('test');
  const obs = arm.camera;
  const planner = new ScriptedPlanner(opts.make, opts.latencyS ?? 0.03);
  const logs: string[] = [];
  const loop = new ControlLoop({ rateHz, robot: arm, robotDescription: desc, observations: store, planner, clock, log: (l) => logs.push(l), ...opts.loop });
  const epoch = clock.now;
  loop.begin(epoch);
  const periodNs = BigInt(Math.round(1e9 / rateHz));
  return {
    clock, arm, obs, store, operator, planner, loop, logs,
    async run(from, to, each) {
      for (let k = from; k < to; k++) {
        clock.now = epoch + BigInt(k) * periodNs;
        planner.pump(clock.now);
        await flush();
        each?.(k);
        loop.tick(k);
      }
    },
  };
}

/** A chunk function following `reference` from the observation time. */
export function followReference(dt: number, horizon: number, actionDim: number, epochNs: bigint, offset: (n: number, j: number) => number = () => 0): ChunkFn {
  let n = 0;
  return (obs) => {
    n++;
    const t0S = Number(obs.stampNs - epochNs) / 1e9;
    const k = n;
    return makeChunk(obs.stampNs, dt, horizon, actionDim, (i, j) => reference(t0S + i * dt, j) + offset(k, j), k);
  };
}
