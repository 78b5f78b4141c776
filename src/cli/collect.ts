// `vlad collect`: teleop data collection on the simulated arm, through the daemon's pipeline in
// teleop mode: the scripted operator (a teleop device with privileged sight) publishes its commands
// on the ZeroMQ teleop socket, the control loop executes them through the safety filter, and the
// recorder stores every executed step as RLDS. Lockstep: faster than real time, nothing dropped.
import { commandLogger } from '../core/index.js';
import { randomInt } from 'node:crypto';
import { appendFile, mkdir } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import process from 'node:process';
import { Daemon, loadDaemonConfig, type EpisodeOutcome } from '../daemon/index.js';
import { deriveSeed, type TaskName } from '../sim/index.js';
import { command, flag, UsageError } from './args.js';
import { parseTasks } from './sim.js';

const USAGE = 'vlad collect --task T|all --episodes N --out DIR [--seed S] [--bundle DIR] [--miss-rate P] [--release-miss-rate Q] [--edge-miss-rate E] [--variation KEY=VALUE[,...]] [--json]';

/** Seeds of episode `ep` of task index `ti`: the layout and, separately, the operator. */
export const episodeSeeds = (seed: number, ti: number, ep: number): { task: number; operator: number } =>
  ({ task: deriveSeed(seed, ti, ep), operator: deriveSeed(seed, ti, ep, 1) });

export interface CollectOptions {
  tasks: readonly TaskName[];
  episodes: number;
  seed: number;
  /** `<data_dir>/<name>`: the TFDS dataset directory (undefined: nothing recorded). */
  out?: string | undefined;
  bundle?: string | undefined;
  missRate?: number;
  releaseMissRate?: number;
  edgeMissRate?: number;
  /** The simulated world's variation spec ('' or absent: the original world). */
  variation?: string;
  onEpisode?: (o: EpisodeOutcome, index: number, total: number) => void;
}

export interface CollectSummary {
  tasks: Record<string, { episodes: number; successes: number; success_rate: number; mean_steps: number; retried: number }>;
  episodes: EpisodeOutcome[];
  dataset: string;
  seed: number;
  teleop_commands: number;
  wall_s: number;
  sim_s: number;
}

export async function collect(o: CollectOptions): Promise<CollectSummary> {
  const out = o.out !== undefined ? resolve(o.out) : undefined;
  const record = out ? { dir: dirname(out), dataset: basename(out) } : { dir: '' };
  const config = await loadDaemonConfig({ overrides: { robot: 'sim', mode: 'teleop', record, ...(o.bundle ? { bundle: o.bundle } : {}), ...(o.variation ? { sim: { variation: o.variation } } : {}) } });
  const daemon = new Daemon({ config, log: commandLogger(), clock: 'lockstep' });
  const episodes: EpisodeOutcome[] = [];
  const started = performance.now();
  let dataset = '';
  try {
    await daemon.start();
    dataset = daemon.datasetDir ?? '';
    const total = o.tasks.length * o.episodes;
    for (const [ti, task] of o.tasks.entries()) {
      for (let ep = 0; ep < o.episodes; ep++) {
        const seeds = episodeSeeds(o.seed, ti, ep);
        const outcome = await daemon.runEpisode({
          task, seed: seeds.task, operatorSeed: seeds.operator, operator: true,
          operatorOptions: { missRate: o.missRate ?? 0, releaseMissRate: o.releaseMissRate ?? 0, edgeMissRate: o.edgeMissRate ?? 0 },
        });
        episodes.push(outcome);
        o.onEpisode?.(outcome, episodes.length, total);
      }
    }
  } finally {
    await daemon.shutdown();
  }
  const tasks: CollectSummary['tasks'] = {};
  for (const task of o.tasks) {
    const mine = episodes.filter((e) => e.scene?.task === task);
    const successes = mine.filter((e) => e.success).length;
    tasks[task] = { episodes: mine.length, successes, success_rate: mine.length ? successes / mine.length : 0, mean_steps: mine.reduce((s, e) => s + e.steps, 0) / Math.max(1, mine.length), retried: mine.filter((e) => (e.scene?.operatorRetries ?? 0) > 0).length };
  }
  const steps = episodes.reduce((s, e) => s + e.steps, 0);
  const teleop = episodes.reduce((s, e) => s + (e.sources.teleop ?? 0) + (e.sources.perturbation ?? 0), 0);
  return { tasks, episodes, dataset, seed: o.seed, teleop_commands: teleop, wall_s: (performance.now() - started) / 1000, sim_s: steps * daemon.periodS };
}

export async function run(args: string[]): Promise<number> {
  return command({
    name: 'collect', usage: USAGE,
    options: {
      task: { type: 'string' }, episodes: { type: 'string' }, out: { type: 'string' }, seed: { type: 'string' }, bundle: { type: 'string' },
      'miss-rate': { type: 'string' }, 'release-miss-rate': { type: 'string' }, 'edge-miss-rate': { type: 'string' }, variation: { type: 'string' }, json: { type: 'boolean', default: false },
    },
  }, args, async (v) => {
    const rate = (name: 'miss-rate' | 'release-miss-rate' | 'edge-miss-rate') => flag.num(name, v[name], { min: 0, max: 1, default: 0 });
    const missRate = rate('miss-rate'), releaseMissRate = rate('release-miss-rate'), edgeMissRate = rate('edge-miss-rate');
    const tasks = parseTasks(v.task);
    const variation = v.variation !== undefined ? flag.variation('variation', v.variation) : '';
    const episodes = flag.int('episodes', v.episodes, { min: 1, max: 1_000_000 });
    const out = resolve(flag.required('out', v.out));
    if (!/^[a-zA-Z][a-zA-Z0-9_]*$/.test(basename(out))) throw new UsageError(`--out: the last path element '${basename(out)}' is the dataset name and must be a TFDS name ([a-zA-Z][a-zA-Z0-9_]*)`);
    // A fresh seed unless one is given: two runs of the same command must not record the same episodes.
    const seed = v.seed !== undefined ? flag.int('seed', v.seed, { min: 0, max: 2 ** 31 - 1 }) : randomInt(0, 2 ** 31 - 1);
    const say = (line: string) => process.stderr.write(`${line}\n`);
    say(`collect: ${tasks.join(',')} x ${episodes} episodes -> ${out} (seed ${seed}${v.seed === undefined ? ', drawn: pass --seed to repeat' : ''}; teleop over ZeroMQ through the control loop${missRate ? `, deliberate grasp misses in ${missRate * 100}% of pick/place` : ''}${releaseMissRate ? `, short releases in ${releaseMissRate * 100}% of the other places` : ''}${edgeMissRate ? `, edge grasps in ${edgeMissRate * 100}% of the other pick/place` : ''}${variation ? `; world: ${variation}` : ''})`);
    const summary = await collect({
      tasks, episodes, seed, out, bundle: v.bundle, missRate, releaseMissRate, edgeMissRate, variation,
      onEpisode: (e, i, total) => say(`collect ${i}/${total} ${e.scene?.task} seed=${e.scene?.seed} ${e.success ? 'success' : 'FAIL'} steps=${e.steps} "${e.instruction}"${e.scene?.operatorRetries ? ` retries=${e.scene.operatorRetries}` : ''}${e.sources.perturbation ? ` perturbed=${e.sources.perturbation}` : ''}${e.recorded?.droppedSteps ? ` dropped=${e.recorded.droppedSteps}` : ''}`),
    });
    // The seed and command of every run, beside the dataset's version folders (TFDS ignores it).
    await mkdir(out, { recursive: true });
    await appendFile(join(out, 'collect-runs.jsonl'), `${JSON.stringify({ time: new Date().toISOString(), seed, tasks, episodes, miss_rate: missRate, release_miss_rate: releaseMissRate, edge_miss_rate: edgeMissRate, variation, recorded: summary.episodes.length })}\n`);
    for (const [task, t] of Object.entries(summary.tasks)) say(`collect ${task}: ${t.successes}/${t.episodes} successful, mean ${t.mean_steps.toFixed(0)} steps${t.retried ? `, ${t.retried} retried after a failed attempt` : ''}`);
    say(`collect: ${summary.episodes.length} episodes, ${summary.sim_s.toFixed(1)} s simulated in ${summary.wall_s.toFixed(1)} s (${(summary.sim_s / summary.wall_s).toFixed(1)}x real time) -> ${summary.dataset} (seed ${seed})`);
    if (v.json) process.stdout.write(`${JSON.stringify({ ...summary, episodes: summary.episodes.length })}\n`);
    return 0;
  });
}
