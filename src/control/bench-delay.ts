// `vlad bench delay`: chunk-boundary smoothness and task success under an injected inference
// delay, per joining method, in lockstep virtual time on the sim-worker robot (see
// sim/control-episode.ts). Smoothness uses the bundle's flow model (guided through expert_vjp for
// RTC). Success uses, by default, the same model as the planner on every method (RTC included);
// `successPlanner: 'expert'` uses the privileged scripted operator instead (its chunks already
// agree where they overlap and it ignores RTC guidance, so its RTC cell is n/a).
import { resolve } from 'node:path';
import type { JoinMethod } from './action-queue.js';
import { plannerFromEngine } from './planner.js';
import { PolicyEngine } from '../policy/engine.js';
import { SimWorkerRobot } from '../sim/worker-robot.js';
import { runControlEpisode } from '../sim/control-episode.js';
import { deriveSeed } from '../sim/rng.js';
import { TASK_NAMES, type TaskName } from '../sim/tasks.js';
import { percentile } from '../core/stats.js';

export interface DelayBenchOptions {
  delaysMs: number[];
  methods: JoinMethod[];
  bundle: string;
  profile: string;
  tasks: TaskName[];
  /** Success episodes per task per cell. */
  episodes: number;
  /** Who plans the success episodes: the bundle's model (default) or the scripted operator. */
  successPlanner?: 'model' | 'expert';
  /** Model episodes per cell (smoothness), and their length in control steps. */
  smoothEpisodes: number;
  smoothSteps: number;
  seed: number;
  progress?: (line: string) => void;
}

const r3 = (x: number): number => Math.round(x * 1000) / 1000;

export async function benchDelay(o: DelayBenchOptions): Promise<Record<string, unknown>> {
  const log = o.progress ?? (() => undefined);
  const engine = await PolicyEngine.open(resolve(o.bundle), { profile: o.profile });
  const io = engine.manifest.io;
  const robot = await SimWorkerRobot.start({ imageSize: io.cameras[0]?.width ?? 96, cameras: io.cameras.map((c) => c.name), physicsDt: io.control_dt });
  const rateHz = 1 / io.control_dt;
  const rows: Record<string, unknown>[] = [];
  const t0 = performance.now();
  try {
    for (const delayMs of o.delaysMs) {
      for (const method of o.methods) {
        // Smoothness: the flow model, cameras rendered every tick.
        let worstRatio = 0, worstJump = 0, worstSeam = 0, worstSeamRatio = 0, stepSum = 0, stepN = 0, boundaries = 0, rtcChunks = 0;
        const delays: number[] = [];
        const ratios: number[] = [];
        for (let e = 0; e < o.smoothEpisodes; e++) {
          const task = o.tasks[e % o.tasks.length]!;
          const r = await runControlEpisode(robot, {
            task, taskSeed: deriveSeed(o.seed, 100 + e), planner: plannerFromEngine(engine), join: { method },
            delayS: delayMs / 1e3, pixels: true, maxSteps: o.smoothSteps, stopOnSuccess: false,
          });
          worstRatio = Math.max(worstRatio, r.smoothness.ratio);
          worstJump = Math.max(worstJump, r.smoothness.boundary_max_jump);
          worstSeam = Math.max(worstSeam, r.smoothness.seam_max);
          worstSeamRatio = Math.max(worstSeamRatio, r.smoothness.seam_ratio);
          stepSum += r.smoothness.mean_in_chunk_step; stepN++;
          boundaries += r.smoothness.boundaries;
          ratios.push(...r.smoothness.boundary_ratios);
          delays.push(...r.stats.delays);
          if (method === 'rtc') rtcChunks += r.stats.chunksAccepted;
        }
        // Success: the model (cameras rendered every tick) or the privileged expert (blind frames).
        const byModel = (o.successPlanner ?? 'model') === 'model';
        let successes = 0, episodes = 0;
        const perTask: Record<string, string> = {};
        if (byModel || method !== 'rtc') {
          for (const [ti, task] of o.tasks.entries()) {
            let ok = 0;
            for (let e = 0; e < o.episodes; e++) {
              const r = await runControlEpisode(robot, {
                task, taskSeed: deriveSeed(o.seed, ti, e), operatorSeed: deriveSeed(o.seed, ti, e, 1),
                planner: byModel ? plannerFromEngine(engine) : robot.expertPlanner(io.chunk_length, io.control_dt),
                join: { method }, delayS: delayMs / 1e3, pixels: byModel,
              });
              if (r.success) ok++;
            }
            perTask[task] = `${ok}/${o.episodes}`;
            successes += ok; episodes += o.episodes;
          }
        }
        const row = {
          delay_ms: delayMs, method,
          delay_steps: delays.length ? Math.max(...delays) : null,
          boundary_jump_ratio: r3(worstRatio),
          // The typical boundary, not only the worst: every boundary's jump over its episode's mean in-chunk step.
          boundary_jump_ratio_p50: ratios.length ? r3(percentile(ratios, 50)) : null,
          boundary_jump_ratio_p90: ratios.length ? r3(percentile(ratios, 90)) : null,
          boundary_max_jump: r3(worstJump),
          seam_ratio: r3(worstSeamRatio),
          seam_max: r3(worstSeam),
          mean_in_chunk_step: r3(stepN ? stepSum / stepN : 0),
          boundaries,
          success: episodes ? r3(successes / episodes) : null,
          success_by_task: episodes ? perTask : 'n/a: the scripted expert ignores RTC guidance',
        };
        rows.push(row);
        log(`  delay ${delayMs} ms ${method}: boundary jump ratio ${row.boundary_jump_ratio} (p50 ${row.boundary_jump_ratio_p50}, p90 ${row.boundary_jump_ratio_p90}), seam ratio ${row.seam_ratio} (${boundaries} boundaries, d<=${row.delay_steps}), ${byModel ? 'model' : 'expert'} success ${row.success ?? 'n/a'} [${((performance.now() - t0) / 1e3).toFixed(0)} s]`);
      }
    }
  } finally {
    await robot.close();
    await engine.close();
  }
  return {
    rate_hz: rateHz,
    time: 'lockstep virtual time: answers land delay_ms after their observation (at least one control step); compute time not counted',
    smoothness: `${engine.modelVersion}, ${o.smoothEpisodes} episode(s) x ${o.smoothSteps} steps per cell; ratio = largest L2 jump of the joined plan at a chunk boundary / mean L2 step inside chunks (before the safety filter); seam_ratio = largest distance at a boundary between the joined command and where the previous plan was going / the same mean step`,
    success: (o.successPlanner ?? 'model') === 'model'
      ? `${engine.modelVersion} as the planner, ${o.episodes} episode(s) x ${o.tasks.join(',')} per cell, same task seeds in every cell`
      : `privileged scripted expert as the planner, ${o.episodes} episode(s) x ${o.tasks.join(',')} per cell; RTC not applicable (the expert ignores guidance, its chunks already agree)`,
    rows,
    wall_s: r3((performance.now() - t0) / 1e3),
  };
}

export const ALL_TASKS = TASK_NAMES;
