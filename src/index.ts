// vlad as a library (package.json "main"): the daemon and the clients of its sockets, the RLDS
// recorder and reader, the policy engine, and the shared contracts. The `vlad` command is
// src/cli/main.ts.
export { Daemon, DaemonError, loadDaemonConfig, attachServing, PARAMS_SCHEMA, DEFAULT_PARAMS, type DaemonOptions, type DaemonConfig, type EpisodeRequest, type EpisodeOutcome, type NodeParams } from './daemon/index.js';
export { OpsClient, OpsCallError, TelemetrySubscriber, TeleopPublisher, type TelemetryMessage } from './io/zmq/index.js';
export { openRecorder, openDataset, validateDataset, recorderSpecFromBundleIO, type Recorder, type RecorderOptions } from './rlds/index.js';
export { PolicyEngine, type EngineOptions, type InferResult } from './policy/index.js';
export type { ActionChunk, Observation, CameraImage, CameraSpec, CameraFrame, ControlMode, OperatingMode, RobotDriver, JointState, JointCommand, JointTrajectory, TrajectoryPoint } from './core/index.js';
