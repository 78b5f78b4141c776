// The robot's side of the driver's messages: what a ros2_control robot publishes (JointState from
// joint_state_broadcaster, camera Image / CompressedImage) and how its controllers read what they
// receive (JointTrajectoryController's ~/joint_trajectory, forward_command_controller's ~/commands).
// The simulated arm over ROS (sim-arm-node.ts) uses these; they are ROS-free and tested directly.
import sharp from 'sharp';
import type { CameraImage, JointTrajectory, TrajectoryPoint } from '../../core/index.js';
import { RosInputError } from './errors.js';
import { durationToSeconds, isZeroTime, timeToNs, type CompressedImageMsg, type Float64MultiArrayMsg, type ImageMsg, type JointStateMsg, type JointTrajectoryMsg, type Time } from './messages.js';

/** sensor_msgs/JointState as joint_state_broadcaster publishes it: every joint, positions (and velocities when known). */
export function jointStateMessage(names: readonly string[], positions: ArrayLike<number>, stamp: Time, velocities?: ArrayLike<number>): JointStateMsg {
  if (positions.length !== names.length) throw new RangeError(`${names.length} joint names, ${positions.length} positions`);
  if (velocities && velocities.length !== names.length) throw new RangeError(`${names.length} joint names, ${velocities.length} velocities`);
  return {
    header: { stamp, frame_id: '' },
    name: [...names],
    position: Float64Array.from(positions),
    velocity: velocities ? Float64Array.from(velocities) : new Float64Array(0),
    effort: new Float64Array(0),
  };
}

/** sensor_msgs/Image, rgb8, tightly packed (step = width * 3). */
export function rgbImageMessage(img: CameraImage, stamp: Time, frameId: string): ImageMsg {
  return { header: { stamp, frame_id: frameId }, height: img.height, width: img.width, encoding: 'rgb8', is_bigendian: 0, step: img.width * 3, data: img.data };
}

/** sensor_msgs/CompressedImage as image_transport's compressed plugin publishes it (JPEG). */
export async function jpegImageMessage(img: CameraImage, stamp: Time, frameId: string, quality = 90): Promise<CompressedImageMsg> {
  const jpeg = await sharp(img.data, { raw: { width: img.width, height: img.height, channels: 3 } }).jpeg({ quality }).toBuffer();
  return { header: { stamp, frame_id: frameId }, format: 'rgb8; jpeg compressed bgr8', data: new Uint8Array(jpeg.buffer, jpeg.byteOffset, jpeg.byteLength) };
}

/** Where a received trajectory starts, in the robot's own clock. */
export interface TrajectoryClocks {
  /** The receiving node's ROS time now, ns (what a non-zero header.stamp is compared with). */
  readonly rosNowNs: bigint;
  /** The robot's clock now, ns (what the controller samples the trajectory on). */
  readonly localNowNs: bigint;
}

/**
 * A JointTrajectory as JointTrajectoryController takes it from its topic, or a refusal
 * (RosInputError) where JTC would reject it: joint names must be exactly the controller's joints
 * (any order; partial goals are off by default), at least one point, time_from_start strictly
 * increasing, positions for every joint, velocities for every joint or none, all finite, and a
 * stamped trajectory must not end in the past. header.stamp zero starts it on receipt; otherwise
 * at that ROS time (mapped to the robot's clock). JTC interpolates a positions-only trajectory
 * linearly; the simulated controller (sim/jtc.ts) is a cubic Hermite sampler, so positions-only
 * points get finite-difference velocities (zero at the last point) instead.
 */
export function trajectoryFromMessage(msg: JointTrajectoryMsg, jointNames: readonly string[], clocks: TrajectoryClocks, what = 'joint_trajectory'): JointTrajectory {
  const n = jointNames.length;
  const names = msg.joint_names ?? [];
  const order = names.map((name) => jointNames.indexOf(name));
  const unknown = names.filter((_, i) => order[i]! < 0);
  if (unknown.length) throw new RosInputError('unknown_joint', `${what}: unknown joint${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')} (the controller has ${jointNames.join(', ')})`);
  if (new Set(names).size !== names.length) throw new RosInputError('unknown_joint', `${what}: a joint is listed twice`);
  const missing = jointNames.filter((j) => !names.includes(j));
  if (missing.length) throw new RosInputError('missing_joint', `${what}: missing joint${missing.length > 1 ? 's' : ''} ${missing.join(', ')} (partial goals are not allowed)`);
  const pts = msg.points ?? [];
  if (pts.length === 0) throw new RosInputError('size', `${what}: no points`);
  let last = -Infinity;
  const withVel = (pts[0]!.velocities?.length ?? 0) > 0;
  const points: TrajectoryPoint[] = pts.map((p, k) => {
    const t = durationToSeconds(p.time_from_start);
    if (!Number.isFinite(t) || t < 0 || t <= last) throw new RosInputError('timing', `${what}: point ${k} time_from_start ${t} s does not come after ${last} s`);
    last = t;
    if (p.positions.length !== n) throw new RosInputError('length', `${what}: point ${k} has ${p.positions.length} positions for ${n} joints`);
    const vl = p.velocities?.length ?? 0;
    if (vl !== (withVel ? n : 0)) throw new RosInputError('length', `${what}: point ${k} has ${vl} velocities (every point needs ${withVel ? n : 0})`);
    const positions = new Float64Array(n);
    const velocities = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      const j = order[i]!;
      positions[j] = p.positions[i]!;
      if (withVel) velocities[j] = p.velocities[i]!;
      if (!Number.isFinite(positions[j]!) || !Number.isFinite(velocities[j]!)) throw new RosInputError('nan', `${what}: point ${k}, joint '${names[i]}' is not finite`);
    }
    return { positions, velocities, timeFromStartS: t };
  });
  if (!withVel) finiteDifferenceVelocities(points);
  let stampNs = clocks.localNowNs;
  if (!isZeroTime(msg.header.stamp)) {
    const startRos = timeToNs(msg.header.stamp);
    const endRos = startRos + BigInt(Math.round(last * 1e9));
    if (endRos < clocks.rosNowNs) throw new RosInputError('stale', `${what}: trajectory ended ${Number(clocks.rosNowNs - endRos) / 1e9} s ago`);
    stampNs = clocks.localNowNs + (startRos - clocks.rosNowNs);
  }
  return { stampNs, jointNames: [...jointNames], points, reason: 'plan' };
}

function finiteDifferenceVelocities(points: TrajectoryPoint[]): void {
  const n = points.length;
  for (let k = 0; k < n - 1; k++) {
    const a = points[k === 0 ? 0 : k - 1]!, b = points[k + 1]!;
    const dt = b.timeFromStartS - a.timeFromStartS;
    for (let j = 0; j < a.positions.length; j++) points[k]!.velocities[j] = (b.positions[j]! - a.positions[j]!) / dt;
  }
}

/** forward_command_controller's ~/commands: one value per joint, in the controller's order; a size mismatch is refused. */
export function forwardCommandPositions(msg: Float64MultiArrayMsg, dim: number, what = 'commands'): Float64Array {
  const d = msg.data ?? [];
  if (d.length !== dim) throw new RosInputError('length', `${what}: ${d.length} values for ${dim} joints`);
  const out = Float64Array.from(d);
  const bad = out.findIndex((x) => !Number.isFinite(x));
  if (bad >= 0) throw new RosInputError('nan', `${what}: value ${bad} is ${out[bad]}`);
  return out;
}
