// Idle-time learning through the daemon: the real trainer worker on the shipped bundle's
// train_step graph, episodes recorded by the real daemon (lockstep), the adapter store on disk.
// A served adapter that needs correcting (seeded drift on the LoRA vector, as the trainer's own
// tests use) stands in for a model the operator keeps correcting: a pass from it must pass the
// gate. Asserts count events (passes, preemptions, verdicts), never the machine's speed.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readManifest } from '../../src/bundle/index.js';
import { OpsClient } from '../../src/io/zmq/index.js';
import { AdapterStore } from '../../src/train/index.js';
import { gaussianNoise } from '../../src/policy/index.js';
import { attachServing, type Daemon } from '../../src/daemon/index.js';
import { silentLogger } from '../../src/core/index.js';
import { recordTrainingData, DATASET } from '../train/support.js';
import { testDaemon, steps, type TestDaemon } from './support.js';
import { shippedBundlePath } from '../../src/core/index.js';

let root: string;
let drifted: string;
let t: TestDaemon | undefined;

/** A LoRA vector that moves the chunk: the trainer's tests' "drifted" stand-in (seeded Gaussian, 0.1). */
function driftedVector(size: number): Float32Array {
  const g = gaussianNoise(1234, size);
  return Float32Array.from(g, (x) => 0.1 * x);
}

const status = (d: Daemon) => d.learning.status();

/** Waits (wall clock, generous) for a condition the daemon reaches on its own; fails with the status. */
async function until(d: Daemon, what: string, cond: () => boolean, ms = 180_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}: ${JSON.stringify(status(d))}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

before(async () => {
  root = mkdtempSync(join(tmpdir(), 'vlad-learning-test-'));
  await recordTrainingData(join(root, 'data'));
  const manifest = await readManifest(shippedBundlePath());
  const store = await AdapterStore.open(join(root, 'learn', 'adapters', `${manifest.name}@${manifest.version}`), manifest);
  drifted = await store.add(driftedVector(manifest.lora!.size), { parent: null, data: { episodes: [], mode_counts: {} }, steps: 0, metrics: {}, gate: null });
  await store.activate(drifted);
  await store.markGood(drifted);
});

after(async () => {
  await t?.cleanup();
  rmSync(root, { recursive: true, force: true });
});

test('idle -> pass (stands down for an episode, resumes) -> gate -> promoted -> health window verdict; ops report it', async () => {
  t = await testDaemon({
    mode: 'autonomous', record: { dir: join(root, 'data'), dataset: DATASET },
    training: { dir: join(root, 'learn'), lr: 1e-3, idle_after_s: 0.2, max_steps_per_pass: 40, holdout_every: 3, window_stride: 2, pre_takeover_s: 0.49, health: { episodes: 2, max_success_drop: 1, max_intervention_rise: 1, max_clamp_rise: 1, max_non_finite: 0 } },
  }, { learn: true, serve: true });
  const d = t.daemon;
  attachServing(d, d.opts.config.params, silentLogger, () => undefined);
  await d.serveOnly();
  await d.start();
  // The last known good adapter serves from configure on.
  assert.equal(status(d).adapter?.active, drifted);
  assert.equal((d.status() as { adapter: string }).adapter, drifted);

  // Idle: a pass starts by itself.
  await until(d, 'a pass to start', () => status(d).state === 'training' && (status(d).pass?.step ?? 0) > 0);
  // An episode stands the pass down at its next unit; it resumes when idle again.
  await d.startEpisode({ task: 'pick', seed: 7 });
  await until(d, 'the pass to stand down', () => status(d).state !== 'training' && status(d).state !== 'gating');
  assert.equal(status(d).counts.preempted, 1);
  assert.equal(status(d).preempt_ms?.n, 1);
  await steps(d, 30);
  await d.stopEpisode(false, true);

  await until(d, 'the pass to finish and be judged', () => status(d).counts.passes === 1 && !['training', 'gating'].includes(status(d).state));
  const last = status(d).last_pass!;
  assert.equal('gate' in last ? last.gate : `failed: ${last.error}`, 'passed', JSON.stringify(last));
  assert.equal(status(d).counts.promoted, 1);
  const promoted = 'adapter' in last ? last.adapter : '';
  assert.equal(status(d).trial?.adapter, promoted);
  assert.equal(status(d).adapter?.active, promoted);

  // Lineage on disk: parent, steps, gate.
  const listed = d.learning.list();
  const row = listed.adapters.find((a) => a.id === promoted)!;
  assert.equal(row.parent, drifted);
  assert.equal(row.steps, 40);
  assert.equal(row.gate, true);

  // Its health window: two episodes with the policy acting, then a verdict the store agrees with.
  for (let i = 0; i < 2; i++) {
    await d.startEpisode({ task: 'pick', seed: 20 + i });
    await steps(d, 40);
    await d.stopEpisode(false, true);
  }
  await until(d, 'a verdict', () => status(d).counts.committed + status(d).counts.rolled_back === 1);
  assert.equal(status(d).trial, null);
  const c = status(d).counts;
  assert.equal(c.committed + c.rolled_back, 1);
  assert.equal(status(d).adapter?.active, c.committed ? promoted : drifted);
  assert.equal(status(d).adapter?.last_good, c.committed ? promoted : drifted);

  // Ops: the same through the socket, and refusals with reasons.
  const ops = await OpsClient.connect(t.endpoints.ops, { timeoutMs: 20_000 });
  try {
    const s = await ops.call('train.status', {}) as { counts: Record<string, number> };
    assert.equal(s.counts.passes, 1);
    const l = await ops.call('adapter.list', {}) as { adapters: { id: string }[] };
    assert.deepEqual(l.adapters.map((a) => a.id).sort(), [drifted, promoted].sort());
    await assert.rejects(ops.call('adapter.activate', { id: 'no-such-adapter' }), /refused.*no-such-adapter|no-such-adapter/);
    assert.deepEqual(await ops.call('train.pause', {}), { paused: true });
    assert.deepEqual(await ops.call('adapter.activate', { id: 'base' }), { adapter: 'base' });
    assert.equal(status(d).adapter?.active, 'base');
    await assert.rejects(ops.call('adapter.rollback', {}), /nothing to roll back/);
  } finally {
    await ops.close();
  }
});
