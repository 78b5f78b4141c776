// Teleop data collection with the scripted operator: every command goes over the ZeroMQ teleop
// socket into the robot, and each tick lands in the episode sink (the RLDS recorder).
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TeleopPublisher, TeleopReceiver, type TeleopStats } from '../io/zmq/index.js';
import { deriveSeed } from './rng.js';
import { sampleTask, type TaskName } from './tasks.js';
import { runTeleopEpisode, type EpisodeResult, type EpisodeSink } from './episode.js';
import { SimRobot } from './robot.js';

export interface CollectOptions {
  tasks: readonly TaskName[];
  episodes: number;
  seed: number;
  sink: EpisodeSink | undefined;
  imageSize?: number;
  /** Share of pick/place episodes that start with a deliberate miss and a recovery (0-1, default 0). */
  missRate?: number;
  /** Share of place episodes (without a grasp miss) that let the cube go short of the pad, then place it again (0-1). */
  releaseMissRate?: number;
  /** Share of pick/place episodes (without another deliberate error) that start with a grasp on the cube's edge, which slips, and a recovery (0-1). */
  edgeMissRate?: number;
  /** Teleop endpoint to bind; a private ipc socket by default. */
  endpoint?: string;
  onEpisode?: (r: EpisodeResult, index: number, total: number) => void;
}

export interface CollectSummary {
  tasks: Record<string, { episodes: number; successes: number; success_rate: number; mean_steps: number; retried: number }>;
  episodes: EpisodeResult[];
  teleop: TeleopStats;
  wall_s: number;
  sim_s: number;
}

/** Seeds of episode `ep` of task index `ti`: the layout and, separately, the operator. */
export const episodeSeeds = (seed: number, ti: number, ep: number): { task: number; operator: number } =>
  ({ task: deriveSeed(seed, ti, ep), operator: deriveSeed(seed, ti, ep, 1) });

export async function collect(opts: CollectOptions): Promise<CollectSummary> {
  const robot = await SimRobot.create({ imageSize: opts.imageSize ?? 96 });
  const endpoint = opts.endpoint ?? `ipc://${join(tmpdir(), `vlad-teleop-${process.pid}-${Date.now()}.sock`)}`;
  const receiver = await TeleopReceiver.bind({ endpoint, dim: 7, limits: robot.spec.positionLimits });
  const publisher = await TeleopPublisher.connect(receiver.endpoint, 'scripted-operator');
  const wall0 = performance.now();
  const episodes: EpisodeResult[] = [];
  const total = opts.tasks.length * opts.episodes;
  try {
    for (const [ti, task] of opts.tasks.entries()) {
      for (let ep = 0; ep < opts.episodes; ep++) {
        const seeds = episodeSeeds(opts.seed, ti, ep);
        const r = await runTeleopEpisode(robot, sampleTask(task, seeds.task), seeds.operator, { publisher, receiver }, opts.sink,
          { missRate: opts.missRate ?? 0, releaseMissRate: opts.releaseMissRate ?? 0, edgeMissRate: opts.edgeMissRate ?? 0 });
        episodes.push(r);
        opts.onEpisode?.(r, episodes.length, total);
      }
    }
  } finally {
    publisher.close();
    await receiver.close();
    await robot.close();
  }
  const tasks: CollectSummary['tasks'] = {};
  for (const task of opts.tasks) {
    const mine = episodes.filter((e) => e.task === task);
    const successes = mine.filter((e) => e.success).length;
    tasks[task] = { episodes: mine.length, successes, success_rate: mine.length ? successes / mine.length : 0, mean_steps: mine.reduce((s, e) => s + e.steps, 0) / Math.max(1, mine.length),
      retried: mine.filter((e) => (e.retries ?? 0) > 0).length };
  }
  const steps = episodes.reduce((s, e) => s + e.steps, 0);
  return { tasks, episodes, teleop: receiver.stats(), wall_s: (performance.now() - wall0) / 1000, sim_s: steps * robot.spec.controlDt };
}
