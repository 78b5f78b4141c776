// `vlad bench delay`: chunk-boundary smoothness and task success under an injected inference
// delay, per joining method, through the daemon's pipeline in lockstep virtual time: answers land
// delay_ms after their observation (at least one control step) and compute time is not counted,
// so what this measures is the runtime's behaviour under delay (joining, latency compensation),
// not this machine's speed. Smoothness uses the bundle's model; success uses the same model as the
// planner on every method (RTC included), or with `--success expert` the privileged scripted
// operator (its chunks already agree where they overlap and it ignores RTC guidance: n/a there).
import { commandLogger } from '../core/index.js';
import { percentile } from '../core/index.js';
import { BoundaryMeter, type JoinMethod } from '../control/index.js';
import { Daemon, loadDaemonConfig } from '../daemon/index.js';
import { deriveSeed, type TaskName } from '../sim/index.js';

export interface DelayBenchOptions {
  delaysMs: number[];
  methods: JoinMethod[];
  bundle?: string | undefined;
  profile: string;
  tasks: TaskName[];
  /** Success episodes per task per cell. */
  episodes: number;
  successPlanner: 'model' | 'expert';
  /** Model episodes per cell (smoothness), and their length in control steps. */
  smoothEpisodes: number;
  smoothSteps: number;
  seed: number;
  progress?: (line: string) => void;
}

const r3 = (x: number): number => Math.round(x * 1000) / 1000;

async function openDaemon(o: DelayBenchOptions, planner: 'policy' | 'expert'): Promise<Daemon> {
  const config = await loadDaemonConfig({ overrides: { robot: 'sim', hw_profile: o.profile, mode: 'autonomous', seed: o.seed, ...(o.bundle ? { bundle: o.bundle } : {}) } });
  const daemon = new Daemon({ config, log: commandLogger(), clock: 'lockstep', planner, pixels: planner === 'policy' });
  await daemon.transition('configure');
  return daemon;
}

export async function benchDelay(o: DelayBenchOptions): Promise<Record<string, unknown>> {
  const log = o.progress ?? (() => undefined);
  const model = await openDaemon(o, 'policy');
  const expert = o.successPlanner === 'expert' ? await openDaemon(o, 'expert') : undefined;
  const rows: Record<string, unknown>[] = [];
  const t0 = performance.now();
  try {
    for (const delayMs of o.delaysMs) {
      for (const method of o.methods) {
        for (const d of [model, expert]) if (d) { d.setLoopOptions({ join: method, lockstepDelayS: delayMs / 1e3 }); await d.transition('activate'); }
        // Smoothness: the model, cameras rendered every tick, episodes that run their full length.
        let worstRatio = 0, worstJump = 0, worstSeam = 0, worstSeamRatio = 0, stepSum = 0, stepN = 0, boundaries = 0;
        const delays: number[] = [];
        const ratios: number[] = [];
        for (let e = 0; e < o.smoothEpisodes; e++) {
          const task = o.tasks[e % o.tasks.length]!;
          await model.startEpisode({ task, seed: deriveSeed(o.seed, 100 + e), autoEnd: false });
          const loop = model.controlLoop!;
          const meter = new BoundaryMeter(() => loop.actionQueue, loop.periodS);
          const untap = loop.addTap(meter.tap);
          const before = loop.snapshot().delays.length;
          for (let k = 0; k < o.smoothSteps; k++) await model.stepLockstep();
          untap();
          await model.stopEpisode(false);
          worstRatio = Math.max(worstRatio, meter.ratio);
          worstJump = Math.max(worstJump, meter.maxBoundaryJump);
          worstSeam = Math.max(worstSeam, meter.maxSeam);
          worstSeamRatio = Math.max(worstSeamRatio, meter.seamRatio);
          stepSum += meter.meanInChunkStep; stepN++;
          boundaries += meter.boundaryJumps.length;
          ratios.push(...meter.boundaryRatios);
          delays.push(...loop.snapshot().delays.slice(before));
        }
        // Success: the model, or the privileged expert (blind frames), on the same task seeds in every cell.
        const planner = expert ?? model;
        let successes = 0, episodes = 0;
        const perTask: Record<string, string> = {};
        if (!expert || method !== 'rtc') {
          for (const [ti, task] of o.tasks.entries()) {
            let ok = 0;
            for (let e = 0; e < o.episodes; e++) {
              const r = await planner.runEpisode({ task, seed: deriveSeed(o.seed, ti, e), operatorSeed: deriveSeed(o.seed, ti, e, 1) });
              if (r.success) ok++;
            }
            perTask[task] = `${ok}/${o.episodes}`;
            successes += ok; episodes += o.episodes;
          }
        }
        for (const d of [model, expert]) if (d) await d.transition('deactivate');
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
        log(`  delay ${delayMs} ms ${method}: boundary jump ratio ${row.boundary_jump_ratio} (p50 ${row.boundary_jump_ratio_p50}, p90 ${row.boundary_jump_ratio_p90}), seam ratio ${row.seam_ratio} (${boundaries} boundaries, d<=${row.delay_steps}), ${expert ? 'expert' : 'model'} success ${row.success ?? 'n/a'} [${((performance.now() - t0) / 1e3).toFixed(0)} s]`);
      }
    }
  } finally {
    await model.shutdown();
    await expert?.shutdown();
  }
  return {
    rate_hz: model.rateHz,
    time: 'lockstep virtual time: answers land delay_ms after their observation (at least one control step); compute time not counted',
    path: 'daemon pipeline (lockstep): sim -> observation store -> planner -> control loop (queue, joining, safety, watchdog) -> sim',
    smoothness: `${model.policy?.modelVersion ?? o.bundle}, ${o.smoothEpisodes} episode(s) x ${o.smoothSteps} steps per cell; ratio = largest L2 jump of the joined plan at a chunk boundary / mean L2 step inside chunks (before the safety filter); seam_ratio = largest distance at a boundary between the joined command and where the previous plan was going / the same mean step`,
    success: o.successPlanner === 'model'
      ? `the bundle's model as the planner, ${o.episodes} episode(s) x ${o.tasks.join(',')} per cell, same task seeds in every cell`
      : `privileged scripted expert as the planner, ${o.episodes} episode(s) x ${o.tasks.join(',')} per cell; RTC not applicable (the expert ignores guidance, its chunks already agree)`,
    rows,
    wall_s: r3((performance.now() - t0) / 1e3),
  };
}
