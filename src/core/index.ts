// core: the floor everything stands on (contracts, time, stats, config loading, logging, worker
// RPC, thread priority). It imports nothing of vlad's.
export * from './contracts.js';
export * from './time.js';
export { percentile, summarize } from './stats.js';
export { ConfigError, compileSchema, validateConfig, parseYamlText, readYamlFile } from './config.js';
export { firstSchemaError } from './schema-error.js';
export { createLogger, rootLogger, silentLogger, commandLogger, formatLine, type Logger, type LoggerOptions } from './log.js';
export { WorkerRpc, serveRpc, plainWireError, type RpcReply, type RpcRequest, type WireError, type WorkerRpcOptions } from './worker-rpc.js';
export { packageRoot, packagePath, shippedBundlePath } from './paths.js';
export { raiseThreadPriority, resetThreadPriority, threadId, idleThreadPriority, schedPolicy, SCHED_IDLE, type PriorityResult } from './priority.js';
export { CpuWake, IDLE_POLL_MODES, isIdlePollMode, probeIdleMachine, decideIdlePoll, type IdlePollMode, type CpuWakeOptions, type CpuWakeReport, type IdleMachine } from './cpu-wake.js';
export { LoopLagProbe } from './loop-lag.js';
export { writeFileAtomic, fsyncDir, readFileIfExists } from './files.js';
export { appendEvent, EVENT_HISTORY } from './event-log.js';
