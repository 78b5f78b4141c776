// The wire between the control process and the simulated robot's thread, laid out in one
// SharedArrayBuffer the way a real arm's driver would expose shared memory: a joint-state block
// and a command block, each behind a seqlock (odd sequence = being written), a trajectory block
// (JointTrajectoryController input, preallocated points, also a seqlock), and a ring of camera
// frames the writer fills in turn, and the scripted operator's newest command (a teleop device's
// output). Nothing crosses by message per tick, so neither side allocates.
import type { TrajectoryPoint } from '../core/index.js';
import { DIM, type OperatorRole, type SceneInfo, type SceneOptions, type SceneReport } from './arm.js';
import type { Variation } from './variation.js';
import type { CameraImage } from '../core/index.js';

export { DIM };

// Int32 header slots.
export const H = {
  STATE_SEQ: 0,
  CMD_SEQ: 1,
  /** Number of the newest complete frame (0 = none yet). */
  FRAME_NO: 2,
  /** Latched task success since the last reset. */
  SUCCESS: 3,
  /** Physics ticks since the last reset. */
  STEP: 4,
  /** Realtime mode: the worker sleeps on this word between physics ticks. */
  WAKE: 5,
  /** Realtime mode: physics ticks that started later than one period (the "hardware" lagging). */
  OVERRUNS: 6,
  /** Commands the worker has applied (CMD_SEQ / 2 it saw last). */
  CMD_APPLIED: 7,
  /** Seqlock of the trajectory block (control thread writes). */
  TRAJ_SEQ: 8,
  /** Trajectories the worker has taken in. */
  TRAJ_APPLIED: 9,
  /** Seqlock of the operator block (sim thread writes; 0 = no command since the operator started). */
  OP_SEQ: 10,
  /** 1 while the scripted operator commands (its script running: driving, or supervising and taken over). */
  OP_ACTIVE: 11,
  COUNT: 16,
} as const;

export interface SharedLayout {
  readonly cameras: number;
  readonly imageBytes: number;
  readonly frameSlots: number;
  /** Points the trajectory block holds. */
  readonly trajectoryPoints: number;
  readonly bytes: number;
  readonly headerOff: number;
  /** Float64: [stampNs, positions(DIM), reference(DIM)] (reference: what the arm's controller tracks). */
  readonly stateOff: number;
  /** Float64: [positions(DIM)]. */
  readonly cmdOff: number;
  /** Float64 per slot: [stampNs, frameNo, state(DIM)] (the joint state the frame was taken with). */
  readonly frameMetaOff: number;
  /** Float64: [stampNs, count, times(points), positions(points*DIM), velocities(points*DIM)]. */
  readonly trajOff: number;
  /** Float64: [perturbation (0/1), positions(DIM)]. */
  readonly opOff: number;
  readonly framesOff: number;
}

const FRAME_META = 2 + DIM;
export const STATE_WORDS = 1 + 2 * DIM;

export function sharedLayout(cameras: number, imageSize: number, frameSlots = 8, trajectoryPoints = 1024): SharedLayout {
  const imageBytes = imageSize * imageSize * 3;
  const headerOff = 0;
  const stateOff = H.COUNT * 4;
  const cmdOff = stateOff + STATE_WORDS * 8;
  const frameMetaOff = cmdOff + DIM * 8;
  const trajOff = frameMetaOff + frameSlots * FRAME_META * 8;
  const opOff = trajOff + (2 + trajectoryPoints * (1 + 2 * DIM)) * 8;
  const framesOff = opOff + (1 + DIM) * 8;
  const bytes = framesOff + frameSlots * cameras * imageBytes;
  return { cameras, imageBytes, frameSlots, trajectoryPoints, bytes, headerOff, stateOff, cmdOff, frameMetaOff, trajOff, opOff, framesOff };
}

/** One trajectory as it travels (JointTrajectory's points, flattened; see jtc.ts). */
export interface TrajectoryView {
  stampNs: number;
  count: number;
  readonly times: Float64Array;
  readonly positions: Float64Array;
  readonly velocities: Float64Array;
}

/** Typed views over the shared buffer; both threads build one. */
export class SharedViews {
  readonly header: Int32Array;
  readonly state: Float64Array;
  readonly cmd: Float64Array;
  readonly frameMeta: Float64Array;
  readonly op: Float64Array;
  /** frames[slot][camera] */
  readonly frames: Uint8Array[][];
  private readonly trajHead: Float64Array;
  private readonly traj: TrajectoryView;

  constructor(readonly sab: SharedArrayBuffer, readonly layout: SharedLayout) {
    this.header = new Int32Array(sab, layout.headerOff, H.COUNT);
    this.state = new Float64Array(sab, layout.stateOff, STATE_WORDS);
    const P = layout.trajectoryPoints;
    this.trajHead = new Float64Array(sab, layout.trajOff, 2);
    this.traj = {
      stampNs: 0, count: 0,
      times: new Float64Array(sab, layout.trajOff + 16, P),
      positions: new Float64Array(sab, layout.trajOff + 16 + P * 8, P * DIM),
      velocities: new Float64Array(sab, layout.trajOff + 16 + P * 8 * (1 + DIM), P * DIM),
    };
    this.cmd = new Float64Array(sab, layout.cmdOff, DIM);
    this.frameMeta = new Float64Array(sab, layout.frameMetaOff, layout.frameSlots * FRAME_META);
    this.op = new Float64Array(sab, layout.opOff, 1 + DIM);
    this.frames = Array.from({ length: layout.frameSlots }, (_, s) =>
      Array.from({ length: layout.cameras }, (_, c) => new Uint8Array(sab, layout.framesOff + (s * layout.cameras + c) * layout.imageBytes, layout.imageBytes)));
  }

  // --- writer side of the joint-state seqlock (sim thread) ---
  writeState(stampNs: number, q: ArrayLike<number>, reference: ArrayLike<number>): void {
    Atomics.add(this.header, H.STATE_SEQ, 1);
    this.state[0] = stampNs;
    for (let i = 0; i < DIM; i++) this.state[1 + i] = q[i]!;
    for (let i = 0; i < DIM; i++) this.state[1 + DIM + i] = reference[i]!;
    Atomics.add(this.header, H.STATE_SEQ, 1);
  }

  /** Copies the newest consistent joint state into `out` ([stamp, q..., reference...]); false if none yet. */
  readState(out: Float64Array): boolean {
    for (let tries = 0; tries < 1000; tries++) {
      const s1 = Atomics.load(this.header, H.STATE_SEQ);
      if (s1 === 0) return false;
      if (s1 & 1) continue;
      out.set(this.state);
      if (Atomics.load(this.header, H.STATE_SEQ) === s1) return true;
    }
    return false;
  }

  // --- command seqlock (control thread writes, sim thread reads) ---
  writeCommand(q: ArrayLike<number>): void {
    Atomics.add(this.header, H.CMD_SEQ, 1);
    for (let i = 0; i < DIM; i++) this.cmd[i] = q[i]!;
    Atomics.add(this.header, H.CMD_SEQ, 1);
  }

  /** Reads the newest command into `out`; returns its sequence number (0: none yet, -1: torn). */
  readCommand(out: Float64Array): number {
    const s1 = Atomics.load(this.header, H.CMD_SEQ);
    if (s1 === 0 || s1 & 1) return s1 === 0 ? 0 : -1;
    out.set(this.cmd);
    return Atomics.load(this.header, H.CMD_SEQ) === s1 ? s1 : -1;
  }

  // --- trajectory seqlock (control thread writes, sim thread reads when TRAJ_SEQ changes) ---
  /** Writes a trajectory; returns the points written (at most the capacity: later ones are cut). */
  writeTrajectory(stampNs: number, points: readonly TrajectoryPoint[]): number {
    const n = Math.min(points.length, this.layout.trajectoryPoints);
    const { times, positions, velocities } = this.traj;
    Atomics.add(this.header, H.TRAJ_SEQ, 1);
    this.trajHead[0] = stampNs;
    this.trajHead[1] = n;
    for (let k = 0; k < n; k++) {
      const p = points[k]!;
      times[k] = p.timeFromStartS;
      for (let j = 0; j < DIM; j++) {
        positions[k * DIM + j] = p.positions[j]!;
        velocities[k * DIM + j] = p.velocities[j] ?? 0;
      }
    }
    Atomics.add(this.header, H.TRAJ_SEQ, 1);
    return n;
  }

  /** Copies the trajectory of sequence `seq` into `out`; false if it was being rewritten meanwhile. */
  readTrajectory(seq: number, out: TrajectoryView): boolean {
    if (seq === 0 || seq & 1) return false;
    const n = Math.min(this.trajHead[1]!, out.times.length);
    out.stampNs = this.trajHead[0]!;
    out.count = n;
    out.times.set(this.traj.times.subarray(0, n));
    out.positions.set(this.traj.positions.subarray(0, n * DIM));
    out.velocities.set(this.traj.velocities.subarray(0, n * DIM));
    return Atomics.load(this.header, H.TRAJ_SEQ) === seq;
  }

  // --- operator seqlock (sim thread writes each tick the scripted operator acts) ---
  writeOperator(positions: ArrayLike<number>, perturbation: boolean): void {
    Atomics.add(this.header, H.OP_SEQ, 1);
    this.op[0] = perturbation ? 1 : 0;
    for (let i = 0; i < DIM; i++) this.op[1 + i] = positions[i]!;
    Atomics.add(this.header, H.OP_SEQ, 1);
  }

  /** Copies the newest operator command into `out` ([perturbation, positions...]); its sequence, 0 if none, -1 if torn. */
  readOperator(out: Float64Array): number {
    const s1 = Atomics.load(this.header, H.OP_SEQ);
    if (s1 === 0 || s1 & 1) return s1 === 0 ? 0 : -1;
    out.set(this.op);
    return Atomics.load(this.header, H.OP_SEQ) === s1 ? s1 : -1;
  }

  // --- frame ring (sim thread writes slot frameNo % slots, then publishes FRAME_NO) ---
  frameSlot(frameNo: number): number { return frameNo % this.layout.frameSlots; }

  publishFrame(frameNo: number, stampNs: number, q: ArrayLike<number>): void {
    const m = this.frameSlot(frameNo) * FRAME_META;
    this.frameMeta[m] = stampNs;
    this.frameMeta[m + 1] = frameNo;
    for (let i = 0; i < DIM; i++) this.frameMeta[m + 2 + i] = q[i]!;
    Atomics.store(this.header, H.FRAME_NO, frameNo);
  }

  frameStamp(frameNo: number): number { return this.frameMeta[this.frameSlot(frameNo) * FRAME_META]!; }
  frameState(frameNo: number, out: Float32Array): void {
    const m = this.frameSlot(frameNo) * FRAME_META + 2;
    for (let i = 0; i < DIM; i++) out[i] = this.frameMeta[m + i]!;
  }
}

// Messages on the worker port (rare: setup, episode boundaries, lockstep stepping, privileged plans).
export type ToSim =
  | { id: number; op: 'reset'; scene: SceneOptions }
  | { id: number; op: 'advance'; ticks: number; render: boolean }
  | { id: number; op: 'start'; epochNs: number }
  | { id: number; op: 'stop' }
  | { id: number; op: 'operator'; on: boolean; role: OperatorRole }
  | { id: number; op: 'report' }
  | { id: number; op: 'view'; camera: string; size: number }
  | { id: number; op: 'expertPlan'; stampNs: number; horizon: number; stride: number }
  | { id: number; op: 'physicsState' }
  | { id: number; op: 'close' };

export type SimResults = {
  reset: SceneInfo;
  advance: number;
  start: null;
  stop: null;
  operator: null;
  report: SceneReport;
  view: CameraImage;
  expertPlan: Float32Array;
  physicsState: Float64Array;
  close: null;
};

export interface SimWorkerInit {
  sab: SharedArrayBuffer;
  imageSize: number;
  cameras: string[];
  /** Physics tick period, s (the sim's control period). */
  physicsDt: number;
  /** Realtime mode: camera frames per second. Lockstep renders when asked. */
  cameraHz: number;
  frameSlots: number;
  trajectoryPoints: number;
  variation: Variation;
}
