// `vlad sim-ros`: the simulated arm as a ros2_control robot on a ROS 2 graph (io/ros RosSimArm on
// the sim worker: physics at 250 Hz and cameras at 30 Hz in their own thread, in real time). The
// other half of the command pair `vlad sim-ros` + `vlad run --robot ros` (README "Running as a
// ROS 2 node"). rclnodejs is loaded only through loadRclnodejs(), which refuses when ROS is not
// sourced; ROS arguments (`--ros-args -r __ns:=/arm -p seed:=3`) reach rclnodejs.init unchanged.
import process from 'node:process';
import { rootLogger } from '../core/index.js';
import { loadRclnodejs, RosSimArm } from '../io/ros/index.js';
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
    const sim = await SimWorkerRobot.start({ imageSize: o.imageSize, cameras: o.cameras, physicsDt: o.physicsDt, cameraHz: o.cameraHz });
    let arm: RosSimArm | undefined;
    try {
      const info = await sim.resetScene({ task: o.task, seed: o.seed });
      await sim.startRealtime();
      arm = new RosSimArm(rcl, sim, { publishHz: o.jointStatesHz, compressed: o.compressed, simNowNs: () => process.hrtime.bigint(), task: o.task, seed: o.seed, log });
      log.info({ node: arm.node.name(), task: o.task, seed: o.seed, instruction: info.instruction, physics_hz: 1 / o.physicsDt, camera_hz: o.cameraHz, joint_states_hz: o.jointStatesHz }, 'simulated arm up');
      await new Promise<void>((resolve) => {
        process.once('SIGINT', () => resolve());
        process.once('SIGTERM', () => resolve());
      });
    } finally {
      arm?.close();
      await sim.close();
      if (!rcl.isShutdown()) rcl.shutdown();
    }
    log.info({ published: arm?.published, inputs: arm?.counters.snapshot().map((t) => ({ topic: t.topic, accepted: t.accepted, refused: t.badTotal })) }, 'simulated arm down');
    return 0;
  });
}
