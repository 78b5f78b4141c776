// The table of the daemon's parts and when each runs (openpilot's process_config): one line per
// part, with a predicate over the daemon's state. Reading this file tells you the whole daemon;
// the daemon starts and stops parts by reconciling it after every transition and mode change.
import type { OperatingMode } from '../core/index.js';
import type { LifecycleState } from './lifecycle.js';
import type { RobotKind } from './params.js';

export interface PartContext {
  readonly lifecycle: LifecycleState;
  readonly mode: OperatingMode;
  readonly robot: RobotKind;
  /** A dataset directory is configured. */
  readonly recording: boolean;
  /** The ops sockets are served (vlad run), not an in-process command. */
  readonly serving: boolean;
  readonly metrics: boolean;
  /** The scripted operator was asked for (sim). */
  readonly operator: boolean;
  /** The peers' protocol servers enabled in the params. */
  readonly gr00t: boolean;
  readonly openpi: boolean;
}

export type PartName = 'ros_node' | 'policy' | 'robot' | 'recorder' | 'teleop' | 'control' | 'scripted_operator' | 'gr00t' | 'openpi' | 'ops' | 'telemetry' | 'metrics';

export interface PartSpec {
  readonly name: PartName;
  /** What it is, for status and logs. */
  readonly what: string;
  readonly runs: (c: PartContext) => boolean;
}

const configured = (c: PartContext) => c.lifecycle === 'inactive' || c.lifecycle === 'active';
const active = (c: PartContext) => c.lifecycle === 'active';
const alive = (c: PartContext) => c.lifecycle !== 'finalized';

export const PARTS: readonly PartSpec[] = [
  // First and in every state (finalized too: it answers the shutdown that finalized it); shutdown() closes it.
  { name: 'ros_node', what: 'ROS 2 lifecycle node (parameters, lifecycle and std_srvs services, /diagnostics); robot ros only', runs: (c) => c.robot === 'ros' },
  // The policy first: a bundle that fails its self-test leaves the robot untouched.
  { name: 'policy', what: 'policy worker: the bundle\'s ORT sessions, self-tested at configure', runs: configured },
  { name: 'robot', what: 'robot driver (sim: MuJoCo arm and cameras; ros: the ROS 2 node)', runs: configured },
  { name: 'recorder', what: 'RLDS recorder (encoder + writer workers)', runs: (c) => configured(c) && c.recording },
  { name: 'teleop', what: 'teleop receiver (ZeroMQ PULL)', runs: configured },
  { name: 'control', what: 'control loop (queue, joining, hand-over, safety filter, watchdog)', runs: active },
  { name: 'scripted_operator', what: 'the simulated arm\'s scripted operator as a teleop device (on request)', runs: (c) => active(c) && c.robot === 'sim' && c.operator && (c.mode === 'teleop' || c.mode === 'intervention') },
  { name: 'gr00t', what: 'GR00T-compatible policy service (ZeroMQ, msgpack)', runs: (c) => configured(c) && c.gr00t },
  { name: 'openpi', what: 'openpi-compatible policy server (WebSocket, msgpack)', runs: (c) => configured(c) && c.openpi },
  { name: 'ops', what: 'ops RPC (ZeroMQ ROUTER)', runs: (c) => alive(c) && c.serving },
  { name: 'telemetry', what: 'telemetry (ZeroMQ PUB): status at 1 Hz, every chunk', runs: (c) => alive(c) && c.serving },
  { name: 'metrics', what: 'Prometheus /metrics (HTTP, loopback)', runs: (c) => alive(c) && c.metrics },
];

/** Which parts should run in `c`. */
export function partsFor(c: PartContext): Set<PartName> {
  return new Set(PARTS.filter((p) => p.runs(c)).map((p) => p.name));
}
