// The control process's handle on the simulated arm running in its own thread (sim-worker.ts):
// a RobotIO (readState / sendCommand / sendTrajectory through the shared seqlocks) and an ObservationSource (the
// newest camera frame from the shared ring), as a hardware driver would offer. Per tick nothing is
// posted and almost nothing allocated; messages carry only episode resets, lockstep steps and the
// privileged expert's plans.
import { Worker } from 'node:worker_threads';
import type { ActionChunk, CameraImage, Observation } from '../core/contracts.js';
import type { ChunkPlanner, JointCommand, JointState, JointTrajectory, ObservationSource, RobotIO } from '../control/types.js';
import { DIM, H, SharedViews, sharedLayout, STATE_WORDS, type FromSim, type SimWorkerInit, type ToSim } from './shared-io.js';
import { CONTROL_DT } from './world.js';
import { deriveSeed } from './rng.js';
import type { TaskName } from './tasks.js';

export interface SimWorkerOptions {
  imageSize?: number;
  cameras?: readonly string[];
  /** Physics period (the sim's own control period), s. Default 0.02 (as SimRobot). */
  physicsDt?: number;
  /** Realtime mode camera rate. Default 30 Hz. */
  cameraHz?: number;
  /** Frames kept in the ring; an Observation's images stay valid for about this many frames. */
  frameSlots?: number;
  /** Points a trajectory may have (sendTrajectory cuts longer ones, and counts them). Default 1024. */
  trajectoryPoints?: number;
}

export interface EpisodeInfo { instruction: string; maxSteps: number; task: TaskName }

type ToSimBody = ToSim extends infer M ? (M extends { id: number } ? Omit<M, 'id'> : never) : never;
type Pending = { resolve: (v: unknown) => void; reject: (e: Error) => void };

export class SimWorkerRobot implements RobotIO, ObservationSource {
  readonly cameras: readonly string[];
  readonly imageSize: number;
  readonly physicsDt: number;
  private readonly views: SharedViews;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private readonly stateBuf = new Float64Array(STATE_WORDS);
  private readonly referenceBuf = new Float64Array(DIM);
  /** Trajectories longer than the shared block holds (their tail was cut). */
  trajectoriesCut = 0;
  private readonly positions = new Float64Array(DIM);
  private cachedStateSeq = -1;
  private cachedState: JointState | undefined;
  private cachedFrameNo = 0;
  private cachedObs: Observation | undefined;
  private instruction = '';
  private running = false;
  private failure: Error | undefined;

  private constructor(private readonly worker: Worker, views: SharedViews, opts: Required<SimWorkerOptions>) {
    this.views = views;
    this.cameras = opts.cameras;
    this.imageSize = opts.imageSize;
    this.physicsDt = opts.physicsDt;
    worker.on('message', (m: FromSim) => {
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      if (m.ok) p.resolve((m as { value?: unknown }).value); else p.reject(new Error(`sim worker: ${m.error}`));
    });
    worker.on('error', (err) => this.fail(err));
    worker.on('exit', (code) => this.fail(new Error(`sim worker exited (code ${code})`)));
  }

  static async start(options: SimWorkerOptions = {}): Promise<SimWorkerRobot> {
    const opts: Required<SimWorkerOptions> = {
      imageSize: options.imageSize ?? 96, cameras: options.cameras ?? ['scene', 'wrist'],
      physicsDt: options.physicsDt ?? CONTROL_DT, cameraHz: options.cameraHz ?? 30, frameSlots: options.frameSlots ?? 8,
      trajectoryPoints: options.trajectoryPoints ?? 1024,
    };
    const layout = sharedLayout(opts.cameras.length, opts.imageSize, opts.frameSlots, opts.trajectoryPoints);
    const sab = new SharedArrayBuffer(layout.bytes);
    const init: SimWorkerInit = { sab, imageSize: opts.imageSize, cameras: [...opts.cameras], physicsDt: opts.physicsDt, cameraHz: opts.cameraHz, frameSlots: opts.frameSlots, trajectoryPoints: opts.trajectoryPoints };
    const worker = new Worker(new URL('./sim-worker.js', import.meta.url), { workerData: init });
    await new Promise<void>((resolve, reject) => {
      const onMsg = (m: FromSim): void => { if (m.id === -1) { worker.off('error', reject); resolve(); } };
      worker.once('message', onMsg);
      worker.once('error', reject);
    });
    return new SimWorkerRobot(worker, new SharedViews(sab, layout), opts);
  }

  private fail(err: Error): void {
    if (this.failure) return;
    this.failure = err;
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
  }

  private call<T>(msg: ToSimBody): Promise<T> {
    if (this.failure) return Promise.reject(this.failure);
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.worker.postMessage({ ...msg, id });
    });
  }

  /** Starts an episode: task layout from `taskSeed`, the privileged expert from `operatorSeed`. */
  async reset(task: TaskName, taskSeed: number, operatorSeed = deriveSeed(taskSeed, 1)): Promise<EpisodeInfo> {
    const info = await this.call<EpisodeInfo>({ op: 'reset', task, taskSeed, operatorSeed });
    this.instruction = info.instruction;
    this.cachedStateSeq = -1;
    this.cachedState = undefined;
    this.cachedFrameNo = 0;
    this.cachedObs = undefined;
    return info;
  }

  /**
   * Lockstep: apply the newest command, step `ticks` physics periods, publish a frame (with
   * pixels, or blind: stamp and state only, for the privileged expert that never looks).
   */
  advance(ticks = 1, render = true): Promise<number> { return this.call<number>({ op: 'advance', ticks, render }); }

  /** Realtime: physics free-runs on the wall clock from `epochNs` (process.hrtime) until stopRealtime(). */
  async startRealtime(epochNs: bigint = process.hrtime.bigint()): Promise<void> {
    if (this.running) throw new Error('sim worker: already running in realtime');
    await this.call({ op: 'start', epochNs: Number(epochNs) });
    this.running = true;
  }

  async stopRealtime(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    await this.call({ op: 'stop' });
  }

  /** Full physics state (qpos, qvel, time), for determinism checks. */
  physicsState(): Promise<Float64Array> { return this.call<Float64Array>({ op: 'physicsState' }); }

  /** Physics ticks the worker ran late by a whole period or more (realtime mode). */
  get overruns(): number { return Atomics.load(this.views.header, H.OVERRUNS); }
  get succeeded(): boolean { return Atomics.load(this.views.header, H.SUCCESS) === 1; }
  get steps(): number { return Atomics.load(this.views.header, H.STEP); }
  get commandsApplied(): number { return Atomics.load(this.views.header, H.CMD_APPLIED); }
  get trajectoriesApplied(): number { return Atomics.load(this.views.header, H.TRAJ_APPLIED); }

  /**
   * The joint targets the arm's controller tracked at the newest joint state (JTC's reference in
   * trajectory mode, the last command in forward mode). Valid until the next call.
   */
  reference(): Float64Array | undefined {
    if (!this.readState()) return undefined;
    for (let i = 0; i < DIM; i++) this.referenceBuf[i] = this.stateBuf[1 + DIM + i]!;
    return this.referenceBuf;
  }

  // --- RobotIO ---
  readState(): JointState | undefined {
    const seq = Atomics.load(this.views.header, H.STATE_SEQ);
    if (seq === this.cachedStateSeq) return this.cachedState;
    if (!this.views.readState(this.stateBuf)) return this.cachedState;
    this.cachedStateSeq = seq;
    for (let i = 0; i < DIM; i++) this.positions[i] = this.stateBuf[1 + i]!;
    this.cachedState = { stampNs: BigInt(this.stateBuf[0]!), positions: this.positions };
    return this.cachedState;
  }

  sendCommand(cmd: JointCommand): void { this.views.writeCommand(cmd.positions); }

  /**
   * JointTrajectoryController input: the points go into the shared trajectory block (no message,
   * no allocation) and the sim thread samples them every physics tick, replacing the running
   * trajectory from this one's stamp on. Stamps are the robot's clock (realtime: process.hrtime).
   */
  sendTrajectory(traj: JointTrajectory): void {
    if (traj.jointNames.length !== DIM) throw new Error(`sim trajectory: ${traj.jointNames.length} joints, the arm has ${DIM}`);
    if (this.views.writeTrajectory(Number(traj.stampNs), traj.points) < traj.points.length) this.trajectoriesCut++;
  }

  // --- ObservationSource ---
  /**
   * The newest frame with the joint state it was taken with. The images are views into the
   * shared ring: valid until the sim has written `frameSlots` more frames (copy to keep longer).
   */
  latest(): Observation | undefined {
    const n = Atomics.load(this.views.header, H.FRAME_NO);
    if (n === 0) return undefined;
    if (n === this.cachedFrameNo) return this.cachedObs;
    const slot = this.views.frameSlot(n);
    const images: Record<string, CameraImage> = {};
    this.cameras.forEach((name, c) => { images[name] = { width: this.imageSize, height: this.imageSize, data: this.views.frames[slot]![c]! }; });
    const state = new Float32Array(DIM);
    this.views.frameState(n, state);
    this.cachedFrameNo = n;
    this.cachedObs = { stampNs: BigInt(this.views.frameStamp(n)), images, state, instruction: this.instruction };
    return this.cachedObs;
  }

  /**
   * The scripted expert as a ChunkPlanner: privileged (it reads the simulator, in the sim
   * thread), planning from the observation time it is given, `horizon` actions `chunkDt` apart.
   * It ignores RTC prefixes: its chunks already agree with each other where they overlap.
   */
  expertPlanner(horizon = 50, chunkDt = this.physicsDt): ChunkPlanner {
    const stride = Math.round(chunkDt / this.physicsDt);
    if (stride < 1 || Math.abs(stride * this.physicsDt - chunkDt) > 1e-9) throw new Error(`expert planner: chunk dt ${chunkDt} is not a multiple of the physics period ${this.physicsDt}`);
    return {
      plan: async (obs: Observation): Promise<ActionChunk> => {
        const tick = Math.round(Number(obs.stampNs) / (this.physicsDt * 1e9));
        const actions = await this.call<Float32Array>({ op: 'expertPlan', tick, horizon, stride });
        return { t0Ns: obs.stampNs, dt: chunkDt, horizon, actionDim: DIM, actions, modelVersion: 'scripted-expert', adapterVersion: '', noiseSeed: 0, inferenceDelaySteps: 0 };
      },
    };
  }

  async close(): Promise<void> {
    if (this.failure) { await this.worker.terminate(); return; }
    if (this.running) await this.stopRealtime();
    try { await this.call({ op: 'close' }); } catch { /* going away regardless */ }
    await this.worker.terminate();
  }
}
