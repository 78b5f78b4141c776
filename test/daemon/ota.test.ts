// Over-the-air swaps through the daemon's real pipeline (lockstep: virtual time, the MuJoCo arm,
// ONNX policy workers): a swap lands between two ticks and the loop never holds; every refusal
// changes nothing; a bad model is rolled back by its health window; the A/B state carries
// across a restart; an upload over the ops socket resumes after a dropped connection.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFile, readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { TickRecord } from '../../src/control/index.js';
import { silentLogger } from '../../src/core/index.js';
import { attachServing, Daemon, type ParamOverrides } from '../../src/daemon/index.js';
import { OpsClient } from '../../src/io/zmq/index.js';
import { OtaRefusal, type RefusalCode } from '../../src/ota/index.js';
import { bundlePath, repoRoot } from '../support/bundles.js';
import { signedBundle, testKey, type TestKey } from '../support/ota.js';
import { testDaemon, type TestDaemon } from './support.js';

const BASE = 'vlad-tiny-l1'; // configured: vlad-tiny-l1@0.1.0
const yieldToWorkers = () => new Promise<void>((r) => setImmediate(r));

/** Steps the lockstep daemon until `p` settles (worker replies need the event loop between steps). */
async function stepUntil<T>(d: Daemon, p: Promise<T>, maxSteps = 5000): Promise<T> {
  let settled = false;
  p.then(() => { settled = true; }, () => { settled = true; });
  for (let i = 0; i < maxSteps && !settled; i++) {
    await d.stepLockstep();
    await yieldToWorkers();
  }
  assert.ok(settled, `still pending after ${maxSteps} steps`);
  return p;
}

async function otaDaemon(key: TestKey, params: ParamOverrides = {}, otaDir?: string, serve = false): Promise<TestDaemon> {
  const t = await testDaemon({
    bundle: bundlePath(BASE), mode: 'autonomous',
    ...params,
    ota: { trusted_keys: [key.publicKey], health: { chunks: 5, seconds: 1 }, ...params.ota },
  }, serve ? { serve: true } : {});
  t.daemon.opts.config.params.ota.dir = otaDir ?? join(t.dir, 'ota');
  return t;
}

const refused = (code: RefusalCode, message: RegExp) => (err: unknown) => {
  assert.ok(err instanceof OtaRefusal, `expected a refusal, got ${String(err)}`);
  assert.equal(err.code, code, err.message);
  assert.match(err.message, message);
  return true;
};

test('a swap lands between two ticks: the loop never holds, models change once, the health window commits it, a restart runs it', async (t) => {
  const key = await testKey();
  const next = await signedBundle(BASE, { version: '0.2.0', key });
  const d0 = await otaDaemon(key);
  t.after(async () => { await d0.cleanup(); await next.cleanup(); await key.cleanup(); });
  const d = d0.daemon;
  await d.start();
  const ticks: { source: string; model: string | undefined }[] = [];
  d.controlLoop!.addTap((r: TickRecord) => ticks.push({ source: r.source, model: r.chunk?.modelVersion }));
  for (let i = 0; i < 60; i++) { await d.stepLockstep(); await yieldToWorkers(); }
  const { done } = await d.ota.installPath(next.dir, { activate: true });
  const report = await stepUntil(d, done) as Awaited<ReturnType<Daemon['ota']['activate']>>;
  assert.equal(report.bundle, 'vlad-tiny-l1@0.2.0');
  assert.equal(report.previous, 'configured');
  assert.equal(report.warm_up.runs, 5);
  assert.deepEqual(report.warm_up.vs_active, { mean_abs: 0, max_abs: 0 }, 'the same weights plan the same chunk on the same observation');
  const verdict = await stepUntil(d, d.ota.trialSettled()!);
  assert.equal(verdict, 'committed');
  // Every tick after the first chunk was commanded by the policy: no hold, no gap, one switch.
  const firstPolicy = ticks.findIndex((x) => x.source === 'policy');
  const after = ticks.slice(firstPolicy);
  assert.ok(after.every((x) => x.source === 'policy'), `the loop held during the swap: ${JSON.stringify([...new Set(after.map((x) => x.source))])}`);
  const models = after.map((x) => x.model!).filter((m, i, a) => i === 0 || a[i - 1] !== m);
  assert.deepEqual(models, ['vlad-tiny-l1@0.1.0', 'vlad-tiny-l1@0.2.0']);
  const status = d.status() as { bundle: { version: string }; ota: { state: { active: string; last_good: string } } };
  assert.equal(status.bundle.version, '0.2.0');
  assert.deepEqual(status.ota.state, { active: 'vlad-tiny-l1@0.2.0', last_good: 'vlad-tiny-l1@0.2.0', trial: null });
  await d.shutdown();
  // A new daemon on the same store runs the committed bundle, whole.
  const d1 = await otaDaemon(key, {}, d.opts.config.params.ota.dir);
  t.after(() => d1.cleanup());
  await d1.daemon.start();
  assert.equal(d1.daemon.policy!.modelVersion, 'vlad-tiny-l1@0.2.0');
  // Anti-rollback survives the restart: the configured 0.1.0 is older than what is installed.
  const older = await signedBundle(BASE, { version: '0.1.5', key });
  t.after(() => older.cleanup());
  await assert.rejects(d1.daemon.ota.installPath(older.dir, { activate: true }), refused('version', /vlad-tiny-l1@0\.1\.5 is not newer than vlad-tiny-l1@0\.2\.0/));
  // An explicit rollback returns to the configured bundle, which ran here.
  const back = d1.daemon.ota.rollback();
  assert.equal((await stepUntil(d1.daemon, back)).bundle, 'configured');
  assert.equal(d1.daemon.policy!.modelVersion, 'vlad-tiny-l1@0.1.0');
});

test('every refusal leaves the robot as it was: same model, same store state, nothing installed, nothing staged', async (t) => {
  const key = await testKey();
  const stranger = await testKey('stranger');
  const d0 = await otaDaemon(key);
  t.after(async () => { await d0.cleanup(); await key.cleanup(); await stranger.cleanup(); });
  const d = d0.daemon;
  await d.start();
  for (let i = 0; i < 30; i++) { await d.stepLockstep(); await yieldToWorkers(); }
  const otaDir = d.opts.config.params.ota.dir;
  const fixture = (name: string) => join(repoRoot, 'test', 'fixtures', 'ota', name);
  const swapExpert = (file: string) => async (b: { dir: string; rehash(f: string): Promise<void> }) => { await copyFile(fixture(file), join(b.dir, 'expert.onnx')); await b.rehash('expert.onnx'); };
  const cases: [string, Parameters<typeof signedBundle>[1], RefusalCode, RegExp][] = [
    ['unsigned', { version: '0.2.0' }, 'unsigned', /is not signed/],
    ['an untrusted key', { version: '0.2.0', key: stranger }, 'bad_signature', /which this robot does not trust/],
    ['expired', { version: '0.2.0', key, expires: '2020-01-01T00:00:00Z' }, 'expired', /expired at 2020-01-01T00:00:00Z/],
    ['another hw-profile', { version: '0.2.0', key, hwProfiles: ['jetson-thor'] }, 'hw_profile', /this robot runs 'cpu'/],
    ['an equal version', { version: '0.1.0', key }, 'version', /not newer than vlad-tiny-l1@0\.1\.0/],
    ['an older version', { version: '0.0.9', key }, 'version', /not newer than vlad-tiny-l1@0\.1\.0/],
    ['another I/O (control_dt)', { version: '0.2.0', key, edit: (b) => b.editManifest((m) => { m.io.control_dt = 0.04; }) }, 'io_mismatch', /control_dt 0\.04, running 0\.02/],
    ['a graph that outputs NaN', { version: '0.2.0', key, edit: swapExpert('nan-expert.onnx') }, 'self_test', /golden self-test failed: max relative error NaN/],
    ['Inf actions (normalization stats)', { version: '0.2.0', key, edit: async (b) => {
      const ns = JSON.parse(await readFile(join(b.dir, 'norm_stats.json'), 'utf8'));
      ns.actions.std = ns.actions.std.map(() => 1e39);
      await writeFile(join(b.dir, 'norm_stats.json'), JSON.stringify(ns));
      await b.rehash('norm_stats.json');
    } }, 'non_finite', /warm-up chunk 1 has NaN\/Inf/],
  ];
  const before = { state: await readFile(join(otaDir, 'state.json'), 'utf8'), model: d.policy!.modelVersion };
  for (const [what, opts, code, message] of cases) {
    const b = await signedBundle(BASE, opts);
    try {
      const attempt = d.ota.installPath(b.dir, { activate: true }).then((r) => r.done);
      await assert.rejects(stepUntil(d, attempt), refused(code, message), what);
    } finally {
      await b.cleanup();
    }
    assert.equal(d.policy!.modelVersion, before.model, `${what}: the running model is unchanged`);
    assert.equal(await readFile(join(otaDir, 'state.json'), 'utf8'), before.state, `${what}: the store's state is unchanged`);
    assert.deepEqual(await readdir(join(otaDir, 'bundles')), [], `${what}: nothing installed`);
    assert.deepEqual(await readdir(join(otaDir, 'staging')), [], `${what}: nothing left in staging`);
  }
  // A file changed after signing: refused on its hash (or signed length) while it is copied in.
  const tampered = await signedBundle(BASE, { version: '0.2.0', key });
  t.after(() => tampered.cleanup());
  const golden = await readFile(join(tampered.dir, 'golden.bin'));
  golden[100] = golden[100]! ^ 0xff;
  await writeFile(join(tampered.dir, 'golden.bin'), golden);
  await assert.rejects(d.ota.installPath(tampered.dir, { activate: true }), refused('hash', /golden\.bin hashes to [0-9a-f]{64}, the signed manifest says/));
  assert.equal(d.policy!.modelVersion, before.model);
  const s = d.status() as { ota: { last_outcome: { outcome: string; code: string } } };
  assert.deepEqual([s.ota.last_outcome.outcome, s.ota.last_outcome.code], ['refused', 'hash']);
});

test('a model 10x too slow for the budget is refused at warm-up; the budget is set from the running model on this machine', async (t) => {
  const key = await testKey();
  const good = await signedBundle(BASE, { version: '0.2.0', key });
  const slow = await signedBundle(BASE, { version: '0.3.0', key, edit: async (b) => { await copyFile(join(repoRoot, 'test', 'fixtures', 'ota', 'slow-expert.onnx'), join(b.dir, 'expert.onnx')); await b.rehash('expert.onnx'); } });
  const d0 = await otaDaemon(key);
  t.after(async () => { await d0.cleanup(); await good.cleanup(); await slow.cleanup(); await key.cleanup(); });
  const d = d0.daemon;
  await d.start();
  for (let i = 0; i < 30; i++) { await d.stepLockstep(); await yieldToWorkers(); }
  const report = await stepUntil(d, (await d.ota.installPath(good.dir, { activate: true })).done) as { warm_up: { latency_p50_ms: number } };
  assert.equal(await stepUntil(d, d.ota.trialSettled()!), 'committed');
  // The slow graph does the same work plus ~40x more: a budget of 3x this machine's own latency leaves it >10x over.
  d.opts.config.params.ota.health.latency_budget_ms = Math.max(1, 3 * report.warm_up.latency_p50_ms);
  const attempt = (await d.ota.installPath(slow.dir, { activate: true })).done;
  await assert.rejects(stepUntil(d, attempt), refused('too_slow', /budget/));
  assert.equal(d.policy!.modelVersion, 'vlad-tiny-l1@0.2.0');
});

test('health window: a model that drives into the limits is swapped in, then rolled back automatically, and says why', async (t) => {
  const key = await testKey();
  // Action statistics 1000x too wide (a classic export bug): finite chunks, so the self-test and
  // the warm-up pass, but every command runs into the safety filter.
  const bad = await signedBundle('vlad-base-flow', { version: '1.7.0', key, edit: async (b) => {
    const ns = JSON.parse(await readFile(join(b.dir, 'norm_stats.json'), 'utf8'));
    ns.actions.std = ns.actions.std.map((x: number) => x * 1000);
    await writeFile(join(b.dir, 'norm_stats.json'), JSON.stringify(ns));
    await b.rehash('norm_stats.json');
  } });
  const d0 = await otaDaemon(key, { bundle: bundlePath('vlad-base-flow') });
  t.after(async () => { await d0.cleanup(); await bad.cleanup(); await key.cleanup(); });
  const d = d0.daemon;
  await d.start();
  const models: (string | undefined)[] = [];
  d.controlLoop!.addTap((r) => models.push(r.chunk?.modelVersion));
  for (let i = 0; i < 30; i++) { await d.stepLockstep(); await yieldToWorkers(); }
  await d.startEpisode({ task: 'pick', seed: 3, autoEnd: false });
  await stepUntil(d, (await d.ota.installPath(bad.dir, { activate: true, force: true })).done);
  assert.equal(await stepUntil(d, d.ota.trialSettled()!), 'rolled_back', JSON.stringify((d.status() as { ota: unknown }).ota));
  assert.equal(d.policy!.modelVersion, 'vlad-base-flow@1.6.0');
  const s = d.status() as { ota: { last_outcome: { outcome: string; reason: string; back_to: string }; state: { active: string } } };
  assert.equal(s.ota.last_outcome.outcome, 'rolled_back');
  assert.match(s.ota.last_outcome.reason, /the safety filter clamped \d+\.\d% of ticks, the replaced model \d+\.\d%/);
  assert.equal(s.ota.state.active, 'configured');
  for (let i = 0; i < 60; i++) { await d.stepLockstep(); await yieldToWorkers(); }
  const seq = models.filter((m): m is string => m !== undefined).filter((m, i, a) => a[i - 1] !== m);
  assert.deepEqual(seq, ['vlad-base-flow@1.6.0', 'vlad-base-flow@1.7.0', 'vlad-base-flow@1.6.0'], 'old, new, and back to old');
  // It is installed but never committed: a later activation must be explicit, and it did not "run".
  const list = await d.ota.list();
  assert.deepEqual(list.bundles.map((b) => [b.bundle, b.ran]), [['vlad-base-flow@1.7.0', false]]);
  assert.deepEqual(list.history.slice(-2).map((e) => e.event), ['swap', 'rollback']);
});

test('during an episode the swap waits for its end unless forced', async (t) => {
  const key = await testKey();
  const next = await signedBundle(BASE, { version: '0.2.0', key });
  const d0 = await otaDaemon(key);
  t.after(async () => { await d0.cleanup(); await next.cleanup(); await key.cleanup(); });
  const d = d0.daemon;
  await d.start();
  await d.startEpisode({ task: 'touch', seed: 1, autoEnd: false });
  const { done } = await d.ota.installPath(next.dir, { activate: true });
  let swapped = false;
  done.then(() => { swapped = true; }, () => undefined);
  for (let i = 0; i < 300 && (d.status() as { ota: { stage: { stage: string } | null } }).ota.stage?.stage !== 'wait_episode'; i++) { await d.stepLockstep(); await yieldToWorkers(); }
  for (let i = 0; i < 100; i++) { await d.stepLockstep(); await yieldToWorkers(); }
  assert.equal(swapped, false, 'no swap while the episode runs');
  assert.equal(d.policy!.modelVersion, 'vlad-tiny-l1@0.1.0');
  const outcome = await d.stopEpisode(true);
  await stepUntil(d, done);
  assert.equal(d.policy!.modelVersion, 'vlad-tiny-l1@0.2.0');
  assert.ok(outcome.steps >= 100);
  // Forced: swaps at once, mid-episode.
  await stepUntil(d, d.ota.trialSettled()!);
  await d.startEpisode({ task: 'touch', seed: 2, autoEnd: false });
  const forced = d.ota.activate('configured', { rollback: true, force: true });
  assert.equal((await stepUntil(d, forced)).bundle, 'configured');
  assert.equal(d.policy!.modelVersion, 'vlad-tiny-l1@0.1.0');
});

test('ops: a push over the socket resumes after a dropped connection; bundle.status and bundle.list report it', async (t) => {
  const key = await testKey();
  const next = await signedBundle(BASE, { version: '0.2.0', key });
  const d0 = await otaDaemon(key, {}, undefined, true);
  const d = d0.daemon;
  t.after(async () => { await d0.cleanup(); await next.cleanup(); await key.cleanup(); });
  attachServing(d, d.opts.config.params, silentLogger, () => undefined);
  await d.start();
  const manifest = await readFile(join(next.dir, 'manifest.json'), 'utf8');
  const CHUNK = 32 << 10;
  let client = await OpsClient.connect(d0.endpoints.ops, { timeoutMs: 10_000 });
  const begin = await client.call<{ upload_id: string; files: { name: string; bytes: number; have: number }[] }>('bundle.upload.begin', { manifest });
  const expert = await readFile(join(next.dir, 'expert.onnx'));
  await client.call('bundle.upload.chunk', { upload_id: begin.upload_id, file: 'expert.onnx', offset: 0, data: expert.subarray(0, CHUNK) });
  await client.close(); // the link drops
  client = await OpsClient.connect(d0.endpoints.ops, { timeoutMs: 10_000 });
  t.after(() => client.close());
  const resumed = await client.call<typeof begin>('bundle.upload.begin', { manifest });
  assert.equal(resumed.upload_id, begin.upload_id);
  assert.equal(resumed.files.find((f) => f.name === 'expert.onnx')!.have, CHUNK, 'the acknowledged chunk is kept');
  const wrong = await client.call<{ accepted: boolean; have: number }>('bundle.upload.chunk', { upload_id: begin.upload_id, file: 'expert.onnx', offset: 0, data: expert.subarray(0, CHUNK) });
  assert.deepEqual(wrong, { have: CHUNK, done: false, accepted: false }, 'a resend is answered with where to continue');
  for (const f of resumed.files) {
    const bytes = await readFile(join(next.dir, f.name));
    for (let off = f.have; off < bytes.length; off += CHUNK) await client.call('bundle.upload.chunk', { upload_id: begin.upload_id, file: f.name, offset: off, data: bytes.subarray(off, off + CHUNK) });
  }
  await assert.rejects(client.call('bundle.upload.chunk', { upload_id: begin.upload_id, file: 'tokenizer.json', offset: 0, data: 'text' }), /field data: expected binary/);
  const finish = await client.call<{ bundle: string; accepted: boolean }>('bundle.upload.finish', { upload_id: begin.upload_id, activate: true });
  assert.deepEqual(finish, { bundle: 'vlad-tiny-l1@0.2.0', accepted: true });
  let status: Record<string, any> = {};
  for (let i = 0; i < 5000; i++) {
    await d.stepLockstep();
    await yieldToWorkers();
    if (i % 20 === 0) {
      status = await client.call<Record<string, any>>('bundle.status');
      if (status.last_outcome?.outcome === 'committed') break;
    }
  }
  assert.equal(status.last_outcome.outcome, 'committed', JSON.stringify(status));
  assert.equal(status.running, 'vlad-tiny-l1@0.2.0');
  const list = await client.call<{ bundles: { bundle: string; active: boolean; last_good: boolean }[] }>('bundle.list');
  assert.deepEqual(list.bundles, [{ bundle: 'vlad-tiny-l1@0.2.0', active: true, last_good: true, ran: true }]);
  await assert.rejects(client.call('bundle.activate', { bundle: 'nope@1.0.0' }).then(async () => {
    for (let i = 0; i < 50; i++) { await d.stepLockstep(); await yieldToWorkers(); }
    const s = await client.call<Record<string, any>>('bundle.status');
    throw new Error(s.last_outcome.reason);
  }), /not_installed|nope@1\.0\.0 is not installed/);
});
