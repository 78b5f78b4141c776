// `vlad sim-ros`: the simulated arm as a ros2_control robot on a ROS 2 graph (io/ros RosSimArm on
// the sim worker: physics at 250 Hz and cameras at 30 Hz in their own thread, in real time). The
// other half of the command pair `vlad sim-ros` + `vlad run --robot ros` (README "Running as a
// ROS 2 node"). rclnodejs is loaded only through loadRclnodejs(), which refuses when ROS is not
// sourced; ROS arguments (`--ros-args -r __ns:=/arm -p seed:=3`) reach rclnodejs.init unchanged.
import process from 'node:process';
import { rootLogger, type Logger } from '../core/index.js';
import { loadRclnodejs, RosSimArm, type Rcl } from '../io/ros/index.js';
import { SimWorkerRobot, TASK_NAMES } from '../sim/index.js';
import { command, flag, UsageError } from './args.js';
import { splitRosArgs } from './run.js';

const USAGE = 'vlad sim-ros [--task pick|place|touch] [--seed N] [--image-size PX] [--cameras scene,wrist] [--physics-dt S] [--camera-hz HZ] [--joint-states-hz HZ] [--compressed] [--ros-args ...]';

export interface SimRosOptions {
  task: (typeof TASK_NAMES)[number];
  seed: number;
  imageSize: number;
  cameras: string[];
  physicsDt: number;
  cameraHz: number;
  jointStatesHz: number;
  compressed: boolean;
}

/** Parses the command's own flags (ROS arguments split off first). */
export function simRosOptions(v: Record<string, string | boolean | undefined>): SimRosOptions {
  return {
    task: flag.oneOf('task', v.task as string | undefined, TASK_NAMES, 'pick'),
    seed: flag.int('seed', v.seed as string | undefined, { min: 0, max: 2 ** 31 - 1, default: 0 }),
    // The shipped bundles see 96x96 cameras; a larger image is resized by the node (as a real camera's is).
    imageSize: flag.int('image-size', v['image-size'] as string | undefined, { min: 16, max: 1024, default: 96 }),
    cameras: flag.list('cameras', (v.cameras as string | undefined) ?? 'scene,wrist', (c) => {
      if (!/^[a-z][a-z0-9_]*$/.test(c)) throw new UsageError(`--cameras: '${c}' is not a camera name`);
      return c;
    }),
    physicsDt: flag.num('physics-dt', v['physics-dt'] as string | undefined, { min: 0.001, max: 0.05, default: 0.004 }),
    cameraHz: flag.num('camera-hz', v['camera-hz'] as string | undefined, { min: 1, max: 240, default: 30 }),
    // joint_state_broadcaster publishes every controller-manager update; 100 Hz is the common update_rate.
    jointStatesHz: flag.num('joint-states-hz', v['joint-states-hz'] as string | undefined, { min: 1, max: 1000, default: 100 }),
    compressed: v.compressed === true,
  };
}

/** The simulated arm in its thread, in real time, on `rcl` (initialized): what `vlad sim-ros` runs until a signal. */
export async function openSimRos(rcl: Rcl, o: SimRosOptions, log: Logger): Promise<{ arm: RosSimArm; sim: SimWorkerRobot; scene: string; close(): Promise<void> }> {
  const sim = await SimWorkerRobot.start({ imageSize: o.imageSize, cameras: o.cameras, physicsDt: o.physicsDt, cameraHz: o.cameraHz });
  let arm: RosSimArm | undefined;
  try {
    arm = new RosSimArm(rcl, sim, { publishHz: o.jointStatesHz, compressed: o.compressed, simNowNs: () => process.hrtime.bigint(), task: o.task, seed: o.seed, log });
    // The first scene is the parameters' (the flags, unless --ros-args -p task:=... / seed:=... override them).
    const scene = await arm.reset();
    await sim.startRealtime();
    const opened = arm;
    return { arm, sim, scene, close: async () => { opened.close(); await sim.close(); } };
  } catch (err) {
    arm?.close();
    await sim.close();
    throw err;
  }
}

export async function run(args: string[]): Promise<number> {
  const { own } = splitRosArgs(args);
  return command({
    name: 'sim-ros', usage: USAGE,
    options: {
      task: { type: 'string' }, seed: { type: 'string' }, 'image-size': { type: 'string' }, cameras: { type: 'string' }, 'physics-dt': { type: 'string' },
      'camera-hz': { type: 'string' }, 'joint-states-hz': { type: 'string' }, compressed: { type: 'boolean' },
    },
  }, own, async (v) => {
    const o = simRosOptions(v);
    const log = rootLogger().child({ part: 'sim-ros' });
    // Before anything else: without ROS sourced this refuses, and rclnodejs is never imported.
    const rcl = await loadRclnodejs(process.env, undefined, 'vlad sim-ros');
    await rcl.init(undefined, process.argv);
    try {
      const up = await openSimRos(rcl, o, log);
      log.info({ node: up.arm.node.name(), scene: up.scene, physics_hz: 1 / o.physicsDt, camera_hz: o.cameraHz, joint_states_hz: o.jointStatesHz }, 'simulated arm up');
      await new Promise<void>((resolve) => {
        process.once('SIGINT', () => resolve());
        process.once('SIGTERM', () => resolve());
      });
      const inputs = up.arm.counters.snapshot().map((t) => ({ topic: t.topic, accepted: t.accepted, refused: t.badTotal }));
      await up.close();
      log.info({ published: up.arm.published, inputs }, 'simulated arm down');
    } finally {
      if (!rcl.isShutdown()) rcl.shutdown();
    }
    return 0;
  });
}
