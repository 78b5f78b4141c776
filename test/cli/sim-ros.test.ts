// What `vlad sim-ros` runs (openSimRos: the sim worker in real time, physics in its own thread, and
// RosSimArm on it) on the rclnodejs double, a probe node as another process. The test moves the
// ROS clock as a clock would; it waits for counted events (messages, applied trajectories, the
// arm reaching its goal), never for a time.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { silentLogger } from '../../src/core/index.js';
import { openSimRos, simRosOptions } from '../../src/cli/sim-ros.js';
import { timeToNs, type JointStateMsg } from '../../src/io/ros/index.js';
import { rclDouble } from '../support/rclnodejs-double.js';

test('sim-ros in real time: the scene the flags name, joint states and frames stamped in ROS time, a JTC trajectory moves the arm', async () => {
  const rcl = rclDouble();
  await rcl.init();
  const up = await openSimRos(rcl, simRosOptions({ task: 'touch', seed: '2', 'joint-states-hz': '100' }), silentLogger);
  const probeRcl = rclDouble(rcl.graph);
  await probeRcl.init();
  try {
    assert.match(up.scene, /^touch seed 2: touch the \w+ ball$/);
    assert.equal(up.sim.realtime, true);
    const probe = new probeRcl.Node('probe');
    const states: { msg: JointStateMsg; rosNowNs: bigint }[] = [];
    let images = 0;
    probe.createSubscription('sensor_msgs/msg/JointState', '/joint_states', { qos: probeRcl.QoS.profileSensorData }, (m: JointStateMsg) => states.push({ msg: m, rosNowNs: rcl.graph.nowNs }));
    probe.createSubscription('sensor_msgs/msg/Image', '/cameras/scene/image_raw', { qos: probeRcl.QoS.profileSensorData }, () => { images++; });
    probe.spin();
    const g = rcl.graph;
    const until = async (what: string, done: () => boolean) => {
      for (let i = 0; i < 20_000 && !done(); i++) {
        g.setTime(g.nowNs + 10_000_000n); // one 100 Hz period of ROS time
        await g.drain();
        await new Promise((r) => setTimeout(r, 1));
      }
      assert.ok(done(), `waited for ${what}`);
    };
    await until('joint states and a camera frame', () => states.length >= 5 && images >= 1);
    for (const s of states) {
      const stamp = timeToNs(s.msg.header.stamp);
      assert.ok(stamp <= s.rosNowNs, 'stamped when the physics state was taken, never ahead of ROS now');
    }
    // A start-now JTC trajectory: joint1 +0.2 rad over 0.5 s.
    const q = Array.from(states.at(-1)!.msg.position);
    const goal = q.map((x, i) => (i === 0 ? x + 0.2 : x));
    g.publish('/joint_trajectory_controller/joint_trajectory', 'trajectory_msgs/msg/JointTrajectory', {
      header: { stamp: { sec: 0, nanosec: 0 }, frame_id: '' }, joint_names: states.at(-1)!.msg.name,
      points: [{ positions: goal, velocities: goal.map(() => 0), accelerations: [], effort: [], time_from_start: { sec: 0, nanosec: 500_000_000 } }],
    });
    await until('the sim thread to take the trajectory', () => up.sim.trajectoriesApplied >= 1);
    await until('joint1 to reach the goal', () => Math.abs(states.at(-1)!.msg.position[0]! - goal[0]!) < 0.02);
    assert.equal(up.arm.counters.snapshot().find((t) => t.topic === '/joint_trajectory_controller/joint_trajectory')!.accepted, 1);
  } finally {
    probeRcl.shutdown();
    await up.close();
    rcl.shutdown();
  }
});
