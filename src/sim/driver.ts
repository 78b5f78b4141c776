// What the daemon can do with a simulated robot beyond the RobotDriver every robot implements:
// lay out a task scene, step it in lockstep, read the privileged report, and run the scripted
// operator (a teleop device that sees the simulator). Both SimRobot (in-process) and
// SimWorkerRobot (its own thread, lockstep or realtime) implement it.
import type { ActionChunk, CameraImage, Observation, RobotDriver } from '../core/index.js';
import { DIM } from './arm.js';
import type { OperatorRole, SceneInfo, SceneOptions, SceneReport } from './arm.js';

/** The operator's newest command: `seq` increases with every command. */
export interface OperatorSample { seq: number; positions: Float64Array; perturbation: boolean }

export interface SimDriver extends RobotDriver {
  /** Physics period, s. */
  readonly physicsDt: number;
  /** Whether the scene's task has succeeded since the last reset (latched, from the physics). */
  readonly succeeded: boolean;
  /** Physics ticks since the last reset. */
  readonly steps: number;
  /** The scripted operator commands (driving and its script not ended, or supervising and taken over). */
  readonly operatorActive: boolean;
  /** Lays out a seeded task scene with the arm at home; state, frames and commands from before are void. */
  resetScene(scene: SceneOptions): Promise<SceneInfo>;
  /** Lockstep: applies the newest command, steps `ticks` physics periods, publishes a frame (blind unless `render`). */
  advance(ticks: number, render?: boolean): Promise<number>;
  /** Realtime: physics free-runs on the process clock until stopRealtime(). */
  startRealtime(epochNs?: bigint): Promise<void>;
  stopRealtime(): Promise<void>;
  readonly realtime: boolean;
  report(): Promise<SceneReport>;
  /**
   * Starts (from where the arm is) or stops the scripted operator: driving the episode from now
   * on (teleop), or supervising the policy and taking over when it stalls, closes the gripper on
   * nothing, drifts off or runs out of time (intervention; report().takeovers says why).
   */
  setOperator(on: boolean, role?: OperatorRole): Promise<void>;
  /** The scripted operator's newest command (undefined before its first). */
  readOperator(): OperatorSample | undefined;
  /** One camera rendered at another size (videos). */
  view(camera: string, size: number): Promise<CameraImage>;
  /**
   * The scripted expert as a planner: privileged (it reads the simulator), planning from the
   * observation time it is given, `horizon` actions `chunkDt` apart. It ignores RTC prefixes: its
   * chunks already agree with each other where they overlap.
   */
  expertPlanner(horizon?: number, chunkDt?: number): ExpertPlanner;
}

export interface ExpertPlanner { plan(obs: Observation): Promise<ActionChunk> }

/** Physics ticks between a chunk's actions; the chunk dt must be a multiple of the physics period. */
export function expertStride(chunkDt: number, physicsDt: number): number {
  const stride = Math.round(chunkDt / physicsDt);
  if (stride < 1 || Math.abs(stride * physicsDt - chunkDt) > 1e-9) throw new Error(`expert planner: chunk dt ${chunkDt} is not a multiple of the physics period ${physicsDt}`);
  return stride;
}

export function expertChunk(obs: Observation, dt: number, horizon: number, actions: Float32Array): ActionChunk {
  return { t0Ns: obs.stampNs, dt, horizon, actionDim: DIM, actions, modelVersion: 'scripted-expert', adapterVersion: '', noiseSeed: 0, inferenceDelaySteps: 0 };
}
