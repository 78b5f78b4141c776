// The adapter store: candidates filed with their lineage, activate / markGood / rollback, boot's
// choice after a restart, recovery from half-written and torn adapters and a torn state file, bad
// candidates refused without a trace, and the OTA store's carryAdapters copying the store whole
// to a new bundle that fits.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, readdir, rm, stat, truncate, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readManifest, type Manifest } from '../../src/bundle/index.js';
import { BundleStore } from '../../src/ota/index.js';
import { AdapterStore, PEFT_WEIGHTS_FILE, type LineageInput } from '../../src/train/index.js';
import { bundlePath } from '../support/bundles.js';

const lineage = (parent: string | null, steps: number): LineageInput => ({
  parent,
  data: { episodes: [`ep-${steps}`, `ep-${steps + 1}`], mode_counts: { intervention: 40, teleop: 12, policy: 300 } },
  steps,
  metrics: { loss: 0.1 + steps / 1000, action_error: 0.02 },
  gate: { passed: true, results: { held_out_loss: 0.09, regression_loss: 0.11 } },
});

/** A vector whose every value says which candidate it is (exact in float32). */
function vectorOf(m: Manifest, k: number): Float32Array {
  return Float32Array.from({ length: m.lora.size }, (_, i) => ((i % 97) - 48) / 64 + k / 8);
}

async function scratch(): Promise<{ root: string; m: Manifest; cleanup: () => Promise<void> }> {
  const root = await mkdtemp(join(tmpdir(), 'vlad-adapters-'));
  return { root, m: await readManifest(bundlePath('vlad-base-flow')), cleanup: () => rm(root, { recursive: true, force: true }) };
}

test('add files whole adapters with their lineage; activate, markGood and rollback move active and last good', async () => {
  const { root, m, cleanup } = await scratch();
  try {
    const dir = join(root, 'adapters', 'vlad-base-flow@1.6.0');
    const store = await AdapterStore.open(dir, m);
    assert.deepEqual(store.list(), []);
    const a = await store.add(vectorOf(m, 1), lineage(null, 100));
    const b = await store.add(vectorOf(m, 2), lineage(a, 200));
    assert.deepEqual(store.list().map((l) => l.id), [a, b]);
    assert.deepEqual((await readdir(join(dir, b))).sort(), ['adapter_config.json', 'adapter_model.safetensors', 'lineage.json']);
    assert.equal((await stat(join(dir, 'state.json'))).mode & 0o777, 0o600);
    const lb = store.get(b);
    assert.equal(lb.parent, a);
    assert.equal(lb.base_bundle, 'vlad-base-flow@1.6.0');
    assert.deepEqual(lb.data.mode_counts, { intervention: 40, teleop: 12, policy: 300 });
    assert.equal(lb.steps, 200);
    assert.equal(lb.gate?.passed, true);
    assert.deepEqual(await store.load(b), vectorOf(m, 2));

    await store.activate(a);
    await store.markGood(a);
    await store.activate(b);
    assert.deepEqual([store.state.active, store.state.last_good], [b, a]);
    await assert.rejects(store.markGood(a), /not the active one/);
    assert.equal(await store.rollback('intervention rate up'), a, 'back to the last known good');
    assert.deepEqual([store.state.active, store.state.last_good], [a, a]);
    assert.equal(await store.rollback('clamps'), null, 'the last good failing too: back to the base');
    assert.deepEqual([store.state.active, store.state.last_good], [null, null]);
    assert.deepEqual(store.get(b).history.map((e) => e.event), ['added', 'activated', 'rolled_back']);
    assert.deepEqual(store.get(a).history.map((e) => e.event), ['added', 'activated', 'good', 'rolled_back']);
    assert.equal(store.get(b).history[2]!.reason, 'intervention rate up');
    // The lineage on disk says the same as the store's memory.
    const reopened = await AdapterStore.open(dir, m);
    assert.deepEqual(reopened.list(), store.list());
    assert.deepEqual(reopened.state, store.state);
  } finally {
    await cleanup();
  }
});

test('boot: an adapter on trial when the daemon stopped rolls back to the last known good one, which loads whole', async () => {
  const { root, m, cleanup } = await scratch();
  try {
    const store = await AdapterStore.open(root, m);
    const a = await store.add(vectorOf(m, 1), lineage(null, 10));
    const b = await store.add(vectorOf(m, 2), lineage(a, 20));
    await store.activate(a);
    await store.markGood(a);
    await store.activate(b); // the daemon stops here, in b's health window
    const after = await AdapterStore.open(root, m);
    const boot = await after.boot();
    assert.equal(boot.id, a);
    assert.deepEqual(boot.vector, vectorOf(m, 1));
    assert.deepEqual([after.state.active, after.state.last_good], [a, a]);
    assert.match(after.recovery.notes.join('\n'), /was on trial when the daemon stopped/);
    assert.equal(after.get(b).history.at(-1)!.event, 'rolled_back');
    // Nothing proven good: the base.
    const fresh = await AdapterStore.open(join(root, 'other'), m);
    await fresh.activate(await fresh.add(vectorOf(m, 3), lineage(null, 5)));
    assert.deepEqual(await (await AdapterStore.open(join(root, 'other'), m)).boot(), { id: null, vector: null, lineage: null });
  } finally {
    await cleanup();
  }
});

test('bad candidates are refused, naming what is wrong, and leave the store as it was', async () => {
  const { root, m, cleanup } = await scratch();
  try {
    const store = await AdapterStore.open(root, m);
    const a = await store.add(vectorOf(m, 1), lineage(null, 10));
    const before = (await readdir(root)).sort();
    const nan = vectorOf(m, 2); nan[7] = Number.NaN;
    await assert.rejects(store.add(new Float32Array(5), lineage(null, 1)), /5 values, vlad-base-flow@1\.6\.0 lora\.size is 27648/);
    await assert.rejects(store.add(nan, lineage(null, 1)), /NaN or Inf/);
    await assert.rejects(store.add(vectorOf(m, 2), lineage('20260101T000000000Z-abcdef', 1)), /no adapter '20260101T000000000Z-abcdef'/);
    await assert.rejects(store.add(vectorOf(m, 2), { ...lineage(null, 1), steps: -3 }), /lineage: \/?steps/);
    await assert.rejects(store.add(vectorOf(m, 2), { ...lineage(null, 1), data: { episodes: [], mode_counts: { walking: 3 } as never } }), /lineage: .*mode_counts/);
    await assert.rejects(store.activate('20260101T000000000Z-abcdef'), /no adapter/);
    assert.deepEqual((await readdir(root)).sort(), before);
    assert.deepEqual(store.list().map((l) => l.id), [a]);
  } finally {
    await cleanup();
  }
});

test('recovery: a half-written adapter is removed, a torn one ignored, a torn state file rebuilt from lineage', async () => {
  const { root, m, cleanup } = await scratch();
  try {
    const store = await AdapterStore.open(root, m);
    const a = await store.add(vectorOf(m, 1), lineage(null, 10));
    const b = await store.add(vectorOf(m, 2), lineage(a, 20));
    await store.activate(a);
    await store.markGood(a);
    await store.activate(b);
    await store.markGood(b);
    await mkdir(join(root, '.staging-20260101T000000000Z-abcdef'));
    await writeFile(join(root, '.staging-20260101T000000000Z-abcdef', 'adapter_config.json'), '{');
    await truncate(join(root, b, PEFT_WEIGHTS_FILE), 1000);
    await writeFile(join(root, 'state.json'), '{"schema": 1, "act');
    const after = await AdapterStore.open(root, m);
    assert.deepEqual(after.recovery.removedStaging, ['20260101T000000000Z-abcdef']);
    assert.deepEqual(after.recovery.ignored.map((x) => x.id), [b]);
    assert.match(after.recovery.ignored[0]!.reason, /does not match the sha256 in its lineage/);
    assert.match(after.recovery.notes.join('\n'), /state\.json was unreadable/);
    // b was the last good, but it is torn: the rebuilt state keeps a, the good one that is whole.
    const boot = await after.boot();
    assert.equal(boot.id, a);
    assert.deepEqual(boot.vector, vectorOf(m, 1));
    assert.deepEqual(after.list().map((l) => l.id), [a]);
    await assert.rejects(after.load(b), /no adapter/);
    assert.ok((await readdir(root)).includes(b), 'a torn adapter is left on disk, not deleted');
  } finally {
    await cleanup();
  }
});

test('carryAdapters copies the store to a new bundle that fits: the adapters, their lineage and the last good one carry over', async () => {
  const { root, m, cleanup } = await scratch();
  try {
    const ota = await BundleStore.open(join(root, 'ota'));
    const from = 'vlad-base-flow@1.6.0';
    const next: Manifest = { ...m, version: '1.7.0' };
    const store = await AdapterStore.open(ota.adaptersDir(from), m);
    const a = await store.add(vectorOf(m, 1), lineage(null, 10));
    const b = await store.add(vectorOf(m, 2), lineage(a, 20));
    await store.activate(b);
    await store.markGood(b);
    const carried = await ota.carryAdapters(from, m, 'vlad-base-flow@1.7.0', next);
    assert.equal(carried.outcome, 'kept');
    const moved = await AdapterStore.open(ota.adaptersDir('vlad-base-flow@1.7.0'), next);
    assert.deepEqual(moved.recovery, { removedStaging: [], ignored: [], notes: [] });
    assert.deepEqual(moved.list().map((l) => [l.id, l.base_bundle]), [[a, from], [b, from]]);
    const boot = await moved.boot();
    assert.equal(boot.id, b);
    assert.deepEqual(boot.vector, vectorOf(m, 2));
    // Learning goes on under the new bundle, the lineage naming it.
    const c = await moved.add(vectorOf(m, 3), lineage(b, 30));
    assert.equal(moved.get(c).base_bundle, 'vlad-base-flow@1.7.0');
    // A bundle with another LoRA layout parks them.
    const other = await readManifest(bundlePath('vlad-tiny-flow-quantile'));
    assert.equal((await ota.carryAdapters(from, m, 'vlad-tiny-flow-quantile@0.1.0', other)).outcome, 'parked');
  } finally {
    await cleanup();
  }
});

test('a copy torn by a kill during carryAdapters: the torn adapter and state are not used, the whole ones are', async () => {
  const { root, m, cleanup } = await scratch();
  try {
    const ota = await BundleStore.open(join(root, 'ota'));
    const from = 'vlad-base-flow@1.6.0', to = 'vlad-base-flow@1.7.0';
    const store = await AdapterStore.open(ota.adaptersDir(from), m);
    const a = await store.add(vectorOf(m, 1), lineage(null, 10));
    await store.activate(a);
    await store.markGood(a);
    const b = await store.add(vectorOf(m, 2), lineage(a, 20));
    await ota.carryAdapters(from, m, to, { ...m, version: '1.7.0' });
    // What a SIGKILL mid-copy leaves: a file cut short, and a state file cut short.
    const dst = ota.adaptersDir(to);
    await truncate(join(dst, b, 'lineage.json'), 50);
    const stateText = await readFile(join(dst, 'state.json'), 'utf8');
    await writeFile(join(dst, 'state.json'), stateText.slice(0, stateText.length / 2));
    const moved = await AdapterStore.open(dst, { ...m, version: '1.7.0' });
    assert.deepEqual(moved.recovery.ignored.map((x) => x.id), [b]);
    assert.equal((await moved.boot()).id, a);
    // The old bundle's copy is untouched and whole.
    assert.deepEqual((await AdapterStore.open(ota.adaptersDir(from), m)).list().map((l) => l.id), [a, b]);
  } finally {
    await cleanup();
  }
});
