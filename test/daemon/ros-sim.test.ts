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
const FORWARD = '/forward_position_controller/commands';

/** sim-ros's node on the simulated arm and the daemon (--robot ros, lockstep), each with its own rclnodejs context on one graph. */
async function rosPair(output: 'trajectory' | 'forward', record: { dir: string; dataset: string }) {
  const graph = new Graph();
  // The simulated arm's "process".
  const simRcl = rclDouble(graph);
  await simRcl.init();
  const sim = await SimRobot.create({ imageSize: 96, cameras: ['scene', 'wrist'], physicsDt: Number(PERIOD_NS) / 1e9 });
  await sim.resetScene({ task: 'pick', seed: 0 });
  const arm = new RosSimArm(simRcl, sim, { publishHz: 50, simNowNs: () => sim.readState()!.stampNs, task: 'pick', seed: 0, log: silentLogger });
  // The daemon's "process".
  const config = await loadDaemonConfig({ overrides: {
    robot: 'ros', bundle: 'models/bundles/vlad-base-flow', robot_description: 'vlad-sim-arm', output_mode: output, mode: 'autonomous',
    command_topic: output === 'trajectory' ? TRAJECTORY : FORWARD, joint_states_timeout_s: 600, record,
  } });
  const daemon = new Daemon({ config, clock: 'lockstep', log: silentLogger, rcl: rclDouble(graph), rosArgv: [] });
  const tick = () => graph.setTime(graph.nowNs + PERIOD_NS);
  const settle = async () => {
    await graph.drain();
    const robot = daemon.robotDriver;
    if (robot instanceof RosRobot) await robot.settled();
  };
  /** Configure (it waits for the arm's first JointState: the ROS clock runs, the sim's timer publishes) and activate. */
  const start = async () => {
    await daemon.serveOnly();
    const configured = daemon.transition('configure');
    let done = false;
    void configured.finally(() => { done = true; });
    while (!done) { tick(); await settle(); await new Promise((r) => setTimeout(r, 2)); }
    await configured;
    await daemon.transition('activate');
  };
  /** One period in lockstep: the sim publishes (state + new frame), the daemon ticks and commands, the command crosses, the arm steps. */
  const step = async () => {
    tick();
    await settle();
    await daemon.stepLockstep();
    await settle();
    await sim.advance(1);
  };
  const close = async () => {
    await daemon.shutdown();
    arm.close();
    simRcl.shutdown();
    await sim.close();
  };
  return { graph, sim, arm, daemon, settle, start, step, close };
}

/**
 * The daemon received a joint state every period and both cameras' image of every new frame (one
 * per physics step: `steps` periods make at least steps - 1 new ones), none refused.
 */
function assertInputs(daemon: Daemon, steps: number): void {
  const inputs = (daemon.robotDriver as RosRobot).counters.snapshot();
  for (const [topic, least] of [['/joint_states', steps], ['/cameras/scene/image_raw', steps - 1], ['/cameras/wrist/image_raw', steps - 1]] as const) {
    const t = inputs.find((x) => x.topic === topic)!;
    assert.equal(t.badTotal, 0, `${topic}: ${t.lastError}`);
    assert.ok(t.accepted >= least, `${topic}: ${t.accepted} accepted`);
  }
}


test('daemon --robot ros and sim-ros on one graph: trajectories reach the arm, its states and images reach the daemon, the episode is recorded', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'vlad-ros-sim-'));
  const { graph, sim, arm, daemon, settle, start, step, close } = await rosPair('trajectory', { dir, dataset: 'vlad_ros' });
  let succeeded: boolean | undefined;
  try {
    await start();

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
    for (let k = 0; k < STEPS; k++) await step();

    // Trajectories crossed the graph and every one was taken by the sim's JTC (none refused).
    const sent = graph.messages(TRAJECTORY).length - trajectoriesBefore;
    const jtc = arm.counters.snapshot().find((t) => t.topic === TRAJECTORY)!;
    assert.ok(sent >= 1, 'the daemon published trajectories');
    assert.equal(jtc.badTotal, 0, jtc.lastError);
    assert.equal(jtc.accepted, graph.messages(TRAJECTORY).length, 'the arm took every trajectory the daemon published');
    assert.equal(sim.arm.jtc.running, true, 'the sim JTC runs a trajectory');
    const moved = Math.max(...Array.from(sim.readState()!.positions, (q, i) => Math.abs(q - home[i]!)));
    assert.ok(moved > 1e-3, `the arm moved under the policy (max |dq| ${moved})`);
    // Joint states and both cameras reached the daemon, one per period, none refused.
    assertInputs(daemon, STEPS);
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
    // Every trajectory in JTC's start-now form (the point times carry the loop's schedule).
    for (const m of graph.messages(TRAJECTORY) as JointTrajectoryMsg[]) assert.deepEqual(m.header.stamp, { sec: 0, nanosec: 0 });
  } finally {
    await close();
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

test('forward output over ROS: one Float64MultiArray per tick reaches the sim\'s forward controller and the arm follows the policy', async () => {
  const { graph, sim, arm, daemon, start, step, close } = await rosPair('forward', { dir: '', dataset: 'unused' });
  try {
    await start();
    graph.publish('/vlad/instruction', 'std_msgs/msg/String', { data: 'pick up the red cube' });
    const started = await graph.call('/vlad/episode/start', TRIGGER);
    assert.equal(started.success, true, started.message);
    const home = Float64Array.from(sim.readState()!.positions);
    const STEPS = 40;
    for (let k = 0; k < STEPS; k++) await step();
    const fwd = arm.counters.snapshot().find((t) => t.topic === FORWARD)!;
    assert.equal(fwd.badTotal, 0, fwd.lastError);
    assert.equal(fwd.accepted, graph.messages(FORWARD).length, 'every command the daemon published reached the controller');
    assert.ok(fwd.accepted >= STEPS, `one command per tick (${fwd.accepted})`);
    assert.equal(graph.messages(TRAJECTORY).length, 0, 'nothing on JTC\'s topic in forward output');
    assert.equal(sim.arm.jtc.running, false);
    const moved = Math.max(...Array.from(sim.readState()!.positions, (q, i) => Math.abs(q - home[i]!)));
    assert.ok(moved > 1e-3, `the arm moved under the policy (max |dq| ${moved})`);
    assertInputs(daemon, STEPS);
  } finally {
    await close();
  }
});
