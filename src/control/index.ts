// control: the loop that turns chunks and operator commands into robot commands at the control
// rate (queue, joining, hand-over, safety filter, watchdog), and the observation store it reads.
export { ControlLoop, DEFAULT_REPLAN_THRESHOLD } from './loop.js';
export type { ControlLoopOptions, ControlLoopStats, ControlTelemetry, ComputeGate, TickRecord, TickTap } from './loop.js';
export { ActionQueue } from './action-queue.js';
export type { JoinConfig, JoinMethod, QueuedChunk } from './action-queue.js';
export { JOIN_METHODS } from './action-queue.js';
export { SafetyFilter, SAFETY_RULES } from './safety.js';
export type { SafetyRule, CommandState } from './safety.js';
export { Watchdog, WATCHDOG_EVENTS } from './watchdog.js';
export type { WatchdogState, WatchdogEvent } from './watchdog.js';
export { Handover, Blend, DEFAULT_HANDOVER } from './handover.js';
export type { HandoverConfig, Commander, HandoverDecision } from './handover.js';
export { ObservationStore } from './streams.js';
export type { StreamSpec, StreamStatus, StreamConsumer, OperatorCommand, OperatorInput, StreamDriver } from './streams.js';
export { Ratekeeper, TickAccountant, nextTimerMarginMs } from './ratekeeper.js';
export type { RatekeeperOptions, TickTiming } from './ratekeeper.js';
export { warmUpControlPath } from './warmup.js';
export type { WarmUpOptions, WarmUpResult } from './warmup.js';
export { loadRobotDescription, parseRobotDescription, RobotDescriptionError } from './limits.js';
export type { RobotDescription, JointLimits } from './limits.js';
export { BoundaryMeter } from './boundary-meter.js';
export { plannerFromEngine, timedPlanner, gatedPlanner, DelayedPlanner } from './planner.js';
export type { InferenceEngine } from './planner.js';
export type { ChunkPlanner, PlanRequest, PlanOutcome, RtcPrefix, LoopRobot, LoopInputs } from './types.js';
