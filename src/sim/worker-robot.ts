// The simulated arm in its own thread (sim-worker.ts) as a robot driver: joint states, commands,
// trajectories and camera frames cross in shared memory (seqlocks and a frame ring), as a hardware
// driver would offer them. Per tick nothing is posted and almost nothing allocated; messages carry
// only episode resets, lockstep steps, reports and the privileged expert's plans.
import type { ActionChunk, CameraFrame, CameraImage, CameraSpec, JointCommand, JointState, JointTrajectory, Observation } from '../core/index.js';
import { WorkerRpc } from '../core/index.js';
import { DIM, SharedViews, sharedLayout, H, STATE_WORDS, type SimResults, type SimWorkerInit, type ToSim } from './shared-io.js';
import { CONTROL_DT } from './world.js';
import { STATE_NAMES } from './scene.js';
import type { OperatorRole, SceneInfo, SceneOptions, SceneReport } from './arm.js';
import { checkVariation, NO_VARIATION, type Variation } from './variation.js';
import { expertChunk, expertStride, type ExpertPlanner, type OperatorSample, type SimDriver } from './driver.js';

export interface SimWorkerOptions {
  imageSize?: number;
  cameras?: readonly string[];
  /** Physics period (the sim's own control period), s. Default 0.02. */
  physicsDt?: number;
  /** Realtime mode camera rate. Default 30 Hz. */
  cameraHz?: number;
  /** Frames kept in the ring; a frame's images stay valid for about this many frames. */
  frameSlots?: number;
  /** Points a trajectory may have (sendTrajectory cuts longer ones, and counts them). Default 1024. */
  trajectoryPoints?: number;
  /** The world's variation (default: the original world). */
  variation?: Variation;
}

export class SimWorkerRobot implements SimDriver {
  readonly name = 'vlad-sim-arm';
  readonly jointNames: readonly string[] = STATE_NAMES;
  readonly cameras: readonly CameraSpec[];
  readonly imageSize: number;
  readonly physicsDt: number;
  private readonly views: SharedViews;
  private readonly stateBuf = new Float64Array(STATE_WORDS);
  private readonly referenceBuf = new Float64Array(DIM);
  private readonly opBuf = new Float64Array(1 + DIM);
  /** Trajectories longer than the shared block holds (their tail was cut). */
  trajectoriesCut = 0;
  private readonly positions = new Float64Array(DIM);
  private cachedStateSeq = -1;
  private cachedState: JointState | undefined;
  private cachedFrameNo = 0;
  private cachedFrame: CameraFrame | undefined;
  private cachedOpSeq = 0;
  private cachedOp: OperatorSample | undefined;
  private opCount = 0;
  private running = false;

  private constructor(private readonly rpc: WorkerRpc<ToSim, SimResults>, views: SharedViews, opts: Required<SimWorkerOptions>) {
    this.views = views;
    this.cameras = opts.cameras.map((name) => ({ name, width: opts.imageSize, height: opts.imageSize, channels: 3 }));
    this.imageSize = opts.imageSize;
    this.physicsDt = opts.physicsDt;
  }

  static async start(options: SimWorkerOptions = {}): Promise<SimWorkerRobot> {
    const opts: Required<SimWorkerOptions> = {
      imageSize: options.imageSize ?? 96, cameras: options.cameras ?? ['scene', 'wrist'],
      physicsDt: options.physicsDt ?? CONTROL_DT, cameraHz: options.cameraHz ?? 30, frameSlots: options.frameSlots ?? 8,
      trajectoryPoints: options.trajectoryPoints ?? 1024, variation: checkVariation(options.variation ?? NO_VARIATION),
    };
    const layout = sharedLayout(opts.cameras.length, opts.imageSize, opts.frameSlots, opts.trajectoryPoints);
    const sab = new SharedArrayBuffer(layout.bytes);
    const init: SimWorkerInit = { sab, imageSize: opts.imageSize, cameras: [...opts.cameras], physicsDt: opts.physicsDt, cameraHz: opts.cameraHz, frameSlots: opts.frameSlots, trajectoryPoints: opts.trajectoryPoints, variation: opts.variation };
    const rpc = new WorkerRpc<ToSim, SimResults>(new URL('./sim-worker.js', import.meta.url), { name: 'sim worker', workerOptions: { workerData: init } });
    try {
      await rpc.ready();
    } catch (err) {
      await rpc.terminate();
      throw err;
    }
    return new SimWorkerRobot(rpc, new SharedViews(sab, layout), opts);
  }

  async resetScene(scene: SceneOptions): Promise<SceneInfo> {
    const info = await this.rpc.call<'reset'>({ op: 'reset', scene });
    this.cachedStateSeq = -1;
    this.cachedState = undefined;
    this.cachedFrameNo = 0;
    this.cachedFrame = undefined;
    return info;
  }

  advance(ticks = 1, render = true): Promise<number> { return this.rpc.call<'advance'>({ op: 'advance', ticks, render }); }

  async startRealtime(epochNs: bigint = process.hrtime.bigint()): Promise<void> {
    if (this.running) throw new Error('sim worker: already running in realtime');
    await this.rpc.call<'start'>({ op: 'start', epochNs: Number(epochNs) });
    this.running = true;
  }

  async stopRealtime(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    await this.rpc.call<'stop'>({ op: 'stop' });
  }

  get realtime(): boolean { return this.running; }

  report(): Promise<SceneReport> { return this.rpc.call<'report'>({ op: 'report' }); }

  async setOperator(on: boolean, role: OperatorRole = 'drive'): Promise<void> {
    await this.rpc.call<'operator'>({ op: 'operator', on, role });
  }

  view(camera: string, size: number): Promise<CameraImage> { return this.rpc.call<'view'>({ op: 'view', camera, size }); }

  /** Full physics state (qpos, qvel, time), for determinism checks. */
  physicsState(): Promise<Float64Array> { return this.rpc.call<'physicsState'>({ op: 'physicsState' }); }

  /** Physics ticks the worker ran late by a whole period or more (realtime mode). */
  get overruns(): number { return Atomics.load(this.views.header, H.OVERRUNS); }
  get succeeded(): boolean { return Atomics.load(this.views.header, H.SUCCESS) === 1; }
  get operatorActive(): boolean { return Atomics.load(this.views.header, H.OP_ACTIVE) === 1; }
  get steps(): number { return Atomics.load(this.views.header, H.STEP); }
  get commandsApplied(): number { return Atomics.load(this.views.header, H.CMD_APPLIED); }
  get trajectoriesApplied(): number { return Atomics.load(this.views.header, H.TRAJ_APPLIED); }

  /** The joint targets the arm's controller tracked at the newest joint state. Valid until the next call. */
  reference(): Float64Array | undefined {
    if (!this.readState()) return undefined;
    for (let i = 0; i < DIM; i++) this.referenceBuf[i] = this.stateBuf[1 + DIM + i]!;
    return this.referenceBuf;
  }

  // --- RobotDriver ---
  readState(): JointState | undefined {
    const seq = Atomics.load(this.views.header, H.STATE_SEQ);
    if (seq === this.cachedStateSeq) return this.cachedState;
    if (!this.views.readState(this.stateBuf)) return this.cachedState;
    this.cachedStateSeq = seq;
    for (let i = 0; i < DIM; i++) this.positions[i] = this.stateBuf[1 + i]!;
    this.cachedState = { stampNs: BigInt(this.stateBuf[0]!), positions: this.positions };
    return this.cachedState;
  }

  /**
   * The newest frame with the joint state it was taken with. The images are views into the shared
   * ring: valid until the sim has written `frameSlots` more frames (copy to keep longer).
   */
  readFrame(): CameraFrame | undefined {
    const n = Atomics.load(this.views.header, H.FRAME_NO);
    if (n === 0) return undefined;
    if (n === this.cachedFrameNo) return this.cachedFrame;
    const slot = this.views.frameSlot(n);
    const images: Record<string, CameraImage> = {};
    this.cameras.forEach((c, i) => { images[c.name] = { width: this.imageSize, height: this.imageSize, data: this.views.frames[slot]![i]! }; });
    const state = new Float32Array(DIM);
    this.views.frameState(n, state);
    this.cachedFrameNo = n;
    this.cachedFrame = { seq: n, stampNs: BigInt(this.views.frameStamp(n)), images, state };
    return this.cachedFrame;
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

  readOperator(): OperatorSample | undefined {
    const seq = this.views.readOperator(this.opBuf);
    if (seq <= 0 || seq === this.cachedOpSeq) return seq === 0 ? undefined : this.cachedOp;
    this.cachedOpSeq = seq;
    this.cachedOp = { seq: ++this.opCount, perturbation: this.opBuf[0] === 1, positions: this.opBuf.slice(1) };
    return this.cachedOp;
  }

  expertPlanner(horizon = 50, chunkDt = this.physicsDt): ExpertPlanner {
    const stride = expertStride(chunkDt, this.physicsDt);
    return {
      plan: async (obs: Observation): Promise<ActionChunk> => {
        return expertChunk(obs, chunkDt, horizon, await this.rpc.call<'expertPlan'>({ op: 'expertPlan', stampNs: Number(obs.stampNs), horizon, stride }));
      },
    };
  }

  async close(): Promise<void> {
    if (!this.rpc.alive) { await this.rpc.terminate(); return; }
    if (this.running) await this.stopRealtime().catch(() => undefined);
    try { await this.rpc.call<'close'>({ op: 'close' }); } catch { /* going away regardless */ }
    await this.rpc.terminate();
  }
}
