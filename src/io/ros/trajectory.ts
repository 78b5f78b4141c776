// Outgoing commands as ROS messages. The control loop hands the driver core's JointTrajectory
// (trajectory mode: the next steps as the safety filter will command them, positions + velocities,
// times relative to the stamp) or JointCommand (forward mode: one per tick); these functions turn
// them into trajectory_msgs/JointTrajectory and std_msgs/Float64MultiArray carrying exactly those
// numbers, which is what the simulated arm's JTC samples (sim/jtc.ts).
import type { ActionChunk, JointCommand, JointTrajectory, TrajectoryPoint } from '../../core/index.js';
import { nsToTime, secondsToDuration, ZERO_TIME, type Float64MultiArrayMsg, type JointTrajectoryMsg } from './messages.js';

export interface TrajectoryMessageOptions {
  /**
   * ROS time minus the loop's monotonic clock, ns (the driver measures it once: node.now() -
   * process.hrtime). Given: header.stamp is the trajectory's own start, so JTC runs it on the
   * loop's schedule. Omitted: header.stamp is zero ("start now", JTC's streaming form) and the
   * point times are shifted by how late the message is (`nowNs - stampNs`), points already due
   * dropped, so each point still lands when the loop planned it.
   */
  readonly rosOffsetNs?: bigint;
  /** The loop's clock now, ns (start-now form only). Default: the trajectory's stamp (no shift). */
  readonly nowNs?: bigint;
  /**
   * Zero the last point's velocities: JTC on Jazzy refuses a trajectory that ends moving unless
   * allow_nonzero_velocity_at_trajectory_end is set (Humble's default allows it).
   */
  readonly endAtRest?: boolean;
}

/** trajectory_msgs/JointTrajectory for a trajectory of the control loop. */
export function trajectoryMessage(traj: JointTrajectory, opts: TrajectoryMessageOptions = {}): JointTrajectoryMsg {
  const shiftS = opts.rosOffsetNs === undefined && opts.nowNs !== undefined && opts.nowNs > traj.stampNs ? Number(opts.nowNs - traj.stampNs) / 1e9 : 0;
  const kept = shiftS > 0 ? traj.points.filter((p) => p.timeFromStartS - shiftS > 1e-9) : traj.points;
  const points = kept.map((p, i) => {
    const last = i === kept.length - 1;
    return {
      positions: Float64Array.from(p.positions),
      velocities: opts.endAtRest && last ? new Float64Array(p.velocities.length) : Float64Array.from(p.velocities),
      accelerations: new Float64Array(0),
      effort: new Float64Array(0),
      time_from_start: secondsToDuration(p.timeFromStartS - shiftS),
    };
  });
  const stamp = opts.rosOffsetNs === undefined ? { ...ZERO_TIME } : nsToTime(traj.stampNs + opts.rosOffsetNs);
  return { header: { stamp, frame_id: '' }, joint_names: [...traj.jointNames], points };
}

/** The chunk fields a trajectory is built from (core's ActionChunk, narrowed). */
export type ChunkInput = Pick<ActionChunk, 't0Ns' | 'dt' | 'horizon' | 'actionDim' | 'actions'>;

/**
 * A whole action chunk as a trajectory, for a driver that streams chunks without the control loop
 * (the loop's own trajectories come with the safety filter's velocities): action i at t0 + i*dt,
 * stamped t0; velocities by finite differences (central inside, one-sided at the first point), zero
 * at the last so the arm comes to rest where the chunk ends. Actions at or before `afterNs` (already
 * due) are left out; the times stay relative to t0.
 */
export function chunkTrajectory(chunk: ChunkInput, jointNames: readonly string[], afterNs?: bigint): JointTrajectory {
  const { horizon: H, actionDim: A, dt, actions } = chunk;
  if (jointNames.length !== A) throw new RangeError(`chunk has ${A} actions per step, ${jointNames.length} joint names`);
  if (actions.length !== H * A) throw new RangeError(`chunk has ${actions.length} values for ${H}x${A}`);
  if (!(dt > 0)) throw new RangeError(`chunk dt ${dt}`);
  const at = (i: number, j: number) => actions[i * A + j]!;
  const points: TrajectoryPoint[] = [];
  for (let i = 0; i < H; i++) {
    const tNs = chunk.t0Ns + BigInt(Math.round(i * dt * 1e9));
    if (afterNs !== undefined && tNs <= afterNs) continue;
    const positions = new Float64Array(A);
    const velocities = new Float64Array(A);
    for (let j = 0; j < A; j++) {
      positions[j] = at(i, j);
      if (i === H - 1) velocities[j] = 0;
      else if (i === 0) velocities[j] = (at(1, j) - at(0, j)) / dt;
      else velocities[j] = (at(i + 1, j) - at(i - 1, j)) / (2 * dt);
    }
    points.push({ positions, velocities, timeFromStartS: i * dt });
  }
  return { stampNs: chunk.t0Ns, jointNames: [...jointNames], points, reason: 'plan' };
}

/**
 * std_msgs/Float64MultiArray for forward_command_controller: the positions, one per joint in the
 * controller's joint order (it refuses a size mismatch and ignores the layout, left empty as ros2
 * topic pub sends it).
 */
export function forwardCommandMessage(cmd: Pick<JointCommand, 'positions'>): Float64MultiArrayMsg {
  return { layout: { dim: [], data_offset: 0 }, data: Float64Array.from(cmd.positions) };
}
