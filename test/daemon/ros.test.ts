// The daemon with --robot ros on the rclnodejs double: the real bundle (vlad-tiny-l1), the real
// policy worker and control loop, on the lockstep clock. The test plays the robot and the operator
// through the double's graph (publishes joint states and camera images, calls services as
// `ros2 lifecycle set` / `ros2 service call` would) and counts events, never wall time.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { silentLogger, type ActionChunk } from '../../src/core/index.js';
import { Daemon, loadDaemonConfig, type ParamOverrides } from '../../src/daemon/index.js';
import { DiagnosticLevel, RosRobot, type DiagnosticArrayMsg, type JointTrajectoryMsg } from '../../src/io/ros/index.js';
import { rclDouble, type RclDouble } from '../support/rclnodejs-double.js';

const JOINTS = ['joint1', 'joint2', 'joint3', 'joint4', 'joint5', 'joint6', 'gripper'];
const HOME = [0, 0.3, 1.0, 0, 0.5, 0, 0.04];
const CS = 'lifecycle_msgs/srv/ChangeState';
const T_ID = { configure: 1, activate: 3, deactivate: 4 } as const;
const EPOCH = 1_000_000_000n;

async function rosDaemon(overrides: ParamOverrides = {}): Promise<{ daemon: Daemon; rcl: RclDouble }> {
  const config = await loadDaemonConfig({ overrides: {
    robot: 'ros', bundle: 'models/bundles/vlad-tiny-l1', robot_description: 'vlad-sim-arm', output_mode: 'trajectory', mode: 'autonomous',
    joint_states_timeout_s: 60, ...overrides,
  } });
  const rcl = rclDouble();
  const daemon = new Daemon({ config, clock: 'lockstep', log: silentLogger, rcl, rosArgv: [] });
  await daemon.serveOnly();
  return { daemon, rcl };
}

const stampAt = (ns: bigint) => ({ sec: Number(ns / 1_000_000_000n), nanosec: Number(ns % 1_000_000_000n) });

function publishJoints(rcl: RclDouble, positions = HOME, names = JOINTS, topic = '/joint_states'): void {
  rcl.graph.publish(topic, 'sensor_msgs/msg/JointState', { header: { stamp: stampAt(rcl.graph.nowNs), frame_id: '' }, name: names, position: positions, velocity: [], effort: [] }, { reliable: false });
}

function publishImages(rcl: RclDouble, shade: number, encoding = 'rgb8', size = 96): void {
  for (const cam of ['scene', 'wrist']) {
    rcl.graph.publish(`/cameras/${cam}/image_raw`, 'sensor_msgs/msg/Image', {
      header: { stamp: stampAt(rcl.graph.nowNs), frame_id: cam }, height: size, width: size, encoding, is_bigendian: 0, step: size * 3,
      data: new Uint8Array(size * size * 3).fill(shade),
    }, { reliable: false });
  }
}

/** Lets the node take what was published (delivery, image conversion). */
async function settle(daemon: Daemon, rcl: RclDouble): Promise<void> {
  await rcl.graph.drain();
  const robot = daemon.robotDriver;
  if (robot instanceof RosRobot) await robot.settled();
}

/** ros2 lifecycle set: configure needs a first joint state, which the robot sends once subscribed. */
async function change(daemon: Daemon, rcl: RclDouble, t: keyof typeof T_ID): Promise<boolean> {
  const answer = rcl.graph.call('/vlad/change_state', CS, { transition: { id: T_ID[t], label: '' } });
  if (t === 'configure') {
    await rcl.graph.subscribed('/joint_states');
    publishJoints(rcl);
  }
  return ((await answer) as { success: boolean }).success;
}

/** One control period: the robot publishes its state and images at the ROS time of the step, the daemon ticks. */
async function step(daemon: Daemon, rcl: RclDouble, k: number, positions = HOME): Promise<void> {
  rcl.graph.setTime(EPOCH + BigInt(k) * 20_000_000n);
  publishJoints(rcl, positions);
  publishImages(rcl, (k * 7) % 255);
  await settle(daemon, rcl);
  await daemon.stepLockstep();
}

test('ros2 lifecycle set configure / activate, a closed loop publishing JointTrajectory for JTC, services, params, deactivate holds', async () => {
  const { daemon, rcl } = await rosDaemon();
  const g = rcl.graph;
  try {
    assert.deepEqual(await g.call('/vlad/get_state', 'lifecycle_msgs/srv/GetState'), { current_state: { id: 1, label: 'unconfigured' } });
    assert.equal(await change(daemon, rcl, 'configure'), true);
    assert.equal(daemon.state, 'inactive');
    assert.equal(await change(daemon, rcl, 'activate'), true);
    assert.equal(daemon.state, 'active');
    // The rcl state machine followed, through its intermediate states, and ~/transition_event told launch_ros.
    const node = (daemon as unknown as { ros: { node: { node: { history: string[] } } } }).ros.node.node;
    assert.deepEqual(node.history, ['unconfigured', 'configuring', 'inactive', 'activating', 'active']);
    assert.deepEqual(g.messages('/vlad/transition_event').map((e) => e.goal_state.label), ['configuring', 'inactive', 'activating', 'active']);

    const chunks: ActionChunk[] = [];
    daemon.onChunk((c) => chunks.push(c));
    g.publish('/vlad/instruction', 'std_msgs/msg/String', { data: 'pick up the red cube' });
    await settle(daemon, rcl);
    assert.equal(daemon.currentInstruction, 'pick up the red cube');
    const started = await g.call('/vlad/episode/start', 'std_srvs/srv/Trigger');
    assert.equal(started.success, true, started.message);
    assert.match(started.message, /pick up the red cube/);

    for (let k = 1; k <= 40; k++) await step(daemon, rcl, k);

    const trajs = g.messages('/joint_trajectory_controller/joint_trajectory') as JointTrajectoryMsg[];
    assert.ok(trajs.length >= 1, 'the node published trajectories');
    assert.ok(chunks.length >= 1, 'the policy planned');
    for (const m of trajs) {
      assert.deepEqual(m.joint_names, JOINTS);
      assert.deepEqual(m.header.stamp, { sec: 0, nanosec: 0 }, 'JTC start-now form');
      let last = -1;
      for (const p of m.points) {
        const t = p.time_from_start.sec + p.time_from_start.nanosec / 1e9;
        assert.ok(t > last, 'time_from_start strictly increasing');
        last = t;
        assert.equal(p.positions.length, 7);
        assert.equal(p.velocities.length, 7);
        assert.ok(Array.from(p.positions).every(Number.isFinite));
      }
    }
    // ~/chunk carries each accepted chunk exactly: action i at i*dt.
    const chunkMsgs = g.messages('/vlad/chunk') as JointTrajectoryMsg[];
    assert.equal(chunkMsgs.length, chunks.length);
    const c0 = chunks[0]!;
    const m0 = chunkMsgs[0]!;
    assert.equal(m0.points.length, c0.horizon);
    for (const i of [0, 1, c0.horizon - 1]) {
      assert.deepEqual(Array.from(m0.points[i]!.positions), Array.from(c0.actions.subarray(i * 7, i * 7 + 7), (x) => x));
      assert.ok(Math.abs(m0.points[i]!.time_from_start.sec + m0.points[i]!.time_from_start.nanosec / 1e9 - i * c0.dt) < 1e-9);
    }
    assert.notDeepEqual(m0.header.stamp, { sec: 0, nanosec: 0 }, '~/chunk is stamped with its observation time');

    // Bad messages: counted per reason, dropped, no crash; the loop keeps going.
    const nan = [...HOME]; nan[2] = Number.NaN;
    publishJoints(rcl, nan);
    publishJoints(rcl, HOME, [...JOINTS.slice(0, 6), 'elbow_extra']);
    publishImages(rcl, 9, 'bayer_rggb8');
    publishImages(rcl, 9, 'rgb8', 0);
    await settle(daemon, rcl);
    for (let k = 41; k <= 45; k++) await step(daemon, rcl, k);
    const before = g.messages('/diagnostics').length;
    g.setTime(g.nowNs + 1_000_000_000n);
    await settle(daemon, rcl);
    const diags = g.messages('/diagnostics') as DiagnosticArrayMsg[];
    assert.equal(diags.length, before + 1, 'one DiagnosticArray per second of ROS time');
    const status = (name: string) => diags.at(-1)!.status.find((s) => s.name === name)!;
    const value = (name: string, key: string) => status(name).values.find((v) => v.key === key)?.value;
    assert.equal(value('vlad: topic /joint_states', 'refused.nan'), '1');
    assert.equal(value('vlad: topic /joint_states', 'refused.unknown_joint'), '1');
    assert.equal(value('vlad: topic /cameras/scene/image_raw', 'refused.encoding'), '1');
    assert.equal(value('vlad: topic /cameras/scene/image_raw', 'refused.size'), '1');
    assert.equal(status('vlad: topic /joint_states').level, DiagnosticLevel.WARN);
    assert.equal(daemon.state, 'active');

    // Parameters: mode at run time, bundle never (read-only), join not while active.
    assert.deepEqual(g.setParameter('vlad', 'bundle', '/tmp/other'), { successful: false, reason: 'Parameter bundle is readonly' });
    const join = g.setParameter('vlad', 'join', 'replace');
    assert.equal(join.successful, false);
    assert.match(join.reason, /only while not active/);
    assert.equal(g.setParameter('vlad', 'mode', 'nonsense').successful, false);
    assert.deepEqual(g.setParameter('vlad', 'mode', 'intervention'), { successful: true, reason: '' });
    await daemon.settled();
    assert.equal(daemon.operatingMode, 'intervention');
    const m = await g.call('/vlad/mode/autonomous', 'std_srvs/srv/Trigger');
    assert.deepEqual(m, { success: true, message: 'mode autonomous' });

    const stopped = await g.call('/vlad/episode/stop', 'std_srvs/srv/SetBool', { data: true });
    assert.equal(stopped.success, true, stopped.message);
    assert.match(stopped.message, /success/);
    const again = await g.call('/vlad/episode/stop', 'std_srvs/srv/SetBool', { data: false });
    assert.equal(again.success, false);
    assert.match(again.message, /no episode is running/);

    // Hard stop and release through std_srvs.
    assert.equal((await g.call('/vlad/hard_stop', 'std_srvs/srv/Trigger')).success, true);
    await step(daemon, rcl, 100);
    assert.equal(daemon.controlLoop?.hardStopped, true);
    assert.equal((await g.call('/vlad/release', 'std_srvs/srv/Trigger')).success, true);

    // Deactivate: the hold goes out while the publishers are still active, then they drop publishes.
    const n = g.messages('/joint_trajectory_controller/joint_trajectory').length;
    assert.equal(await change(daemon, rcl, 'deactivate'), true);
    assert.equal(daemon.state, 'inactive');
    assert.deepEqual(await g.call('/vlad/get_state', 'lifecycle_msgs/srv/GetState'), { current_state: { id: 2, label: 'inactive' } });
    assert.ok(g.messages('/joint_trajectory_controller/joint_trajectory').length >= n);
    const robot = daemon.robotDriver as RosRobot;
    robot.sendTrajectory({ stampNs: daemon.clock.nowNs(), jointNames: JOINTS, points: [{ positions: new Float64Array(HOME), velocities: new Float64Array(7), timeFromStartS: 0.1 }], reason: 'plan' });
    assert.match(g.warnings.at(-1)!, /not activated/);
    // join may change now (between deactivate and activate).
    assert.equal(g.setParameter('vlad', 'join', 'replace').successful, true);
    // Invalid transitions from here are refused, the state kept.
    assert.equal(await change(daemon, rcl, 'deactivate'), false);
    assert.equal(daemon.state, 'inactive');
  } finally {
    await daemon.shutdown();
  }
  assert.equal(rcl.isShutdown(), true, 'rclnodejs shut down with the daemon');
});

test('configure refuses a robot whose joint states miss or add joints, and params that are not the bundle\'s joints', async () => {
  const { daemon, rcl } = await rosDaemon();
  try {
    const answer = rcl.graph.call('/vlad/change_state', CS, { transition: { id: 0, label: 'configure' } });
    await rcl.graph.subscribed('/joint_states');
    publishJoints(rcl, [0, 0, 0, 0, 0, 0, 0.01, 0.01], [...JOINTS.slice(0, 6), 'finger_l', 'finger_r']);
    assert.deepEqual(await answer, { success: false });
    assert.equal(daemon.state, 'unconfigured');
    assert.match(daemon.lifecycle.lastError!, /missing: gripper/);
    assert.match(daemon.lifecycle.lastError!, /extra: finger_l, finger_r/);
    // The rcl side went configuring -> unconfigured (callback FAILURE), and nothing is subscribed any more.
    assert.equal(rcl.graph.subs.filter((s) => s.topic === '/joint_states').length, 0);
  } finally {
    await daemon.shutdown();
  }
  const other = await rosDaemon({ joint_names: ['a', 'b', 'c', 'd', 'e', 'f', 'g'] });
  try {
    await assert.rejects(other.daemon.transition('configure'), /joint_names \[a, b, c, d, e, f, g\] \(params\) are not the bundle's joint order/);
  } finally {
    await other.daemon.shutdown();
  }
});
