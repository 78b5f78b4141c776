// ROS 2 messages as rclnodejs 2.2 delivers and accepts them: plain objects, numeric arrays as typed
// arrays when the subscription has enableTypedArray (its default) and as number[] otherwise, and
// builtin_interfaces/Time as {sec, nanosec}. Field names are the .msg files' (snake_case).
// Nothing here imports rclnodejs: the driver's ROS-facing file passes these objects straight through.
import { RosInputError } from './errors.js';

/** rclnodejs type names of the messages the driver uses. */
export const MSG = {
  image: 'sensor_msgs/msg/Image',
  compressedImage: 'sensor_msgs/msg/CompressedImage',
  jointState: 'sensor_msgs/msg/JointState',
  jointTrajectory: 'trajectory_msgs/msg/JointTrajectory',
  float64MultiArray: 'std_msgs/msg/Float64MultiArray',
  string: 'std_msgs/msg/String',
  diagnosticArray: 'diagnostic_msgs/msg/DiagnosticArray',
} as const;

/** float64[] / uint8[] fields: a typed array (enableTypedArray, the default) or a plain array. */
export type Float64Seq = Float64Array | readonly number[];
export type Uint8Seq = Uint8Array | readonly number[];

/** builtin_interfaces/Time: sec int32, nanosec uint32 in [0, 1e9). */
export interface Time { sec: number; nanosec: number }
/** builtin_interfaces/Duration: same layout; a negative duration has sec < 0 and nanosec >= 0. */
export interface Duration { sec: number; nanosec: number }

export interface Header { stamp: Time; frame_id: string }

export interface ImageMsg {
  header: Header;
  height: number;
  width: number;
  encoding: string;
  is_bigendian: number;
  /** Row length in bytes (>= width * bytes per pixel; rows may be padded). */
  step: number;
  data: Uint8Seq;
}

export interface CompressedImageMsg {
  header: Header;
  /** "jpeg", "png", or image_transport's "<encoding>; jpeg compressed bgr8". */
  format: string;
  data: Uint8Seq;
}

export interface JointStateMsg {
  header: Header;
  name: readonly string[];
  /** Each array has name's length, or is empty. */
  position: Float64Seq;
  velocity: Float64Seq;
  effort: Float64Seq;
}

export interface JointTrajectoryPointMsg {
  positions: Float64Seq;
  velocities: Float64Seq;
  accelerations: Float64Seq;
  effort: Float64Seq;
  time_from_start: Duration;
}

export interface JointTrajectoryMsg {
  /** stamp {0, 0}: JTC starts the trajectory when it receives it; else at that ROS time. */
  header: Header;
  joint_names: string[];
  points: JointTrajectoryPointMsg[];
}

export interface MultiArrayDimension { label: string; size: number; stride: number }
export interface Float64MultiArrayMsg { layout: { dim: MultiArrayDimension[]; data_offset: number }; data: Float64Seq }

export interface StringMsg { data: string }

/** diagnostic_msgs/DiagnosticStatus levels (a byte). */
export const DiagnosticLevel = { OK: 0, WARN: 1, ERROR: 2, STALE: 3 } as const;
export type DiagnosticLevel = (typeof DiagnosticLevel)[keyof typeof DiagnosticLevel];

export interface KeyValue { key: string; value: string }
export interface DiagnosticStatusMsg { level: DiagnosticLevel; name: string; message: string; hardware_id: string; values: KeyValue[] }
export interface DiagnosticArrayMsg { header: Header; status: DiagnosticStatusMsg[] }

// --- time ---

const NS_PER_S = 1_000_000_000n;
const INT32_MAX = 2n ** 31n - 1n;

/** ROS time {sec, nanosec} of `ns` nanoseconds (>= 0; int32 seconds). */
export function nsToTime(ns: bigint): Time {
  if (ns < 0n) throw new RangeError(`time ${ns} ns is negative`);
  const sec = ns / NS_PER_S;
  if (sec > INT32_MAX) throw new RangeError(`time ${ns} ns does not fit builtin_interfaces/Time (int32 seconds)`);
  return { sec: Number(sec), nanosec: Number(ns % NS_PER_S) };
}

export function timeToNs(t: Time): bigint {
  return BigInt(t.sec) * NS_PER_S + BigInt(t.nanosec);
}

/** Duration of `s` seconds, rounded to the nanosecond (nanosec always in [0, 1e9), as rcl normalizes it). */
export function secondsToDuration(s: number): Duration {
  if (!Number.isFinite(s)) throw new RangeError(`duration ${s} s is not finite`);
  const ns = BigInt(Math.round(s * 1e9));
  let sec = ns / NS_PER_S;
  let nanosec = ns % NS_PER_S;
  if (nanosec < 0n) { sec -= 1n; nanosec += NS_PER_S; }
  return { sec: Number(sec), nanosec: Number(nanosec) };
}

export function durationToSeconds(d: Duration): number {
  return d.sec + d.nanosec / 1e9;
}

export const ZERO_TIME: Time = Object.freeze({ sec: 0, nanosec: 0 });

export const isZeroTime = (t: Time): boolean => t.sec === 0 && t.nanosec === 0;

/**
 * Refuses a message whose header stamp is more than `maxAgeS` older than `nowNs` (ROS time, ns). A
 * zero stamp means the publisher did not stamp it: not refused (the driver then uses arrival time).
 * A stamp in the future is not refused either (clocks of two machines; the store judges arrival).
 */
export function checkFresh(stamp: Time, nowNs: bigint, maxAgeS: number, what: string): void {
  if (isZeroTime(stamp)) return;
  const ageS = Number(nowNs - timeToNs(stamp)) / 1e9;
  if (ageS > maxAgeS) throw new RosInputError('stale', `${what}: stamp is ${ageS.toFixed(3)} s old (limit ${maxAgeS} s)`);
}
