// The data contracts every floor shares (ARCHITECTURE.md "Core contracts"). Time is monotonic
// nanoseconds (bigint) as in Foxglove's libraries; durations carry their unit in the name.

/** One camera as a robot, a bundle or a dataset declares it: uint8, row-major HWC (channels 3: RGB). */
export interface CameraSpec {
  readonly name: string;
  readonly height: number;
  readonly width: number;
  readonly channels: number;
}

/** One camera frame: uint8 RGB, row-major HWC. */
export interface CameraImage {
  readonly width: number;
  readonly height: number;
  readonly data: Uint8Array; // length = height * width * 3
}

/** What the policy sees at one instant. Object poses are never part of it. */
export interface Observation {
  /** Monotonic capture time of the images (and the state taken with them), ns. */
  readonly stampNs: bigint;
  /** Images keyed by camera name (the bundle's io.cameras names). */
  readonly images: Readonly<Record<string, CameraImage>>;
  /** Joint positions (+ gripper), physical units, bundle io.state order. */
  readonly state: Float32Array;
  readonly instruction: string;
  /** Age of each input stream when the observation was assembled, s (keys: the streams table's names). */
  readonly staleness?: Readonly<Record<string, number>>;
}

/** A planned chunk of H actions, physical units, row-major [H][A]. */
export interface ActionChunk {
  /** Observation time the chunk was planned from, ns. */
  readonly t0Ns: bigint;
  /** Seconds between consecutive actions. */
  readonly dt: number;
  readonly horizon: number;
  readonly actionDim: number;
  readonly actions: Float32Array;
  readonly modelVersion: string;
  readonly adapterVersion: string;
  readonly noiseSeed: number;
  /** Control steps that elapsed while this chunk was computed (filled by the control loop). */
  inferenceDelaySteps: number;
}

/**
 * Who commanded one executed step: the provenance every recorded step carries (RLDS
 * `provenance/control_mode`). `perturbation` is an operator's deliberate error (recovery data that
 * learners never imitate); `hold` is the loop holding or braking with nobody in command.
 */
export type ControlMode = 'policy' | 'teleop' | 'intervention' | 'hold' | 'perturbation';
export const CONTROL_MODES: readonly ControlMode[] = ['policy', 'teleop', 'intervention', 'hold', 'perturbation'];

/** What the daemon does with the robot: who may command it. */
export type OperatingMode = 'idle' | 'autonomous' | 'teleop' | 'intervention';
export const OPERATING_MODES: readonly OperatingMode[] = ['idle', 'autonomous', 'teleop', 'intervention'];

// --- the robot interface: every robot driver (sim, ROS) implements RobotDriver and nothing else ---

/** Measured joint state (sensor_msgs/JointState; order = the driver's jointNames). */
export interface JointState {
  readonly stampNs: bigint;
  readonly positions: ArrayLike<number>;
  readonly velocities?: ArrayLike<number>;
}

/** The newest camera images, with the joint state taken with them when the driver knows it. */
export interface CameraFrame {
  /** Increases with every new frame (0 never used). */
  readonly seq: number;
  /** Capture time of the images, ns. */
  readonly stampNs: bigint;
  readonly images: Readonly<Record<string, CameraImage>>;
  /** Joint positions at capture (drivers that sample both together); else the store uses the newest joint state. */
  readonly state?: Float32Array;
}

/** One per-tick command (forward_command_controller's Float64MultiArray). */
export interface JointCommand {
  /** Scheduled time of the control step this command belongs to, ns. */
  readonly stampNs: bigint;
  readonly step: number;
  readonly positions: Float64Array;
  readonly velocities: Float64Array;
}

/** trajectory_msgs/JointTrajectoryPoint: positions + velocities, so JTC interpolates cubically. */
export interface TrajectoryPoint {
  readonly positions: Float64Array;
  readonly velocities: Float64Array;
  /** Seconds after the trajectory's stamp; strictly increasing. */
  readonly timeFromStartS: number;
}

/** trajectory_msgs/JointTrajectory. `stampNs` is the start time (JTC: header.stamp). */
export interface JointTrajectory {
  readonly stampNs: bigint;
  readonly jointNames: readonly string[];
  readonly points: readonly TrajectoryPoint[];
  /** Why it was sent: a new plan, a streamed operator target, or a braking profile from the watchdog / hard stop. */
  readonly reason: 'plan' | 'teleop' | 'hold' | 'stop';
}

/**
 * A robot as vlad sees it: joint states and camera frames come in, joint commands (per tick) or
 * joint trajectories (per plan) go out. Reads return the newest sample (cached; cheap every tick)
 * and never block; sends never block. Drivers know nothing of control, policy or the daemon.
 */
export interface RobotDriver {
  readonly name: string;
  /** Joint order of states and commands (joints, then gripper). */
  readonly jointNames: readonly string[];
  readonly cameras: readonly CameraSpec[];
  readState(): JointState | undefined;
  readFrame(): CameraFrame | undefined;
  sendCommand(cmd: JointCommand): void;
  sendTrajectory(traj: JointTrajectory): void;
  close(): Promise<void>;
}

/** Latest observation for the planner (the observation store's view). */
export interface ObservationSource {
  latest(): Observation | undefined;
}
