// The control runtime's narrow interfaces. Everything the loop touches from the outside world is
// injected through these, so the same loop drives the MuJoCo sim, a ROS 2 controller, or the
// kinematic model of the tests (Foxglove-style injected I/O). The robot itself is core's
// RobotDriver; the loop needs only its read-state and send side.
import type { ActionChunk, Observation, ObservationSource, RobotDriver } from '../core/index.js';
import type { OperatorCommand, StreamConsumer } from './streams.js';

/** The part of a robot driver the loop uses. */
export type LoopRobot = Pick<RobotDriver, 'readState' | 'sendCommand' | 'sendTrajectory'>;

/** The loop's inputs (the ObservationStore): polled once per tick, asked per consumer whether they are alive. */
export interface LoopInputs extends ObservationSource {
  poll(nowNs: bigint): void;
  /** The first stream `consumer` needs that is stale, or undefined. */
  staleFor(consumer: StreamConsumer, nowNs?: bigint): string | undefined;
  operator(): OperatorCommand | undefined;
}

/**
 * Real-time chunking request: what the robot will execute from the new chunk's t0 on, sampled at
 * the chunk's dt (physical units, row-major [length][actionDim]). The planner freezes the first
 * `frozenSteps` actions and softly guides the rest of the overlap toward it (see rtc.ts).
 */
export interface RtcPrefix {
  readonly actions: Float32Array;
  readonly length: number;
  readonly actionDim: number;
  readonly dt: number;
  /** Estimated inference delay d in chunk steps: these actions run before the new chunk lands. */
  readonly frozenSteps: number;
}

export interface PlanRequest {
  /** Monotonic id of this request within the loop. */
  readonly id: number;
  /** Present only when the loop joins chunks by RTC and has a trajectory to continue. */
  readonly prefix?: RtcPrefix;
}

/** A planner may report its per-stage latency (ms) along with the chunk. */
export interface PlanOutcome {
  readonly chunk: ActionChunk;
  readonly stageMs?: Readonly<Record<string, number>>;
}

/** Anything that turns an observation into a chunk: the PolicyEngine, a remote server, a test. */
export interface ChunkPlanner {
  plan(obs: Observation, request: PlanRequest): Promise<ActionChunk | PlanOutcome>;
}
