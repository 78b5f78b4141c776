// `vlad learn demo`: shows that the robot gets better by itself, through the daemon's own code path.
//   1. before: the shipped model's success on the varied world and on the original one (vlad sim's
//      evaluation: a daemon per world, lockstep, nothing recorded, no adapter);
//   2. history (--history N): the robot's earlier life, N autonomous episodes on the original world
//      recorded into the dataset it learns from: the successes it replays so as not to forget;
//   3. learning: one daemon on the varied world in intervention mode, recording, learning
//      (training.* params): supervised episodes (the scripted operator watches and takes over when
//      the policy goes wrong, HG-DAgger), with idle gaps in which the daemon's trainer runs passes,
//      gates, promotes and judges its adapters, until N interventions have happened;
//   4. after: the same evaluation episodes (same seeds) with the adapter the store serves (its last
//      known good), on both worlds. Evaluation episodes are never training data.
// `vlad learn fit` (learn-fit.ts): the trainer alone, offline, on recorded datasets.
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import process from 'node:process';
import { commandLogger } from '../core/index.js';
import { Daemon, loadDaemonConfig, type LearningStatus, type ParamOverrides } from '../daemon/index.js';
import { deriveSeed, TASK_NAMES, type TaskName } from '../sim/index.js';
import { command, flag, UsageError } from './args.js';
import { FIT_USAGE, runFit } from './learn-fit.js';
import { parseTasks, simulate } from './sim.js';

const DEMO_USAGE = 'vlad learn demo --variation KEY=VALUE[,...] [--interventions N] [--train-minutes M] [--eval-episodes E] [--curve-episodes C] [--history N] [--task T|all] [--batch K] [--steps-per-pass S] [--replay-fraction F] [--params FILE] [--seed S] [--out DIR] [--bundle DIR] [--json]';
const USAGE = `${DEMO_USAGE}\n  ${FIT_USAGE}`;
const DATASET = 'vlad_learn';

interface LearnDemoOptions {
  variation: string;
  interventions: number;
  trainMinutes: number;
  evalEpisodes: number;
  /** Episodes per task of each point of the curve between before and after (0: only those two). */
  curveEpisodes: number;
  history: number;
  tasks: TaskName[];
  batch: number;
  stepsPerPass: number;
  replayFraction: number;
  params: string | undefined;
  seed: number;
  out: string;
  bundle: string | undefined;
  json: boolean;
}

type WorldName = 'varied' | 'original';
type Table = Record<WorldName, Record<string, number>>;

export async function run(args: string[]): Promise<number> {
  if (args[0] === 'fit') return runFit(args.slice(1));
  return command({
    name: 'learn', usage: USAGE, positionals: { min: 1, max: 1 },
    options: {
      variation: { type: 'string' }, interventions: { type: 'string' }, 'train-minutes': { type: 'string' }, 'eval-episodes': { type: 'string' }, 'curve-episodes': { type: 'string' }, history: { type: 'string' },
      task: { type: 'string' }, batch: { type: 'string' }, 'steps-per-pass': { type: 'string' }, 'replay-fraction': { type: 'string' }, params: { type: 'string' }, seed: { type: 'string' }, out: { type: 'string' },
      bundle: { type: 'string' }, json: { type: 'boolean', default: false },
    },
  }, args, async (v, pos) => {
    if (pos[0] !== 'demo') throw new UsageError(`learn ${pos[0]}: the subcommand is demo (or fit)`);
    const variation = flag.variation('variation', flag.required('variation', v.variation));
    if (variation === '') throw new UsageError('--variation: give a world that differs from the original (e.g. workspace.dx=0.06)');
    const evalEpisodes = flag.int('eval-episodes', v['eval-episodes'], { min: 1, max: 10_000, default: 10 });
    const o: LearnDemoOptions = {
      variation,
      interventions: flag.int('interventions', v.interventions, { min: 1, max: 100_000, default: 30 }),
      trainMinutes: flag.num('train-minutes', v['train-minutes'] ?? '10', { min: 0, max: 10_000, exclusiveMin: true }),
      evalEpisodes,
      // By default the curve's points use the evaluation's own seeds: its ends are before and after.
      curveEpisodes: flag.int('curve-episodes', v['curve-episodes'], { min: 0, max: 10_000, default: evalEpisodes }),
      history: flag.int('history', v.history, { min: 0, max: 10_000, default: 0 }),
      tasks: v.task ? parseTasks(v.task) : [...TASK_NAMES],
      batch: flag.int('batch', v.batch, { min: 1, max: 1000, default: 6 }),
      stepsPerPass: flag.int('steps-per-pass', v['steps-per-pass'], { min: 1, max: 1_000_000, default: 200 }),
      replayFraction: flag.num('replay-fraction', v['replay-fraction'] ?? '0.3', { min: 0, max: 1 }),
      params: v.params,
      seed: flag.int('seed', v.seed, { min: 0, max: 2 ** 31 - 1, default: 0 }),
      out: resolve(v.out ?? await mkdtemp(join(tmpdir(), 'vlad-learn-demo-'))),
      bundle: v.bundle,
      json: v.json ?? false,
    };
    const report = await learnDemo(o);
    if (o.json) process.stdout.write(`${JSON.stringify(report)}\n`);
    else process.stdout.write(`${table(report.success, o.tasks)}\n${curveLines(report.curve, o.tasks)}\n${summaryLine(report)}\n`);
    return 0;
  });
}

const say = (line: string) => process.stderr.write(`${line}\n`);
const pct = (x: number | undefined) => (x === undefined ? '-' : `${Math.round(x * 100)}%`);

/** The shipped model acting alone, in lockstep, on one of the two worlds (evaluation and history). */
function autonomousRun(o: LearnDemoOptions, world: WorldName): ParamOverrides {
  return { robot: 'sim', mode: 'autonomous', seed: o.seed, sim: { clock: 'lockstep', variation: world === 'varied' ? o.variation : '' }, ...(o.bundle ? { bundle: o.bundle } : {}) };
}

/**
 * Success per task on one world: the shipped model alone, the adapter the store serves (its last
 * known good; `learnDir`) or one adapter's PEFT directory (`adapterDir`).
 */
async function evaluate(o: LearnDemoOptions, world: WorldName, served: { learnDir?: string; adapterDir?: string }, episodes = o.evalEpisodes): Promise<Record<string, number>> {
  const overrides: ParamOverrides = { ...autonomousRun(o, world), ...(served.learnDir ? { training: { dir: served.learnDir } } : {}) };
  // Evaluation seeds: the same before and after (paired), never those the learning episodes use.
  const r = await simulate({ overrides, tasks: o.tasks, episodes, seed: o.seed, mode: 'lockstep', json: true, ...(served.adapterDir ? { adapter: served.adapterDir } : {}) });
  return Object.fromEntries(Object.entries(r.tasks).map(([task, t]) => [task, t.success_rate]));
}

/** Success on the varied world of the adapter the robot kept (its last known good) after so many interventions. */
interface CurvePoint { interventions: number; episodes: number; adapter: string; varied: Record<string, number> }

/** What `learn demo --json` prints (the issue's shape; the rest is detail). */
interface LearnDemoReport {
  variation: string;
  interventions: number;
  train: { steps: number; seconds: number; passes: number; promotions: number; rollbacks: number; gate_refused: number };
  success: Record<WorldName, { before: Record<string, number>; after: Record<string, number> }>;
  curve: CurvePoint[];
  tasks: TaskName[];
  eval_episodes: number;
  curve_episodes: number;
  history_episodes: number;
  learning: LearningReport;
  out: string;
  wall_s: number;
}

async function learnDemo(o: LearnDemoOptions): Promise<LearnDemoReport> {
  const t0 = performance.now();
  const learnDir = join(o.out, 'learning');
  say(`learn demo: world '${o.variation}', tasks ${o.tasks.join(',')}; ${o.evalEpisodes} evaluation episodes per task and world; learning until ${o.interventions} interventions (at most ${o.trainMinutes} min of idle training); work in ${o.out}`);
  const before: Table = { varied: {}, original: {} };
  for (const world of ['varied', 'original'] as const) {
    say(`learn demo: evaluating the shipped model on the ${world} world...`);
    before[world] = await evaluate(o, world, {});
    say(`learn demo: before, ${world}: ${o.tasks.map((t) => `${t} ${pct(before[world][t])}`).join(', ')}`);
  }
  if (o.history > 0) await recordHistory(o);
  const curve: CurvePoint[] = [{ interventions: 0, episodes: 0, adapter: 'base', varied: before.varied }];
  const learning = await supervisedLearning(o, learnDir, async (point) => {
    if (o.curveEpisodes === 0) return;
    say(`learn demo: curve: the robot now keeps adapter ${point.adapter} (after ${point.interventions} interventions); evaluating it on the varied world...`);
    const varied = await evaluate(o, 'varied', { adapterDir: point.dir }, o.curveEpisodes);
    say(`learn demo: curve: ${point.interventions} interventions: ${o.tasks.map((t) => `${t} ${pct(varied[t])}`).join(', ')}`);
    curve.push({ interventions: point.interventions, episodes: point.episodes, adapter: point.adapter, varied });
  });
  const after: Table = { varied: {}, original: {} };
  for (const world of ['varied', 'original'] as const) {
    say(`learn demo: evaluating the learnt adapter (${learning.served}) on the ${world} world...`);
    after[world] = await evaluate(o, world, { learnDir });
    say(`learn demo: after, ${world}: ${o.tasks.map((t) => `${t} ${pct(after[world][t])}`).join(', ')}`);
  }
  // The end: the kept adapter on the evaluation episodes (the last point again, if nothing changed since).
  const end: CurvePoint = { interventions: learning.interventions, episodes: learning.episodes, adapter: learning.served, varied: after.varied };
  const last = curve.at(-1)!;
  if (last.adapter === end.adapter && last.interventions === end.interventions && curve.length > 1) curve[curve.length - 1] = end;
  else curve.push(end);
  return {
    variation: o.variation,
    interventions: learning.interventions,
    train: { steps: learning.steps, seconds: learning.training_s, passes: learning.passes, promotions: learning.promoted, rollbacks: learning.rolled_back, gate_refused: learning.gate_refused },
    success: { varied: { before: before.varied, after: after.varied }, original: { before: before.original, after: after.original } },
    curve,
    tasks: o.tasks, eval_episodes: o.evalEpisodes, curve_episodes: o.curveEpisodes, history_episodes: o.history, learning,
    out: o.out, wall_s: Math.round((performance.now() - t0) / 100) / 10,
  };
}

/**
 * The robot's life before its world changed: autonomous episodes on the original world, recorded
 * (what `vlad run --record` keeps) into the dataset the learning daemon trains from. Seeds from
 * their own stream (index 2000+): neither evaluation nor learning layouts.
 */
async function recordHistory(o: LearnDemoOptions): Promise<void> {
  say(`learn demo: the robot's history: ${o.history} autonomous episodes per task on the original world, recorded for replay...`);
  const overrides: ParamOverrides = { ...autonomousRun(o, 'original'), record: { dir: join(o.out, 'data'), dataset: DATASET } };
  const r = await simulate({ overrides, tasks: o.tasks, episodes: o.history, seed: deriveSeed(o.seed, 2000, 0), mode: 'lockstep', json: true });
  say(`learn demo: history recorded: ${o.tasks.map((t) => `${t} ${r.tasks[t]?.successes ?? 0}/${r.tasks[t]?.episodes ?? 0} successful`).join(', ')}`);
}

interface LearningReport {
  episodes: number;
  interventions: number;
  interventions_by_reason: Record<string, number>;
  /** Supervised episodes whose task succeeded (the operator finishes what it takes over). */
  episode_success_rate: number;
  /** Per batch: the share of policy-or-operator steps the operator took. */
  intervention_rate_by_batch: number[];
  passes: number;
  /** Train steps over every pass (refused candidates included). */
  steps: number;
  gate_refused: number;
  promoted: number;
  committed: number;
  rolled_back: number;
  training_s: number;
  served: string;
  replay_fraction: number;
  training_params: unknown;
  adapters: Record<string, unknown>[];
}

interface KeptAdapter { interventions: number; episodes: number; adapter: string; dir: string }

/**
 * The learning phase: supervised episodes in batches, the daemon's trainer running in the gaps.
 * `onKept` runs (training paused, so its time is not training time) whenever the adapter the robot
 * keeps, its last known good, changes.
 */
async function supervisedLearning(o: LearnDemoOptions, learnDir: string, onKept: (k: KeptAdapter) => Promise<void>): Promise<LearningReport> {
  const overrides: ParamOverrides = {
    robot: 'sim', mode: 'intervention', seed: o.seed, sim: { clock: 'lockstep', variation: o.variation },
    record: { dir: join(o.out, 'data'), dataset: DATASET },
    training: { dir: learnDir, idle_after_s: 1, max_steps_per_pass: o.stepsPerPass, replay_fraction: o.replayFraction },
    ...(o.bundle ? { bundle: o.bundle } : {}),
  };
  // A params file (its training section: weights, lr, gate, health) tunes the learning daemon as it would `vlad run`.
  const config = await loadDaemonConfig({ overrides, ...(o.params ? { paramsFile: o.params } : {}) });
  const daemon = new Daemon({ config, log: commandLogger(), clock: 'lockstep', learn: true });
  const learningStatus = () => daemon.learning.status();
  const byReason: Record<string, number> = {};
  const rates: number[] = [];
  let episodes = 0, interventions = 0, successes = 0, trainingMs = 0;
  const budgetMs = o.trainMinutes * 60_000;
  const listed = () => daemon.learning.list().adapters;
  let kept = 'base';
  const checkKept = async () => {
    const good = listed().find((a) => a.last_good);
    if (!good || good.id === kept) return;
    kept = good.id;
    daemon.learning.pause();
    await waitStoodDown(learningStatus);
    await onKept({ interventions, episodes, adapter: good.id, dir: good.dir });
    daemon.learning.resume();
  };
  try {
    await daemon.start();
    say(`learn demo: learning on ${daemon.policy!.modelVersion}, world '${o.variation}', supervised (intervention mode); data in ${daemon.datasetDir}`);
    let batch = 0;
    let lastPassDone = false;
    // Learn until N interventions; one last idle gap learns from the last batch; then no new passes,
    // only episodes until the health window still open (if any) reaches its verdict.
    while (trainingMs < budgetMs && batch < 1000) {
      let acted = 0, taken = 0;
      for (let k = 0; k < o.batch; k++) {
        const task = o.tasks[(batch * o.batch + k) % o.tasks.length]!;
        // Learning seeds come from their own stream (index 1000+): evaluation layouts are never trained on.
        const outcome = await daemon.runEpisode({ task, seed: deriveSeed(o.seed, 1000 + batch, k), supervise: true });
        episodes++;
        if (outcome.success) successes++;
        const takeovers = outcome.scene?.takeovers ?? [];
        interventions += takeovers.length;
        for (const t of takeovers) byReason[t.reason] = (byReason[t.reason] ?? 0) + 1;
        acted += (outcome.sources.policy ?? 0) + (outcome.sources.intervention ?? 0);
        taken += outcome.sources.intervention ?? 0;
        say(`  episode ${episodes} ${task}: ${outcome.success ? 'success' : 'failure'}, ${takeovers.length ? `taken over (${takeovers.map((t) => t.reason).join(', ')})` : 'no takeover'}; interventions ${interventions}/${o.interventions}; adapter ${learningStatus().adapter?.active ?? 'base'}`);
      }
      rates.push(acted ? Math.round((taken / acted) * 1000) / 1000 : 0);
      batch++;
      await checkKept();
      if (lastPassDone) { if (!learningStatus().trial) break; continue; }
      // The idle gap: the daemon sees no episode and no operator, and its trainer runs a pass.
      const gap = performance.now();
      await idleGap(daemon, learningStatus, Math.max(0, budgetMs - trainingMs));
      trainingMs += performance.now() - gap;
      if (interventions >= o.interventions) {
        lastPassDone = true;
        daemon.learning.pause();
        if (!learningStatus().trial) break;
      }
    }
    // A health window still open when the budget ran out: not proven, so not what the robot keeps.
    if (learningStatus().trial) { say('learn demo: the training budget ended inside a health window: rolling that adapter back'); await daemon.learning.rollback(); }
    const c = learningStatus().counts;
    const adapters = listed();
    return {
      episodes, interventions, interventions_by_reason: byReason, episode_success_rate: episodes ? successes / episodes : 0, intervention_rate_by_batch: rates,
      passes: c.passes, steps: adapters.reduce((n, a) => n + a.steps, 0), gate_refused: c.gate_refused, promoted: c.promoted, committed: c.committed, rolled_back: c.rolled_back,
      training_s: Math.round(trainingMs / 100) / 10, served: learningStatus().adapter?.active ?? 'base',
      replay_fraction: o.replayFraction,
      training_params: config.params.training,
      adapters: adapters.map((a) => ({ id: a.id, parent: a.parent, steps: a.steps, gate: a.gate, status: a.status, last_good: a.last_good })),
    };
  } finally {
    await daemon.shutdown();
  }
}

/**
 * Waits while the daemon is idle until its learning has done what it can with the data so far: a
 * pass judged (and maybe promoted), nothing new to learn from, or an adapter on trial (which needs
 * episodes, not waiting). Progress lines as the pass runs.
 */
async function idleGap(daemon: Daemon, status: () => LearningStatus, budgetMs: number): Promise<void> {
  if (status().trial) return;
  const passesBefore = status().counts.passes;
  const judged = () => status().counts.passes > passesBefore;
  const until = performance.now() + budgetMs;
  let lastLine = 0;
  for (;;) {
    const s = status();
    if ((judged() && s.state !== 'training' && s.state !== 'gating') || s.trial) {
      const last = s.last_pass;
      if (last && 'gate' in last) say(`  pass -> adapter ${last.adapter} (${last.steps} steps, loss ${last.loss_first} -> ${last.loss_last}): gate ${last.gate}: ${last.reasons.join('; ')}${s.trial ? '; it serves now, on trial' : ''}`);
      return;
    }
    if (s.state === 'waiting' && s.reason) return; // nothing new to learn from
    if (s.state === 'off') throw new Error(`learning is off: ${s.reason}`);
    if (performance.now() > until) { daemon.learning.pause(); await waitStoodDown(status); daemon.learning.resume(); return; }
    if (performance.now() - lastLine > 5000) {
      lastLine = performance.now();
      say(`  training: ${s.state}${s.pass ? ` (${s.pass.stage} ${s.pass.step}/${s.pass.steps}${s.pass.loss !== null && s.pass.stage === 'train' ? `, loss ${s.pass.loss.toFixed(4)}` : ''})` : ''}${s.reason ? `: ${s.reason}` : ''}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function waitStoodDown(status: () => { state: string }): Promise<void> {
  while (status().state === 'training' || status().state === 'gating') await new Promise((r) => setTimeout(r, 100));
}

function table(success: LearnDemoReport['success'], tasks: readonly string[]): string {
  const rows = [['task', 'world', 'before', 'after']];
  for (const world of ['varied', 'original'] as const) for (const t of tasks) rows.push([t, world, pct(success[world].before[t]), pct(success[world].after[t])]);
  const w = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((c, i) => c.padEnd(w[i]!)).join('  ')).join('\n');
}

function curveLines(curve: readonly CurvePoint[], tasks: readonly string[]): string {
  return ['success on the varied world against interventions (the adapter the robot kept):',
    ...curve.map((p) => `  ${String(p.interventions).padStart(4)}  ${tasks.map((t) => `${t} ${pct(p.varied[t])}`.padEnd(t.length + 6)).join(' ')} ${p.adapter}`)].join('\n');
}

function summaryLine(r: LearnDemoReport): string {
  const l = r.learning;
  return `learning: ${l.episodes} supervised episodes, ${l.interventions} interventions (${Object.entries(l.interventions_by_reason).map(([k, n]) => `${k} ${n}`).join(', ')}), operator share by batch ${l.intervention_rate_by_batch.map(pct).join(' ')}; ${l.passes} passes (${l.gate_refused} refused by the gate), ${l.promoted} promoted, ${l.committed} kept, ${l.rolled_back} rolled back; ${l.training_s} s of idle training; serving ${l.served}. Work in ${r.out}`;
}
