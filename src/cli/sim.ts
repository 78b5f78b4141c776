// `vlad sim`: the policy in closed loop on the simulated arm, through the daemon's pipeline (the
// same control loop, joining, safety filter and watchdog as on a robot), episode after episode on
// seeded layouts; per-task success and the facts that explain failures.
import { commandLogger } from '../core/index.js';
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { basename, dirname, resolve } from 'node:path';
import process from 'node:process';
import type { CameraImage, Observation } from '../core/index.js';
import { Daemon, loadDaemonConfig, type EpisodeOutcome, type ParamOverrides } from '../daemon/index.js';
import { deriveSeed, TASK_NAMES, writeGif, type TaskName } from '../sim/index.js';
import { JOIN_METHODS } from '../control/index.js';
import { command, flag, UsageError } from './args.js';
import { episodeLine, taskLine, taskReport, type TaskReport } from './sim-report.js';

const USAGE = 'vlad sim --task T|all --episodes N [--bundle DIR | --policy expert] [--adapter DIR] [--seed S] [--json] [--record DIR] [--video FILE.gif] [--mode realtime|lockstep] [--profile NAME] [--join replace|ensemble|rtc] [--replan-every STEPS] [--noise-scale X] [--swap-instruction] [--blank-cameras] [--variation KEY=VALUE[,KEY=VALUE...]] [--supervise]';

export function parseTasks(value: string | undefined): TaskName[] {
  if (value === undefined) throw new UsageError(`--task is required (one of ${TASK_NAMES.join(', ')}, or all)`);
  if (value === 'all') return [...TASK_NAMES];
  return flag.list('task', value, (t) => flag.oneOf('task', t, TASK_NAMES));
}

/** The observation with every camera image black (same sizes, fresh buffers). */
function blanked(obs: Observation): Observation {
  const images: Record<string, CameraImage> = {};
  for (const [name, img] of Object.entries(obs.images)) images[name] = { ...img, data: new Uint8Array(img.data.length) };
  return { ...obs, images };
}

export interface SimRunReport {
  tasks: Record<string, TaskReport>;
  policy: string;
  /** Policy chunks accepted, by the adapter that planned them ('base': the bundle alone); none for the scripted expert. */
  adapters: Record<string, number>;
  /** The world's variation ('' = the original world). */
  variation: string;
  mode: 'realtime' | 'lockstep';
  /** Control ticks per wall-clock second over the whole run. */
  control_hz: number;
  target_control_hz: number;
  /** Wall time of each plan request (observation in, chunk out), ms. */
  obs_to_chunk_ms: { p50: number; p99: number; mean: number; count: number };
  watchdog_events: Record<string, number>;
  clamps: Record<string, number>;
  wall_s: number;
}

export async function run(args: string[]): Promise<number> {
  return command({
    name: 'sim', usage: USAGE,
    options: {
      bundle: { type: 'string' }, policy: { type: 'string' }, adapter: { type: 'string' }, task: { type: 'string' }, episodes: { type: 'string' }, seed: { type: 'string' },
      json: { type: 'boolean', default: false }, record: { type: 'string' }, video: { type: 'string' }, mode: { type: 'string' }, profile: { type: 'string' },
      join: { type: 'string' }, 'replan-every': { type: 'string' }, 'noise-scale': { type: 'string' }, 'swap-instruction': { type: 'boolean', default: false }, 'blank-cameras': { type: 'boolean', default: false },
      variation: { type: 'string' }, supervise: { type: 'boolean', default: false },
    },
  }, args, async (v) => {
    if (v.bundle && v.policy) throw new UsageError('give --bundle or --policy, not both');
    if (v.policy !== undefined) flag.oneOf('policy', v.policy, ['expert'] as const);
    if (v.adapter !== undefined && v.policy !== undefined) throw new UsageError('--adapter adapts the bundle\'s policy; it cannot go with --policy expert');
    if (v.adapter !== undefined && !existsSync(resolve(flag.required('adapter', v.adapter)))) throw new UsageError(`--adapter: no adapter directory at ${resolve(v.adapter)}`);
    if (v.supervise && v.policy !== undefined) throw new UsageError('--supervise watches the bundle\'s policy; it cannot go with --policy expert');
    if (v.video && !v.video.endsWith('.gif')) throw new UsageError(`--video: only GIF output is supported (got '${v.video}'; use a .gif name)`);
    const tasks = parseTasks(v.task);
    const episodes = flag.int('episodes', v.episodes, { min: 1, max: 100_000 });
    const seed = flag.int('seed', v.seed, { min: 0, max: 2 ** 31 - 1, default: 0 });
    const mode = flag.oneOf('mode', v.mode, ['realtime', 'lockstep'] as const, 'realtime');
    const replanEvery = v['replan-every'] !== undefined ? flag.int('replan-every', v['replan-every'], { min: 1, max: 10_000 }) : undefined;
    const overrides: ParamOverrides = { robot: 'sim', mode: v.supervise ? 'intervention' : 'autonomous', seed, sim: { clock: mode, ...(v.variation !== undefined ? { variation: flag.variation('variation', v.variation) } : {}) } };
    if (v.bundle) overrides.bundle = v.bundle;
    if (v.profile) overrides.hw_profile = v.profile;
    if (v.join) overrides.join = flag.oneOf('join', v.join, JOIN_METHODS);
    if (v['noise-scale'] !== undefined) overrides.noise_scale = flag.num('noise-scale', v['noise-scale'], { min: 0, max: 4, exclusiveMin: true });
    if (v.record) overrides.record = { dir: dirname(resolve(v.record)), dataset: basename(resolve(v.record)) };
    const report = await simulate({
      overrides, tasks, episodes, seed, mode, json: v.json ?? false, video: v.video, expert: v.policy === 'expert', replanEvery, adapter: v.adapter,
      swapInstruction: v['swap-instruction'] ?? false, blankCameras: v['blank-cameras'] ?? false, supervise: v.supervise ?? false,
    });
    if (v.json) process.stdout.write(`${JSON.stringify(report)}\n`);
    else {
      for (const [task, t] of Object.entries(report.tasks)) process.stdout.write(`${taskLine(task, t)}\n`);
      process.stdout.write(`control rate ${report.control_hz.toFixed(1)} Hz (target ${report.target_control_hz.toFixed(0)}), obs->chunk p50 ${report.obs_to_chunk_ms.p50.toFixed(1)} ms, p99 ${report.obs_to_chunk_ms.p99.toFixed(1)} ms, watchdog ${JSON.stringify(report.watchdog_events)}\n`);
    }
    return 0;
  });
}

export interface SimulateOptions {
  overrides: ParamOverrides;
  tasks: readonly TaskName[];
  episodes: number;
  seed: number;
  mode: 'realtime' | 'lockstep';
  json?: boolean;
  video?: string | undefined;
  expert?: boolean;
  replanEvery?: number | undefined;
  swapInstruction?: boolean;
  blankCameras?: boolean;
  /** Intervention mode with the scripted operator supervising (HG-DAgger): it takes over when the policy goes wrong. */
  supervise?: boolean;
  /** A PEFT adapter directory served instead of the base (DaemonOptions.adapter). */
  adapter?: string | undefined;
  onEpisode?: (e: EpisodeOutcome) => void;
}

/** Runs the episodes through a daemon built for the purpose (no sockets) and reports per task. */
export async function simulate(o: SimulateOptions): Promise<SimRunReport> {
  const config = await loadDaemonConfig({ overrides: o.overrides });
  const say = (line: string) => { if (!o.json) process.stderr.write(`${line}\n`); };
  const daemon = new Daemon({
    config, log: commandLogger(), clock: o.mode, planner: o.expert ? 'expert' : 'policy', pixels: !o.expert || o.blankCameras === true || o.video !== undefined,
    ...(o.blankCameras ? { observationTransform: blanked } : {}),
    ...(o.adapter !== undefined ? { adapter: o.adapter } : {}),
  });
  // What served, as the chunks say (not what was asked for).
  const adapters: Record<string, number> = {};
  daemon.onChunk((c) => { if (c.adapterVersion) adapters[c.adapterVersion] = (adapters[c.adapterVersion] ?? 0) + 1; });
  const outcomes = new Map<string, EpisodeOutcome[]>();
  const frames: CameraImage[] = [];
  let started = performance.now();
  let ticks = 0;
  try {
    await daemon.transition('configure');
    const io = daemon.policy!.manifest.io;
    if (o.replanEvery !== undefined) {
      if (o.replanEvery > io.chunk_length) throw new UsageError(`--replan-every ${o.replanEvery} is longer than the chunk (${io.chunk_length})`);
      config.params.replan_threshold = (io.chunk_length - o.replanEvery) / io.chunk_length;
    }
    await daemon.transition('activate');
    started = performance.now(); // the control rate counts the episodes, not start-up
    const probes = [o.swapInstruction ? 'instruction swapped to another object' : '', o.blankCameras ? 'cameras blanked' : '', o.supervise ? 'the scripted operator supervises (intervention)' : ''].filter(Boolean);
    const given = daemon.status().adapter as string;
    say(`sim: ${o.expert ? 'scripted expert (privileged)' : `${daemon.policy!.modelVersion}${given !== 'base' ? ` with adapter ${given}` : ''}`} on ${o.tasks.join(',')} x ${o.episodes} (${o.mode}, ${daemon.rateHz.toFixed(0)} Hz, ${config.params.join})${config.params.sim.variation ? `; world: ${config.params.sim.variation}` : ''}${probes.length ? `; probe: ${probes.join(', ')}` : ''}`);
    const sim = daemon.simDriver!;
    const capture = async () => { if (o.video && frames.length < 1500) frames.push(await sim.view('scene', 160)); };
    let videoTimer: NodeJS.Timeout | undefined;
    if (o.video && o.mode === 'realtime') videoTimer = setInterval(() => { void capture(); }, 40);
    for (const [ti, task] of o.tasks.entries()) {
      const list: EpisodeOutcome[] = [];
      outcomes.set(task, list);
      for (let ep = 0; ep < o.episodes; ep++) {
        const req = { task, seed: deriveSeed(o.seed, ti, ep), swapInstruction: o.swapInstruction ?? false, supervise: o.supervise ?? false };
        let outcome: EpisodeOutcome;
        if (o.mode === 'lockstep') {
          outcome = await daemon.runEpisode(req, async () => { if (++ticks % 2 === 0) await capture(); });
        } else {
          await daemon.startEpisode(req);
          outcome = await daemon.episodes!.whenEnded();
          // the outcome is out before the end has settled: the next episode may start only after it
          await daemon.episodes!.pendingEnd;
          ticks += outcome.steps;
        }
        list.push(outcome);
        o.onEpisode?.(outcome);
        process.stderr.write(`${episodeLine(outcome)}\n`); // progress, also with --json (stdout stays one object)
      }
    }
    if (videoTimer) clearInterval(videoTimer);
    const snap = daemon.loopSnapshot()!;
    const calls = daemon.stats.inferenceSamples();
    const wallS = (performance.now() - started) / 1000;
    const sorted = [...calls].sort((a, b) => a - b);
    const pick = (q: number) => sorted.length ? sorted[Math.min(sorted.length - 1, Math.ceil((q / 100) * sorted.length) - 1)]! : 0;
    const clamps: Record<string, number> = {};
    for (const [rule, perJoint] of Object.entries(snap.clamps)) clamps[rule] = perJoint.reduce((a, b) => a + b, 0);
    const report: SimRunReport = {
      tasks: Object.fromEntries([...outcomes].map(([task, list]) => [task, taskReport(list, daemon.periodS)])),
      policy: o.expert ? 'scripted-expert' : daemon.policy!.modelVersion,
      adapters,
      variation: config.params.sim.variation,
      mode: o.mode,
      control_hz: (o.mode === 'lockstep' ? ticks : snap.ticks) / wallS,
      target_control_hz: daemon.rateHz,
      obs_to_chunk_ms: { p50: pick(50), p99: pick(99), mean: calls.reduce((a, b) => a + b, 0) / Math.max(1, calls.length), count: calls.length },
      watchdog_events: snap.watchdogEvents as Record<string, number>,
      clamps,
      wall_s: wallS,
    };
    if (o.video) {
      await mkdir(dirname(resolve(o.video)), { recursive: true });
      await writeGif(o.video, frames, 40);
      say(`sim: wrote ${frames.length} frames to ${o.video}`);
    }
    if (daemon.datasetDir) say(`sim: episodes recorded in ${daemon.datasetDir}`);
    return report;
  } finally {
    await daemon.shutdown();
  }
}
