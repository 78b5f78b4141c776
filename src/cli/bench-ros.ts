// `vlad bench ros`: the daemon as a ROS 2 node on a real graph against `vlad sim-ros` in a second
// process, and the same daemon on the embedded simulated arm (--robot sim) as the baseline. Both
// runs: realtime, autonomous, trajectory output, one open episode on the same scene.
//
// Figures (ROS run, beside the sim run's where they exist):
// - obs_to_command_ms: the observation's stamp (its frame's oldest camera stamp, mapped from the
//   header's ROS time to the daemon's clock by the driver) to the command the chunk planned from it
//   becomes. The loop sends a plan's trajectory in the same call that hands the accepted chunk to
//   the daemon's chunk listeners, so the listener's clock reading is the trajectory's publication
//   (ros: RosRobot.sendTrajectory -> publish; sim: the shared-memory trajectory block). Same measure
//   in both runs.
// - obs_to_trajectory_received_ms (ros): the same, received through DDS: the daemon publishes each
//   accepted chunk on ~/chunk stamped with its observation time (ROS time) right before the
//   trajectory; a probe node in this process pairs each ~/chunk with the trajectory published with
//   it (whichever of the two arrives first) and times chunk stamp -> trajectory arrival on the ROS clock.
// - joint_states_hz: sensor_msgs/JointState messages the driver accepted per second (and refused).
// - jitter_ms: how late each control tick ran (the Ratekeeper's lateness), p50/p99/max.
// Without a sourced ROS 2 it refuses before anything starts (loadRclnodejs).
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { commandLogger, summarize } from '../core/index.js';
import { Daemon, loadDaemonConfig, type ParamOverrides } from '../daemon/index.js';
import { loadRclnodejs, MSG, RosRobot, SIM_ARM_TOPICS, timeToNs, type Rcl, type RclNode, type JointTrajectoryMsg } from '../io/ros/index.js';
import { sampleTask, type TaskName } from '../sim/index.js';

export interface BenchRosOptions {
  durationS: number;
  bundle?: string;
  profile: string;
  task: TaskName;
  seed: number;
  progress: (line: string) => void;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const round = (x: number, d = 3) => Math.round(x * 10 ** d) / 10 ** d;
const MAIN = fileURLToPath(new URL('./main.js', import.meta.url));

/** `vlad sim-ros` as its own process; stderr kept (its tail explains an early exit). */
function startSimRos(o: BenchRosOptions): { child: ChildProcess; stderrTail: () => string; exited: Promise<number | null> } {
  const child = spawn(process.execPath, [MAIN, 'sim-ros', '--task', o.task, '--seed', String(o.seed)], { stdio: ['ignore', 'ignore', 'pipe'], env: process.env });
  let tail = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => { tail = (tail + d).slice(-4000); });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, stderrTail: () => tail, exited };
}

interface RunFigures {
  robot: 'ros' | 'sim';
  ticks: number;
  jitter_ms: { p50: number; p99: number; max: number };
  deadline_misses: number;
  chunks: number;
  obs_to_command_ms: { p50: number; p99: number; n: number } | null;
}

/** The loop's figures over the measuring window (from its first running tick). */
async function measure(daemon: Daemon, o: BenchRosOptions, robot: 'ros' | 'sim'): Promise<RunFigures> {
  const late: number[] = [];
  let misses = 0;
  let measuring = false;
  daemon.stats.tickListener = (lateS, m) => { if (measuring) { late.push(lateS * 1e3); misses += m; } };
  const obsToCommand: number[] = [];
  const off = daemon.onChunk((c) => { if (measuring) obsToCommand.push(Number(daemon.clock.nowNs() - c.t0Ns) / 1e6); });
  const loop = daemon.controlLoop!;
  while (loop.state !== 'run') await sleep(5);
  const before = loop.snapshot();
  measuring = true;
  await sleep(o.durationS * 1000);
  measuring = false;
  off();
  const after = loop.snapshot();
  const j = summarize(late, 3);
  const c = obsToCommand.length ? summarize(obsToCommand, 2) : undefined;
  return {
    robot, ticks: late.length, jitter_ms: { p50: j.p50, p99: j.p99, max: j.max }, deadline_misses: misses,
    chunks: after.chunksAccepted - before.chunksAccepted,
    obs_to_command_ms: c ? { p50: c.p50, p99: c.p99, n: c.n } : null,
  };
}

async function daemonConfig(work: string, o: BenchRosOptions, robot: 'ros' | 'sim') {
  const overrides: ParamOverrides = {
    robot, mode: 'autonomous', output_mode: 'trajectory', robot_description: 'vlad-sim-arm', hw_profile: o.profile,
    ops: { endpoint: `ipc://${join(work, `ops-${robot}.sock`)}`, telemetry_endpoint: `ipc://${join(work, `tel-${robot}.sock`)}` },
    teleop: { endpoint: `ipc://${join(work, `teleop-${robot}.sock`)}` },
    record: { dir: '' }, ota: { dir: '' }, joint_states_timeout_s: 60,
    sim: { clock: 'realtime', physics_dt: 0.004, camera_hz: 30 },
    ...(o.bundle ? { bundle: o.bundle } : {}),
  };
  return loadDaemonConfig({ overrides });
}

async function rosRun(rcl: Rcl, work: string, o: BenchRosOptions, instruction: string) {
  const sim = startSimRos(o);
  const daemon = new Daemon({ config: await daemonConfig(work, o, 'ros'), log: commandLogger(), rcl, rosArgv: [process.argv[0]!, MAIN] });
  let probe: RclNode | undefined;
  try {
    const early = sim.exited.then((code) => { throw new Error(`vlad sim-ros exited (${code}) before the daemon configured: ${sim.stderrTail()}`); });
    early.catch(() => undefined); // it exits at the end too
    await daemon.serveOnly(); // rclnodejs.init and the vlad node
    // Configure waits for sim-ros's first JointState.
    await Promise.race([daemon.start(), early]);
    // The probe: each ~/chunk (stamp: observation time, ROS) and the trajectory published right
    // after it arrive on two topics in either order; pair them and time stamp -> trajectory arrival.
    probe = new rcl.Node('vlad_bench');
    const node = probe;
    const PAIR_NS = 50_000_000n; // a chunk and its trajectory arrive within this of each other
    let chunkStamp: { stampNs: bigint; atNs: bigint } | undefined;
    let trajAt: bigint | undefined;
    const obsToTraj: number[] = [];
    let measuring = false;
    node.createSubscription(MSG.jointTrajectory, '/vlad/chunk', { qos: rcl.QoS.profileDefault }, (m: JointTrajectoryMsg) => {
      const now = node.now().nanoseconds;
      const stampNs = timeToNs(m.header.stamp);
      if (trajAt !== undefined && now - trajAt < PAIR_NS && trajAt >= stampNs) { if (measuring) obsToTraj.push(Number(trajAt - stampNs) / 1e6); trajAt = undefined; return; }
      chunkStamp = { stampNs, atNs: now };
    });
    node.createSubscription(MSG.jointTrajectory, SIM_ARM_TOPICS.trajectory, { qos: rcl.QoS.profileSystemDefault }, () => {
      const now = node.now().nanoseconds;
      if (chunkStamp && now - chunkStamp.atNs < PAIR_NS) { if (measuring) obsToTraj.push(Number(now - chunkStamp.stampNs) / 1e6); chunkStamp = undefined; return; }
      trajAt = now;
    });
    node.spin();
    await daemon.startEpisode({ instruction });
    const robot = daemon.robotDriver as RosRobot;
    const count = () => robot.counters.snapshot().find((t) => t.topic === SIM_ARM_TOPICS.jointStates)!;
    const js0 = count();
    const t0 = performance.now();
    measuring = true;
    const figures = await measure(daemon, o, 'ros');
    measuring = false;
    const seconds = (performance.now() - t0) / 1000;
    const js1 = count();
    const t = obsToTraj.length ? summarize(obsToTraj, 2) : undefined;
    await daemon.stopEpisode(false).catch(() => undefined);
    return {
      ...figures,
      obs_to_trajectory_received_ms: t ? { p50: t.p50, p99: t.p99, max: t.max, n: t.n } : null,
      joint_states_hz: round((js1.accepted - js0.accepted) / seconds, 1),
      joint_states_refused: js1.badTotal - js0.badTotal,
      inputs: robot.counters.snapshot().map((x) => ({ topic: x.topic, accepted: x.accepted, refused: x.badTotal })),
    };
  } finally {
    probe?.destroy();
    await daemon.shutdown();
    sim.child.kill('SIGTERM');
    await Promise.race([sim.exited, sleep(5000)]);
    if (sim.child.exitCode === null) sim.child.kill('SIGKILL');
  }
}

async function simRun(work: string, o: BenchRosOptions, instruction: string) {
  const daemon = new Daemon({ config: await daemonConfig(work, o, 'sim'), log: commandLogger() });
  try {
    await daemon.start();
    await daemon.startEpisode({ instruction });
    const figures = await measure(daemon, o, 'sim');
    await daemon.stopEpisode(false).catch(() => undefined);
    return figures;
  } finally {
    await daemon.shutdown();
  }
}

export async function benchRos(o: BenchRosOptions): Promise<Record<string, unknown>> {
  // First: without ROS sourced this refuses, and nothing is started or imported.
  const rcl = await loadRclnodejs(process.env, undefined, 'vlad bench ros');
  const work = await mkdtemp(join(tmpdir(), 'vlad-bench-ros-'));
  const instruction = sampleTask(o.task, o.seed).instruction;
  const load0 = loadavg();
  try {
    o.progress(`bench ros: --robot sim baseline, ${o.durationS} s`);
    const sim = await simRun(work, o, instruction);
    o.progress(`bench ros: --robot ros against vlad sim-ros (ROS_DISTRO ${process.env.ROS_DISTRO}, RMW ${process.env.RMW_IMPLEMENTATION ?? 'default'}), ${o.durationS} s`);
    const ros = await rosRun(rcl, work, o, instruction);
    return {
      duration_s: o.durationS, task: o.task, seed: o.seed, instruction,
      ros_distro: process.env.ROS_DISTRO ?? null, rmw: process.env.RMW_IMPLEMENTATION ?? null, ros_domain_id: process.env.ROS_DOMAIN_ID ?? null,
      ros, sim,
      load_avg: { start: load0.map((x) => round(x, 2)), end: loadavg().map((x) => round(x, 2)) },
    };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
