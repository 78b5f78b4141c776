// `vlad learn fit`: one pass of the daemon's own trainer (src/train: its worker, data pipeline,
// prefix cache, AdamW on the bundle's train_step graph) over recorded RLDS datasets, offline, then
// the offline gate against the base and the loss on the training windows before and after; the
// candidate is written as a PEFT adapter directory (`vlad sim --adapter` serves it). What it
// measures is what limits learning on the robot: data, steps, time per step, what the gate says.
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import process from 'node:process';
import { readManifest } from '../bundle/index.js';
import { loadDaemonConfig, trainingConfigInput } from '../daemon/index.js';
import { openDataset } from '../rlds/index.js';
import { PEFT_CONFIG_FILE, PEFT_WEIGHTS_FILE, Trainer, writePeftAdapter, type CandidateAdapter, type GateSet } from '../train/index.js';
import { command, flag, UsageError } from './args.js';

export const FIT_USAGE = 'vlad learn fit --data DATASET_DIR[,DATASET_DIR...] --out ADAPTER_DIR [--bundle DIR] [--steps N] [--lr X] [--params FILE] [--json]';

interface FitOptions {
  data: string[];
  out: string;
  bundle: string | undefined;
  steps: number;
  lr: number | undefined;
  params: string | undefined;
  json: boolean;
}

export interface FitReport {
  bundle: string;
  data: string[];
  /** Episodes the pass learnt from: all with windows but the held-out ones, fresh (the state starts empty, so none replayed). */
  episodes: { fresh: number; replay: number };
  steps: number;
  /** Train steps per example batch (the train_step graph's fixed batch). */
  batch: number;
  lr: number;
  /** Wall time of the whole fit, and of its parts: before the first train step (opening the trainer, reading the episodes, caching the frozen prefix), training, judging. */
  seconds: number;
  prepare_s: number;
  train_s: number;
  gate_s: number;
  steps_per_s: number;
  loss_first: number;
  loss_last: number;
  /** Flow loss on (up to gate.max_windows of) the windows trained from, fixed noise and t. */
  training_loss: { windows: number; base: number; adapter: number };
  gate: { decision: 'passed' | 'refused'; reasons: string[]; corrections: GateSet | null; retention: GateSet | null };
  out: string;
}

export function runFit(args: string[]): Promise<number> {
  return command({
    name: 'learn fit', usage: FIT_USAGE,
    options: {
      data: { type: 'string' }, out: { type: 'string' }, bundle: { type: 'string' }, steps: { type: 'string' }, lr: { type: 'string' },
      params: { type: 'string' }, json: { type: 'boolean', default: false },
    },
  }, args, async (v) => {
    const o: FitOptions = {
      data: flag.list('data', flag.required('data', v.data), (d) => resolve(d)),
      out: resolve(flag.required('out', v.out)),
      bundle: v.bundle,
      steps: flag.int('steps', v.steps, { min: 1, max: 10_000_000, default: 1000 }),
      lr: v.lr === undefined ? undefined : flag.num('lr', v.lr, { min: 0, max: 1, exclusiveMin: true }),
      params: v.params,
      json: v.json ?? false,
    };
    await checkData(o.data);
    await checkOut(o.out);
    const report = await fit(o);
    if (o.json) process.stdout.write(`${JSON.stringify(report)}\n`);
    else process.stdout.write(`${summaryLine(report)}\n`);
    return 0;
  });
}

const say = (line: string) => process.stderr.write(`${line}\n`);
const r4 = (x: number) => Math.round(x * 1e4) / 1e4;
const r1 = (x: number) => Math.round(x * 10) / 10;

/** Every dataset must be there and hold episodes: a typo must not fit on less data than meant. */
async function checkData(dirs: string[]): Promise<void> {
  for (const dir of dirs) {
    if (!existsSync(dir)) throw new UsageError(`--data: no dataset at ${dir}`);
    let episodes: number;
    try {
      episodes = (await (await openDataset(dir, { includeOpenShard: true })).episodeIndex()).length;
    } catch (err) {
      throw new UsageError(`--data: ${dir} is not a readable RLDS dataset (${(err as Error).message})`);
    }
    if (episodes === 0) throw new UsageError(`--data: ${dir} holds no episodes`);
  }
}

/** --out is written as a whole adapter: refuse to mix it into a folder holding anything else. */
async function checkOut(out: string): Promise<void> {
  if (!existsSync(out)) return;
  const other = (await readdir(out).catch(() => { throw new UsageError(`--out: ${out} is not a directory`); })).filter((f) => f !== PEFT_CONFIG_FILE && f !== PEFT_WEIGHTS_FILE);
  if (other.length) throw new UsageError(`--out: ${out} holds other files than an adapter's (${other.slice(0, 3).join(', ')}${other.length > 3 ? ', ...' : ''}): give a new or an adapter directory`);
}

async function fit(o: FitOptions): Promise<FitReport> {
  const t0 = performance.now();
  // The daemon's own configuration: the bundle it would serve, the training params (a params file's
  // `training:` section), the hw-profile's training section for what those leave at 0.
  const config = await loadDaemonConfig({ overrides: o.bundle ? { bundle: o.bundle } : {}, ...(o.params ? { paramsFile: o.params } : {}) });
  const manifest = await readManifest(config.bundleDir);
  const training = { ...trainingConfigInput(config.params.training, config.profile.training), max_steps_per_pass: o.steps, ...(o.lr !== undefined ? { lr: o.lr } : {}) };
  // A fresh state: the pass starts from the base and learns from every episode (a kept state would resume its cursor).
  const work = await mkdtemp(join(tmpdir(), 'vlad-learn-fit-'));
  say(`learn fit: ${manifest.name}@${manifest.version} on ${o.data.join(', ')}; ${o.steps} steps at batch ${manifest.training?.batch ?? '?'}, lr ${training.lr}; work in ${work}`);
  let trainer: Trainer | undefined;
  try {
    trainer = await Trainer.open({ bundleDir: config.bundleDir, stateDir: work, datasetDirs: o.data, config: training, idlePriority: false }, (line) => say(`learn fit: ${line}`));
    let candidate: CandidateAdapter | undefined;
    let trainMs = 0, trainStarted = NaN, lastLine = 0;
    let planned = { fresh: 0, replay: 0 };
    while (!candidate) {
      const s0 = performance.now();
      const r = await trainer.step();
      if (r.kind === 'idle') throw new Error(`nothing to learn from in ${o.data.join(', ')}: ${r.reason ?? 'no windows'}`);
      if (r.kind === 'start') {
        const pass = (await trainer.status()).pass;
        planned = { fresh: pass?.fresh ?? 0, replay: pass?.replay ?? 0 };
        const n = planned.fresh + planned.replay;
        say(`learn fit: pass planned on ${n} episode${n === 1 ? '' : 's'} (training.holdout_every ${training.holdout_every ?? 0}: those held out are the gate's); caching the frozen prefix...`);
      }
      if (r.kind === 'cache' && performance.now() - lastLine > 10_000) { lastLine = performance.now(); say(`learn fit: caching: segment ${r.step}/${r.of}`); }
      if (r.kind !== 'train') continue;
      if (Number.isNaN(trainStarted)) trainStarted = s0;
      trainMs += performance.now() - s0;
      if (r.step % 50 === 0 || r.step === r.of) say(`learn fit: step ${r.step}/${r.of}, loss ${r.loss!.toFixed(4)}, ${(r.step / (trainMs / 1000)).toFixed(2)} steps/s`);
      candidate = r.candidate;
    }
    const g0 = performance.now();
    const base = new Float32Array(manifest.lora.size);
    say('learn fit: judging: the offline gate against the base, the loss on the training windows...');
    const gate = await trainer.gate(candidate.lora, base);
    const before = await trainer.trainingLoss(base);
    const after = await trainer.trainingLoss(candidate.lora);
    const gateMs = performance.now() - g0;
    await writePeftAdapter(o.out, manifest, candidate.lora);
    const l = candidate.lineage;
    return {
      bundle: `${manifest.name}@${manifest.version}`, data: o.data, episodes: planned,
      steps: l.steps, batch: manifest.training?.batch ?? 0, lr: l.lr,
      seconds: r1((performance.now() - t0) / 1000), prepare_s: r1((trainStarted - t0) / 1000), train_s: r1(trainMs / 1000), gate_s: r1(gateMs / 1000),
      steps_per_s: Math.round((l.steps / (trainMs / 1000)) * 100) / 100,
      loss_first: r4(l.loss.first), loss_last: r4(l.loss.last),
      training_loss: { windows: after.windows, base: r4(before.loss), adapter: r4(after.loss) },
      gate: { decision: gate.accepted ? 'passed' : 'refused', reasons: gate.reasons, corrections: gate.metrics?.corrections ?? null, retention: gate.metrics?.retention ?? null },
      out: o.out,
    };
  } finally {
    await trainer?.close();
    await rm(work, { recursive: true, force: true });
  }
}

function summaryLine(r: FitReport): string {
  return `learn fit: ${r.steps} steps in ${r.train_s} s (${r.steps_per_s} steps/s; ${r.seconds} s in all, ${r.prepare_s} s opening, reading and caching), loss ${r.loss_first} -> ${r.loss_last}; `
    + `training windows (${r.training_loss.windows}): base ${r.training_loss.base}, adapter ${r.training_loss.adapter}; gate ${r.gate.decision}: ${r.gate.reasons.join('; ')}; adapter in ${r.out}`;
}
