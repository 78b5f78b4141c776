// The simulated arm on the caller's thread, lockstep only: the same SimArm the sim worker hosts,
// behind the same driver interface, with no thread hop. Reproducible and identical to the worker
// in lockstep (test/sim/worker-robot.test.ts); realtime needs the worker.
import type { ActionChunk, CameraFrame, CameraImage, CameraSpec, JointCommand, JointState, JointTrajectory, Observation } from '../core/index.js';
import { DIM, SimArm, type OperatorRole, type SceneInfo, type SceneOptions, type SceneReport } from './arm.js';
import type { Variation } from './variation.js';
import { CONTROL_DT } from './world.js';
import { STATE_NAMES } from './scene.js';
import { expertChunk, expertStride, type ExpertPlanner, OperatorSample, SimDriver } from './driver.js';

export interface SimRobotOptions {
  /** Camera image size (square); the policy bundle's io.cameras decides it. */
  imageSize?: number;
  physicsDt?: number;
  cameras?: readonly string[];
  /** The world's variation (default: the original world). */
  variation?: Variation;
}

export class SimRobot implements SimDriver {
  readonly name = 'vlad-sim-arm';
  readonly jointNames: readonly string[] = STATE_NAMES;
  readonly cameras: readonly CameraSpec[];
  readonly realtime = false;
  private state: JointState | undefined;
  private frame: CameraFrame | undefined;
  private pendingCommand: Float64Array | undefined;
  private op: OperatorSample | undefined;
  private opSeq = 0;

  private constructor(readonly arm: SimArm, private readonly imageSize: number) {
    this.cameras = arm.opts.cameras.map((name) => ({ name, width: imageSize, height: imageSize, channels: 3 }));
  }

  static async create(opts: SimRobotOptions = {}): Promise<SimRobot> {
    const size = opts.imageSize ?? 96;
    return new SimRobot(await SimArm.create({ physicsDt: opts.physicsDt ?? CONTROL_DT, imageSize: size, cameras: opts.cameras ?? ['scene', 'wrist'], ...(opts.variation ? { variation: opts.variation } : {}) }), size);
  }

  get physicsDt(): number { return this.arm.physicsDt; }
  get succeeded(): boolean { return this.arm.success; }
  get operatorActive(): boolean { return this.arm.operatorActive; }
  get steps(): number { return this.arm.steps; }
  get world() { return this.arm.world; }

  private nowNs(): bigint { return BigInt(this.arm.clockNs); }

  async resetScene(scene: SceneOptions): Promise<SceneInfo> {
    const info = this.arm.reset(scene);
    this.pendingCommand = undefined;
    this.op = undefined;
    this.publish(true);
    return info;
  }

  private publish(pixels: boolean): void {
    const stampNs = this.nowNs();
    const q = new Float32Array(DIM);
    this.arm.jointState(q);
    this.state = { stampNs, positions: Float64Array.from(q) };
    const buffers = this.cameras.map((c) => new Uint8Array(c.width * c.height * 3));
    if (pixels) this.arm.render(buffers);
    const images: Record<string, CameraImage> = {};
    this.cameras.forEach((c, i) => { images[c.name] = { width: c.width, height: c.height, data: buffers[i]! }; });
    this.frame = { seq: (this.frame?.seq ?? 0) + 1, stampNs, images, state: q };
  }

  async advance(ticks = 1, render = true): Promise<number> {
    const dtNs = Math.round(this.arm.physicsDt * 1e9);
    for (let i = 0; i < ticks; i++) {
      if (this.pendingCommand) { this.arm.applyCommand(this.pendingCommand); this.pendingCommand = undefined; }
      this.arm.step(this.arm.clockNs + dtNs);
      this.takeOperator();
    }
    this.publish(render);
    return this.arm.steps;
  }

  private takeOperator(): void {
    const c = this.arm.operatorAct();
    if (c) this.op = { seq: ++this.opSeq, positions: c.positions, perturbation: c.perturbation };
  }

  async startRealtime(): Promise<void> { throw new Error('SimRobot runs lockstep only; use SimWorkerRobot for realtime'); }
  async stopRealtime(): Promise<void> {}
  async report(): Promise<SceneReport> { return this.arm.report(); }

  async setOperator(on: boolean, role: OperatorRole = 'drive'): Promise<void> {
    if (on) { this.arm.startOperator(role); this.takeOperator(); } else this.arm.stopOperator();
  }

  readOperator(): OperatorSample | undefined { return this.op; }

  async view(camera: string, size: number): Promise<CameraImage> { return this.arm.renderView(camera, this.arm.newRenderer(size)); }

  readState(): JointState | undefined { return this.state; }
  readFrame(): CameraFrame | undefined { return this.frame; }
  sendCommand(cmd: JointCommand): void { this.pendingCommand = Float64Array.from(cmd.positions); }

  sendTrajectory(traj: JointTrajectory): void {
    if (traj.jointNames.length !== DIM) throw new Error(`sim trajectory: ${traj.jointNames.length} joints, the arm has ${DIM}`);
    this.pendingCommand = undefined;
    this.arm.takeTrajectory((buf) => {
      const n = Math.min(traj.points.length, buf.times.length);
      buf.stampNs = Number(traj.stampNs);
      buf.count = n;
      for (let k = 0; k < n; k++) {
        const p = traj.points[k]!;
        buf.times[k] = p.timeFromStartS;
        buf.positions.set(p.positions.subarray(0, DIM), k * DIM);
        buf.velocities.set(p.velocities.subarray(0, DIM), k * DIM);
      }
      return n > 0;
    });
  }

  physicsState(): Float64Array { return this.arm.physicsState(); }

  expertPlanner(horizon = 50, chunkDt = this.physicsDt): ExpertPlanner {
    const stride = expertStride(chunkDt, this.physicsDt);
    return {
      plan: async (obs: Observation): Promise<ActionChunk> => {
        return expertChunk(obs, chunkDt, horizon, this.arm.expertPlan(Number(obs.stampNs), horizon, stride));
      },
    };
  }

  async close(): Promise<void> { this.arm.dispose(); }
}
