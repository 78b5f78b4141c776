// The simulated arm's ROS face: the robot-side conversions directly (read back with the driver's
// own readers), then RosSimArm on the real simulated arm (MuJoCo, lockstep) through the rclnodejs
// double, with a probe node as a third process on the graph. Time is the double's ROS clock.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { silentLogger } from '../../../src/core/index.js';
import {
  compressedToCamera, forwardCommandPositions, jointStateMessage, jpegImageMessage, JointStateMapper, rawToRgb, rgbImageMessage, RosInputError,
  RosSimArm, trajectoryFromMessage, type JointTrajectoryMsg, type RosInputReason,
} from '../../../src/io/ros/index.js';
import { SimRobot } from '../../../src/sim/index.js';
import { deliveredAs, Graph, rclDouble } from '../../support/rclnodejs-double.js';

const dur = (s: number) => ({ sec: Math.floor(s), nanosec: Math.round((s - Math.floor(s)) * 1e9) });
const point = (positions: number[], t: number, velocities: number[] = []) => ({ positions, velocities, accelerations: [], effort: [], time_from_start: dur(t) });
const traj = (names: string[], points: ReturnType<typeof point>[], stamp = { sec: 0, nanosec: 0 }): JointTrajectoryMsg =>
  deliveredAs('trajectory_msgs/msg/JointTrajectory', { header: { stamp, frame_id: '' }, joint_names: names, points }) as JointTrajectoryMsg;
const CLOCKS = { rosNowNs: 5_000_000_000n, localNowNs: 77_000n };

function refusedFor(reason: RosInputReason, fn: () => unknown, pattern: RegExp): void {
  assert.throws(fn, (e: unknown) => e instanceof RosInputError && e.reason === reason && pattern.test(e.message));
}

test('trajectoryFromMessage takes what JTC takes: any joint order, start now or at the stamp, velocities kept or made', () => {
  const t = trajectoryFromMessage(traj(['b', 'a'], [point([2, 1], 0.1, [20, 10]), point([4, 3], 0.2, [0, 0])]), ['a', 'b'], CLOCKS);
  assert.equal(t.stampNs, CLOCKS.localNowNs, 'stamp zero: starts on receipt, on the robot clock');
  assert.deepEqual(t.points.map((p) => [Array.from(p.positions), Array.from(p.velocities), p.timeFromStartS]), [[[1, 2], [10, 20], 0.1], [[3, 4], [0, 0], 0.2]]);
  // A stamp 0.5 s after the node's ROS now starts 0.5 s after the robot's now.
  const later = trajectoryFromMessage(traj(['a', 'b'], [point([0, 0], 0.1)], { sec: 5, nanosec: 500_000_000 }), ['a', 'b'], CLOCKS);
  assert.equal(later.stampNs, CLOCKS.localNowNs + 500_000_000n);
  // Positions only: finite-difference velocities (forward at the first point, central inside, zero at the end).
  const p = trajectoryFromMessage(traj(['a', 'b'], [point([0, 0], 0.1), point([1, 0], 0.2), point([3, 0], 0.3)]), ['a', 'b'], CLOCKS).points;
  assert.deepEqual(p.map((x) => Number(x.velocities[0]!.toFixed(6))), [10, 15, 0]);
});

test('trajectoryFromMessage refuses what JTC rejects, naming the problem', () => {
  const j = ['a', 'b'];
  refusedFor('unknown_joint', () => trajectoryFromMessage(traj(['a', 'b', 'c'], [point([0, 0, 0], 0.1)]), j, CLOCKS), /unknown joint c/);
  refusedFor('missing_joint', () => trajectoryFromMessage(traj(['a'], [point([0], 0.1)]), j, CLOCKS), /missing joint b/);
  refusedFor('unknown_joint', () => trajectoryFromMessage(traj(['a', 'a'], [point([0, 0], 0.1)]), j, CLOCKS), /listed twice/);
  refusedFor('size', () => trajectoryFromMessage(traj(j, []), j, CLOCKS), /no points/);
  refusedFor('timing', () => trajectoryFromMessage(traj(j, [point([0, 0], 0.2), point([0, 0], 0.2)]), j, CLOCKS), /point 1 time_from_start 0.2 s does not come after 0.2 s/);
  refusedFor('length', () => trajectoryFromMessage(traj(j, [point([0], 0.1)]), j, CLOCKS), /1 positions for 2 joints/);
  refusedFor('length', () => trajectoryFromMessage(traj(j, [point([0, 0], 0.1, [1, 1]), point([0, 0], 0.2)]), j, CLOCKS), /point 1 has 0 velocities/);
  refusedFor('nan', () => trajectoryFromMessage(traj(j, [point([0, Number.NaN], 0.1)]), j, CLOCKS), /joint 'b' is not finite/);
  refusedFor('stale', () => trajectoryFromMessage(traj(j, [point([0, 0], 0.5)], { sec: 4, nanosec: 0 }), j, CLOCKS), /ended 0.5 s ago/);
});

test('forward commands, joint states and images as the robot publishes them read back through the driver\'s own readers', async () => {
  assert.deepEqual(Array.from(forwardCommandPositions({ layout: { dim: [], data_offset: 0 }, data: [1, 2] }, 2)), [1, 2]);
  refusedFor('length', () => forwardCommandPositions({ layout: { dim: [], data_offset: 0 }, data: [1, 2, 3] }, 2), /3 values for 2 joints/);
  refusedFor('nan', () => forwardCommandPositions({ layout: { dim: [], data_offset: 0 }, data: [1, Number.POSITIVE_INFINITY] }, 2), /value 1 is Infinity/);
  const js = deliveredAs('sensor_msgs/msg/JointState', jointStateMessage(['a', 'b'], [0.5, -1], { sec: 1, nanosec: 2 }, [0.1, 0.2]));
  const s = new JointStateMapper(['b', 'a']).map(js as never, 9n);
  assert.deepEqual([Array.from(s.positions), Array.from(s.velocities!)], [[-1, 0.5], [0.2, 0.1]]);
  const img = { width: 4, height: 2, data: Uint8Array.from({ length: 24 }, (_, i) => i * 10) };
  const raw = deliveredAs('sensor_msgs/msg/Image', rgbImageMessage(img, { sec: 1, nanosec: 0 }, 'scene'));
  assert.deepEqual(rawToRgb(raw as never), img);
  const flat = { width: 16, height: 16, data: new Uint8Array(16 * 16 * 3).map((_, i) => [200, 40, 90][i % 3]!) };
  const jpeg = deliveredAs('sensor_msgs/msg/CompressedImage', await jpegImageMessage(flat, { sec: 1, nanosec: 0 }, 'scene'));
  const back = await compressedToCamera(jpeg as never, { name: 'scene', width: 16, height: 16, channels: 3 });
  assert.ok(back.data.every((v, i) => Math.abs(v - flat.data[i]!) <= 6), 'JPEG decodes to the colours sent');
});

async function simArm(opts: { compressed?: boolean } = {}) {
  const graph = new Graph();
  const simRcl = rclDouble(graph);
  await simRcl.init();
  const sim = await SimRobot.create({ imageSize: 32, cameras: ['scene', 'wrist'], physicsDt: 0.02 });
  await sim.resetScene({ task: 'touch', seed: 1 });
  const arm = new RosSimArm(simRcl, sim, { publishHz: 50, simNowNs: () => sim.readState()!.stampNs, task: 'touch', seed: 1, log: silentLogger, ...opts });
  // A third process: a probe node with its own subscriptions.
  const probeRcl = rclDouble(graph);
  await probeRcl.init();
  const probe = new probeRcl.Node('probe');
  probe.spin();
  const period = () => graph.setTime(graph.nowNs + 20_000_000n);
  const close = async () => { arm.close(); if (!probeRcl.isShutdown()) probeRcl.shutdown(); simRcl.shutdown(); await sim.close(); };
  return { graph, sim, arm, probe, probeRcl, period, close };
}

test('sim-ros publishes joint states every period and images once per new frame, best effort (sensor-data QoS)', async () => {
  const { graph, sim, arm, probe, probeRcl, period, close } = await simArm({ compressed: true });
  try {
    const got = { best: 0, reliable: 0, images: 0, compressed: 0 };
    let lastState: { name: string[]; position: Float64Array; header: { stamp: { sec: number; nanosec: number } } } | undefined;
    probe.createSubscription('sensor_msgs/msg/JointState', '/joint_states', { qos: probeRcl.QoS.profileSensorData }, (m) => { got.best++; lastState = m; });
    probe.createSubscription('sensor_msgs/msg/JointState', '/joint_states', { qos: probeRcl.QoS.profileDefault }, () => { got.reliable++; });
    probe.createSubscription('sensor_msgs/msg/Image', '/cameras/scene/image_raw', { qos: probeRcl.QoS.profileSensorData }, () => { got.images++; });
    probe.createSubscription('sensor_msgs/msg/CompressedImage', '/cameras/wrist/image_raw/compressed', { qos: probeRcl.QoS.profileSensorData }, () => { got.compressed++; });
    for (let i = 0; i < 10; i++) { period(); await graph.drain(); }
    assert.equal(got.best, 10, 'one JointState per period');
    assert.equal(got.reliable, 0, 'a reliable subscriber hears nothing from a best-effort publisher');
    assert.equal(got.images, 1, 'the frame the reset made, once: no new frame, no new image');
    // JPEG encoding runs on sharp's pool (a camera still encoding skips a frame): wait for counts, not for a time.
    const encoded = async (n: number) => { while (arm.published.compressed < n) await new Promise((r) => setTimeout(r, 5)); await graph.drain(); };
    await encoded(2); // both cameras' first frame
    await sim.advance(1);
    period();
    await graph.drain();
    await encoded(4);
    assert.equal(got.images, 2);
    assert.equal(got.compressed, 2);
    assert.deepEqual(lastState!.name, ['joint1', 'joint2', 'joint3', 'joint4', 'joint5', 'joint6', 'gripper']);
    assert.ok(lastState!.position instanceof Float64Array);
    // Stamped with the ROS time the state was taken (the sim's clock and ROS time agree in lockstep here).
    assert.equal(BigInt(lastState!.header.stamp.sec) * 1_000_000_000n + BigInt(lastState!.header.stamp.nanosec), graph.nowNs);
    // The probe's process shuts down: its nodes leave the graph, the sim's node goes on publishing.
    probeRcl.shutdown();
    const before = graph.messages('/joint_states').length;
    period();
    await graph.drain();
    assert.equal(graph.messages('/joint_states').length, before + 1);
    assert.equal(graph.subs.some((s) => s.node.name() === 'probe'), false);
  } finally {
    await close();
  }
});

test('sim-ros takes forward commands and JTC trajectories (a stamped one starts at its stamp), counts and drops bad ones', async () => {
  const { graph, sim, arm, period, close } = await simArm();
  const names = [...sim.jointNames];
  try {
    const q0 = Float64Array.from(sim.readState()!.positions);
    // Forward controller: the arm goes to the command.
    const target = Array.from(q0, (q, i) => (i === 0 ? q + 0.3 : q));
    graph.publish('/forward_position_controller/commands', 'std_msgs/msg/Float64MultiArray', { layout: { dim: [], data_offset: 0 }, data: target });
    graph.publish('/forward_position_controller/commands', 'std_msgs/msg/Float64MultiArray', { layout: { dim: [], data_offset: 0 }, data: [1, 2] });
    await graph.drain();
    for (let i = 0; i < 50; i++) await sim.advance(1, false);
    assert.ok(Math.abs(sim.readState()!.positions[0]! - target[0]!) < 0.02, `joint1 reached ${sim.readState()!.positions[0]} (target ${target[0]})`);
    // A trajectory stamped 0.2 s ahead (ROS time) does not start before then.
    period();
    const q1 = Array.from(sim.readState()!.positions);
    const goal = q1.map((q, i) => (i === 1 ? q + 0.2 : q));
    const start = graph.nowNs + 200_000_000n;
    graph.publish('/joint_trajectory_controller/joint_trajectory', 'trajectory_msgs/msg/JointTrajectory', traj(names, [point(goal, 0.5)], { sec: Number(start / 1_000_000_000n), nanosec: Number(start % 1_000_000_000n) }));
    graph.publish('/joint_trajectory_controller/joint_trajectory', 'trajectory_msgs/msg/JointTrajectory', traj([...names.slice(0, 6), 'finger'], [point(goal, 0.5)]));
    await graph.drain();
    for (let i = 0; i < 9; i++) await sim.advance(1, false);
    assert.equal(sim.arm.jtc.running, false, 'not before its stamp');
    for (let i = 0; i < 40; i++) await sim.advance(1, false);
    assert.equal(sim.arm.jtc.running, true);
    assert.ok(Math.abs(sim.readState()!.positions[1]! - goal[1]!) < 0.02, `joint2 reached ${sim.readState()!.positions[1]} (goal ${goal[1]})`);
    const counts = Object.fromEntries(arm.counters.snapshot().map((t) => [t.topic, t]));
    assert.equal(counts['/forward_position_controller/commands']!.accepted, 1);
    assert.equal(counts['/forward_position_controller/commands']!.bad.length, 1);
    assert.equal(counts['/joint_trajectory_controller/joint_trajectory']!.accepted, 1);
    assert.equal(counts['/joint_trajectory_controller/joint_trajectory']!.bad.unknown_joint, 1);
    assert.match(counts['/joint_trajectory_controller/joint_trajectory']!.lastError!, /unknown joint finger/);
  } finally {
    await close();
  }
});

test('sim-ros ~/reset lays out the scene its parameters name and publishes the instruction; ~/success reports it', async () => {
  const { graph, probe, close } = await simArm();
  try {
    const instructions: string[] = [];
    probe.createSubscription('std_msgs/msg/String', '/vlad/instruction', {}, (m: { data: string }) => instructions.push(m.data));
    assert.equal(graph.setParameter('vlad_sim', 'task', 'place').successful, true);
    assert.equal(graph.setParameter('vlad_sim', 'seed', -1).successful, false, 'seed out of its range');
    assert.equal(graph.setParameter('vlad_sim', 'seed', 12).successful, true);
    const r = await graph.call('/vlad_sim/reset', 'std_srvs/srv/Trigger');
    await graph.drain();
    assert.equal(r.success, true);
    assert.equal(instructions.length, 1);
    assert.equal(r.message, `place seed 12: ${instructions[0]}`);
    const s = await graph.call('/vlad_sim/success', 'std_srvs/srv/Trigger');
    const report = JSON.parse(String(s.message)) as { task: string; seed: number; success: boolean; instruction: string };
    assert.deepEqual([report.task, report.seed, report.success, s.success, report.instruction], ['place', 12, false, false, instructions[0]]);
  } finally {
    await close();
  }
});
