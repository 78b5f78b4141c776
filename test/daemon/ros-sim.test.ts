// A closed loop over ROS in one process: the daemon with --robot ros (its RosLifecycleNode and
// RosRobot) and `vlad sim-ros`'s node (RosSimArm on the simulated arm, MuJoCo physics) in two
// rclnodejs contexts on ONE double graph, as two processes on one DDS graph: every joint state,
// image, trajectory, instruction and service call crosses the graph. The shipped model
// (vlad-base-flow) plans. Lockstep: the test moves the ROS clock (as /clock would), the sim's
// timer publishes, the daemon ticks, the arm steps one period; everything asserted is a count.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '../../src/core/index.js';
import { Daemon, loadDaemonConfig } from '../../src/daemon/index.js';
import { RosRobot, RosSimArm, type JointTrajectoryMsg } from '../../src/io/ros/index.js';
import { openDataset, validateDataset } from '../../src/rlds/index.js';
import { SimRobot } from '../../src/sim/index.js';
import { Graph, rclDouble } from '../support/rclnodejs-double.js';

const PERIOD_NS = 20_000_000n; // the cpu profile's 50 Hz, and the sim's publish period
const TRAJECTORY = '/joint_trajectory_controller/joint_trajectory';
const TRIGGER = 'std_srvs/srv/Trigger';

test('daemon --robot ros and sim-ros on one graph: trajectories reach the arm, its states and images reach the daemon, the episode is recorded', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'vlad-ros-sim-'));
  const graph = new Graph();
  // The simulated arm's "process".
  const simRcl = rclDouble(graph);
  await simRcl.init();
  const sim = await SimRobot.create({ imageSize: 96, cameras: ['scene', 'wrist'], physicsDt: Number(PERIOD_NS) / 1e9 });
  await sim.resetScene({ task: 'pick', seed: 0 });
  const arm = new RosSimArm(simRcl, sim, { publishHz: 50, simNowNs: () => sim.readState()!.stampNs, task: 'pick', seed: 0, log: silentLogger });
  // The daemon's "process".
  const config = await loadDaemonConfig({ overrides: {
    robot: 'ros', bundle: 'models/bundles/vlad-base-flow', robot_description: 'vlad-sim-arm', output_mode: 'trajectory', mode: 'autonomous',
    joint_states_timeout_s: 600, record: { dir, dataset: 'vlad_ros' },
  } });
  const daemonRcl = rclDouble(graph);
  const daemon = new Daemon({ config, clock: 'lockstep', log: silentLogger, rcl: daemonRcl, rosArgv: [] });
  let succeeded: boolean | undefined;
  const tick = () => graph.setTime(graph.nowNs + PERIOD_NS);
  const settle = async () => {
    await graph.drain();
    const robot = daemon.robotDriver;
    if (robot instanceof RosRobot) await robot.settled();
  };
  try {
    await daemon.serveOnly();
    // Configure waits for the arm's first JointState: the ROS clock runs (the sim's timer publishes) until it is configured.
    const configured = daemon.transition('configure');
    let done = false;
    void configured.finally(() => { done = true; });
    while (!done) { tick(); await settle(); await new Promise((r) => setTimeout(r, 2)); }
    await configured;
    await daemon.transition('activate');

    // The scene through sim-ros's parameters and ~/reset; its instruction reaches the daemon over the instruction topic.
    assert.deepEqual(graph.setParameter('vlad_sim', 'task', 'lift'), { successful: false, reason: "task 'lift' is not one of pick, place, touch" });
    assert.equal(graph.setParameter('vlad_sim', 'seed', 4).successful, true);
    const reset = await graph.call('/vlad_sim/reset', TRIGGER);
    assert.equal(reset.success, true, reset.message);
    await settle();
    assert.ok(daemon.currentInstruction.length > 0 && reset.message.endsWith(daemon.currentInstruction), `${reset.message} / ${daemon.currentInstruction}`);
    assert.match(reset.message, /^pick seed 4: /);
    const started = await graph.call('/vlad/episode/start', TRIGGER);
    assert.equal(started.success, true, started.message);

    const home = Float64Array.from(sim.readState()!.positions);
    const trajectoriesBefore = graph.messages(TRAJECTORY).length;
    const STEPS = 80;
    for (let k = 0; k < STEPS; k++) {
      tick(); // the sim's timer: joint state + the new camera frame, stamped now
      await settle();
      await daemon.stepLockstep(); // the loop ticks and publishes to JTC's topic
      await settle(); // the sim's JTC subscription takes it
      await sim.advance(1);
    }

    // Trajectories crossed the graph and every one was taken by the sim's JTC (none refused).
    const sent = graph.messages(TRAJECTORY).length - trajectoriesBefore;
    const jtc = arm.counters.snapshot().find((t) => t.topic === TRAJECTORY)!;
    assert.ok(sent >= 1, 'the daemon published trajectories');
    assert.equal(jtc.badTotal, 0, jtc.lastError);
    assert.ok(jtc.accepted >= sent, `the arm took every trajectory (${jtc.accepted} of ${sent})`);
    assert.equal(sim.arm.jtc.running, true, 'the sim JTC runs a trajectory');
    const moved = Math.max(...Array.from(sim.readState()!.positions, (q, i) => Math.abs(q - home[i]!)));
    assert.ok(moved > 1e-3, `the arm moved under the policy (max |dq| ${moved})`);
    // Joint states and both cameras reached the daemon, one per period, none refused.
    const inputs = (daemon.robotDriver as RosRobot).counters.snapshot();
    for (const topic of ['/joint_states', '/cameras/scene/image_raw', '/cameras/wrist/image_raw']) {
      const t = inputs.find((x) => x.topic === topic)!;
      assert.equal(t.badTotal, 0, `${topic}: ${t.lastError}`);
      assert.ok(t.accepted >= STEPS, `${topic}: ${t.accepted} accepted`);
    }
    assert.ok(arm.published.frames >= STEPS && arm.published.jointStates >= STEPS);
    const policySteps = daemon.controlLoop!.snapshot().steps.policy ?? 0;
    assert.ok(policySteps > 0, 'the policy commanded');

    // Success from the sim's service ends the episode over ROS.
    const verdict = await graph.call('/vlad_sim/success', TRIGGER);
    const report = JSON.parse(String(verdict.message)) as { task: string; seed: number; success: boolean };
    assert.deepEqual([report.task, report.seed, report.success], ['pick', 4, verdict.success]);
    succeeded = verdict.success === true;
    const stopped = await graph.call('/vlad/episode/stop', 'std_srvs/srv/SetBool', { data: succeeded });
    assert.equal(stopped.success, true, stopped.message);
    assert.match(String(stopped.message), new RegExp(`${STEPS} steps`));
    // What a JTC subscriber received is what the sim took: the joint order and start-now form.
    for (const m of graph.messages(TRAJECTORY) as JointTrajectoryMsg[]) assert.deepEqual(m.header.stamp, { sec: 0, nanosec: 0 });
  } finally {
    await daemon.shutdown();
    arm.close();
    simRcl.shutdown();
    await sim.close();
  }
  // The episode is on disk, valid, with one step per tick the robot executed.
  const datasetDir = join(dir, 'vlad_ros');
  const v = await validateDataset(datasetDir);
  assert.ok(v.ok, v.problems[0]);
  const episodes = [];
  for await (const ep of await openDataset(datasetDir)) episodes.push({ meta: ep.metadata().episode_metadata as Record<string, unknown>, steps: [...ep.steps()].length });
  assert.equal(episodes.length, 1);
  assert.equal(episodes[0]!.steps, 80);
  assert.equal(episodes[0]!.meta.success, succeeded, 'the outcome the sim reported');
  await rm(dir, { recursive: true, force: true });
});
