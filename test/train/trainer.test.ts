// The trainer on episodes recorded by the real daemon (support.ts): what it learns from in real
// recordings, a pass whose loss on the training windows falls, its candidate's lineage, the
// offline gate (a trained candidate accepted, corrupted ones refused), the cursor, the prefix
// cache's key. Every figure asserted is a relation between two runs of the same seeded draws.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { shippedBundlePath } from '../../src/core/index.js';
import { gaussianNoise } from '../../src/policy/index.js';
import { ComputeScheduler } from '../../src/sched/index.js';
import { Trainer, type CandidateAdapter, type StepResult, type TrainingConfigInput } from '../../src/train/index.js';
import { recordTrainingData } from './support.js';

const bundleDir = shippedBundlePath();
// Held out: episodes 2 (teleop) and 5 (intervention). pre_takeover_s 0.49 s: of the 39 policy
// steps before each takeover, the last 24 are excluded, the first 15 kept.
const config: TrainingConfigInput = { max_steps_per_pass: 80, holdout_every: 3, window_stride: 2, lr: 3e-4, pre_takeover_s: 0.49, checkpoint_every: 10 };
let root: string;
let dataset: string;
let trainer: Trainer;
let candidate: CandidateAdapter;

before(async () => {
  root = mkdtempSync(join(tmpdir(), 'vlad-train-test-'));
  dataset = await recordTrainingData(join(root, 'data'));
  trainer = await Trainer.open({ bundleDir, stateDir: join(root, 'state'), cacheDir: join(root, 'cache'), datasetDirs: [dataset], config }, () => undefined);
});
after(async () => {
  await trainer?.close();
  rmSync(root, { recursive: true, force: true });
});

test('a pass: plan, cache the frozen prefix, train; the loss on the training windows falls; the candidate carries its lineage', { timeout: 300_000 }, async () => {
  const base = new Float32Array(27648);
  const before = await trainer.trainingLoss(base);
  const kinds: string[] = [];
  let r;
  for (let i = 0; i < 1000; i++) {
    r = await trainer.step();
    kinds.push(r.kind);
    if (r.candidate) break;
  }
  assert.ok(r?.candidate, 'the pass ended with a candidate');
  candidate = r.candidate;
  // One unit per call: read the episodes, plan, cache prefix outputs, then exactly max_steps_per_pass train steps.
  const planned = kinds.indexOf('start');
  assert.ok(kinds.slice(0, planned).every((k) => k === 'scan'), kinds.slice(0, planned + 1).join(' '));
  const firstTrain = kinds.indexOf('train');
  assert.ok(kinds.slice(planned + 1, firstTrain).every((k) => k === 'cache') && firstTrain > planned + 1);
  assert.equal(kinds.length - firstTrain, 80);
  assert.equal(r.step, 80);

  const afterPass = await trainer.trainingLoss(candidate.lora);
  assert.equal(afterPass.windows, before.windows);
  assert.ok(afterPass.loss < 0.85 * before.loss, `loss on the training windows at fixed noise and t: base ${before.loss.toFixed(4)}, after 80 steps ${afterPass.loss.toFixed(4)}`);

  const l = candidate.lineage;
  assert.equal(l.parent, 'base');
  assert.equal(l.steps, 80);
  assert.match(l.bundle, /^vlad-base-flow@1\.6\.0\+[0-9a-f]{16}$/);
  // New episodes: all but the held-out ones (2, 5) and the failed autonomous one (3: nothing to learn).
  assert.deepEqual(l.episodes.fresh.map((e) => e.index), [0, 1, 4, 6]);
  assert.deepEqual(l.episodes.replay, []);
  // Policy windows come only from the kept policy steps of successful intervention episodes.
  assert.deepEqual(Object.keys(l.windowsByMode).sort(), ['intervention', 'policy', 'teleop']);
  assert.equal(l.windowsByMode.policy, 2 * 7, 'steps 2, 4 .. 14 of episodes 4 and 6');
  assert.equal(Object.values(l.sampledByMode).reduce((a, b) => a + b, 0), 80 * 8);
  assert.ok(l.loss.curve.length === 10 && l.loss.curve.every(Number.isFinite));
});

/**
 * A parent that needs correcting. The simulator has no world variations yet, so the shipped model
 * already fits the scripted operator's corrections (its held-out loss there is about as low as on
 * its own training data); an adapter whose LoRA carries seeded noise stands in for one that
 * drifted, and a pass from it must win back what it lost.
 */
function driftedAdapter(): Float32Array {
  const lora = new Float32Array(27648);
  const g = gaussianNoise(1234, lora.length);
  for (let i = 0; i < lora.length; i++) lora[i] = 0.1 * g[i]!;
  return lora;
}

test('the offline gate (the pass run through the scheduler\'s training lane): a candidate trained from a drifted parent beats it on held-out interventions and keeps the rest; corrupted candidates are refused', { timeout: 300_000 }, async () => {
  const parent = driftedAdapter();
  const t = await Trainer.open({ bundleDir, stateDir: join(root, 'state-drifted'), cacheDir: join(root, 'cache'), datasetDirs: [dataset], parent: { version: 'drifted', lora: parent }, config: { ...config, lr: 1e-3 } }, () => undefined);
  try {
    // The pass runs through the scheduler's training lane, as the daemon runs it; a control request
    // that comes during a unit of work runs as soon as that unit ends, before the next one.
    const sched = new ComputeScheduler(1);
    const events: string[] = [];
    let r: StepResult | undefined;
    let n = 0;
    await sched.runTraining(async () => {
      const k = n++;
      events.push(`unit ${k}`);
      if (k % 20 === 10) void sched.control(async () => { events.push(`control during ${k}`); });
      r = await t.step();
      return !r.candidate;
    });
    const controls = events.flatMap((e, i) => (e.startsWith('control') ? [i] : []));
    assert.ok(controls.length >= 4, events.join(', '));
    for (const i of controls) {
      const k = Number(events[i]!.split(' ')[2]);
      assert.deepEqual([events[i - 1], events[i + 1]], [`unit ${k}`, i + 1 < events.length ? `unit ${k + 1}` : undefined]);
    }
    assert.ok(r?.candidate);
    assert.equal(r.candidate.lineage.parent, 'drifted');
    const g = await t.gate(r.candidate.lora);
    assert.equal(g.accepted, true, g.reasons.join('; '));
    const { corrections: c, retention: k } = g.metrics!;
    assert.ok(c.windows > 0 && c.episodes === 1 && k.windows > 0 && k.episodes === 1, JSON.stringify(g.metrics));
    assert.ok(c.candidateLoss < 0.7 * c.parentLoss, g.reasons[0]);

    const nan = Float32Array.from(r.candidate.lora);
    nan[100] = NaN;
    const refused = await t.gate(nan);
    assert.deepEqual([refused.accepted, refused.reasons], [false, ['the candidate adapter contains NaN or Inf']]);

    // The drift again, on top of what was learnt: worse than the parent on both sets.
    const blown = Float32Array.from(r.candidate.lora, (x, i) => x + 2 * parent[i]!);
    const worse = await t.gate(blown);
    assert.equal(worse.accepted, false);
    assert.match(worse.reasons.join('; '), /corrections: .*not below parent/);
  } finally {
    await t.close();
  }
});

test('the cursor: with no new episodes the next step is idle and says why; the state survives a reopen', { timeout: 120_000 }, async () => {
  const r = await trainer.step();
  assert.equal(r.kind, 'idle');
  assert.match(r.reason!, /no new episodes/);
  const s = await trainer.status();
  assert.deepEqual([s.passesDone, s.cursor[dataset], s.pass, s.hasCandidate], [1, 7, null, true]);
  await trainer.close();
  trainer = await Trainer.open({ bundleDir, stateDir: join(root, 'state'), cacheDir: join(root, 'cache'), datasetDirs: [dataset], config }, () => undefined);
  assert.deepEqual(await trainer.status(), s);
  const kept = await trainer.candidate();
  assert.deepEqual(kept, candidate, 'the finished pass\'s candidate survives the restart, lora and lineage');
});

test('the prefix cache is keyed by the bundle: entries of another bundle identity are dropped; a bad dataset folder is named', { timeout: 120_000 }, async () => {
  const cache = join(root, 'cache');
  const mine = readdirSync(cache);
  assert.deepEqual(readdirSync(join(root, 'state')).sort(), ['trainer-state.msgpack'], 'the state folder holds the state, the cache lives where it was asked to');
  assert.equal(mine.length, 1);
  assert.match(mine[0]!, /^vlad-base-flow@1\.6\.0\+[0-9a-f]{16}$/);
  assert.ok(readdirSync(join(cache, mine[0]!)).length > 0);
  mkdirSync(join(cache, 'vlad-base-flow@1.5.0+0123456789abcdef'));
  await trainer.close();
  trainer = await Trainer.open({ bundleDir, stateDir: join(root, 'state'), cacheDir: cache, datasetDirs: [dataset], config }, () => undefined);
  assert.deepEqual(readdirSync(cache), mine);

  const other = await Trainer.open({ bundleDir, stateDir: join(root, 'state-bad'), datasetDirs: [join(root, 'nothing-here')], config }, () => undefined);
  try {
    await assert.rejects(other.step(), /nothing-here: cannot read it as a dataset/);
  } finally {
    await other.close();
  }
  // A state file that is not one is named, and left as it was (nothing overwritten).
  writeFileSync(join(root, 'state-bad', 'trainer-state.msgpack'), 'not msgpack at all');
  await assert.rejects(Trainer.open({ bundleDir, stateDir: join(root, 'state-bad'), datasetDirs: [dataset], config }, () => undefined), /state-bad\/trainer-state\.msgpack: /);
  assert.equal(readFileSync(join(root, 'state-bad', 'trainer-state.msgpack'), 'utf8'), 'not msgpack at all');
});
