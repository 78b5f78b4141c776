// daemon: the composition root. The only folder that knows every capability.
export { Daemon, DaemonError, type DaemonOptions, type EpisodeRequest, type ClockKind } from './daemon.js';
export { loadDaemonConfig, nodeParamsFromFile, NODE_NAME, type DaemonConfig, type LoadOptions, type ParamOverrides } from './config.js';
export { PARAMS_SCHEMA, DEFAULT_PARAMS, ROBOT_KINDS, mergeParams, validateParams, type NodeParams, type RobotKind } from './params.js';
export { Lifecycle, TransitionRefused, TRANSITIONS, TRANSITION_TABLE, LIFECYCLE_STATES, isTransition, type LifecycleState, type Transition } from './lifecycle.js';
export { PARTS, partsFor, type PartSpec, type PartName, type PartContext } from './parts.js';
export { streamTable } from './streams.js';
export { EpisodeManager, type EpisodeOutcome, type EpisodeEndReason } from './episodes.js';
export { LoopStats, type DistributionMs } from './loop-stats.js';
export { trainingConfigInput, type AdapterListing, type LastPass, type LearningStatus } from './learning.js';
export { attachServing, opsMethods, serverCurve } from './serve.js';
export { peerPolicy, readSecretFile, gr00tMapping, openpiMapping } from './peers.js';
