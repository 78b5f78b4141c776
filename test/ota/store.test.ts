// The bundle store and staged uploads on real files: uploads resume where they stopped, refuse
// bytes past the signed length or a wrong hash (keeping nothing bad), install by one rename, and
// boot() always answers a whole bundle: the active one, the last good one, or the configured one.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFile, mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readManifest } from '../../src/bundle/index.js';
import { BundleStore, OtaRefusal, UploadStaging, withEvent } from '../../src/ota/index.js';
import { bundlePath } from '../support/bundles.js';
import { signedBundle, testKey } from '../support/ota.js';

async function tmp(t: { after(fn: () => Promise<void>): void }): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'vlad-ota-'));
  t.after(() => rm(d, { recursive: true, force: true }));
  return d;
}

/** Uploads every file of `dir` in `chunk`-byte pieces; stops after `stopAfter` chunks (a dropped connection). */
async function send(staging: UploadStaging, id: string, dir: string, chunk: number, stopAfter = Infinity): Promise<number> {
  let sent = 0;
  const st = await staging.status(id);
  for (const f of st.files) {
    const bytes = await readFile(join(dir, f.name));
    for (let off = f.have; off < bytes.length; off += chunk) {
      if (sent >= stopAfter) return sent;
      await staging.chunk(id, f.name, off, bytes.subarray(off, off + chunk));
      sent++;
    }
  }
  return sent;
}

test('an upload resumes after a drop (and after a restart of the staging), then verifies and installs by rename', async (t) => {
  const root = await tmp(t);
  const key = await testKey();
  const b = await signedBundle('vlad-tiny-l1', { version: '0.2.0', key });
  t.after(async () => { await b.cleanup(); await key.cleanup(); });
  const store = await BundleStore.open(join(root, 'ota'));
  const limits = { maxBundleBytes: 10 << 20, maxChunkBytes: 64 << 10 };
  const text = await readFile(join(b.dir, 'manifest.json'), 'utf8');
  let staging = new UploadStaging(store.stagingDir, limits);
  const first = await staging.begin(text, () => undefined);
  assert.equal(first.have, 0);
  assert.equal(first.bytes, Object.values((await readManifest(b.dir)).release!.file_bytes).reduce((a, x) => a + x, 0));
  assert.equal(await send(staging, first.upload_id, b.dir, 16 << 10, 7), 7);
  // The connection drops; the daemon even restarts: a fresh staging object, the same manifest.
  staging = new UploadStaging(store.stagingDir, limits);
  const resumed = await staging.begin(text, () => undefined);
  assert.equal(resumed.upload_id, first.upload_id);
  assert.equal(resumed.have, 7 * (16 << 10) - resumed.files.filter((f) => f.done).reduce((a, f) => a + ((16 << 10) * Math.ceil(f.bytes / (16 << 10)) - f.bytes), 0), 'what was acknowledged is kept');
  // A chunk at the wrong offset is refused with where to continue; nothing is written.
  const partial = resumed.files.find((f) => !f.done)!;
  await assert.rejects(staging.chunk(first.upload_id, partial.name, 0, new Uint8Array(10)), (e: unknown) => e instanceof OtaRefusal && e.code === 'offset' && e.detail.have === partial.have);
  await send(staging, first.upload_id, b.dir, 16 << 10);
  const { dir, manifest } = await staging.finish(first.upload_id);
  const id = await store.commitStaged(dir, manifest);
  assert.equal(id, 'vlad-tiny-l1@0.2.0');
  await store.verifyInstalled(id);
  assert.equal((await stat(join(store.bundleDir(id), 'expert.onnx'))).mode & 0o777, 0o444, 'installed files are read-only');
  assert.deepEqual(await readdir(store.stagingDir), [], 'nothing left in staging');
  assert.equal(store.state.highest['vlad-tiny-l1'], '0.2.0');
  assert.equal((await stat(join(root, 'ota', 'state.json'))).mode & 0o777, 0o600, 'the trusted state is private');
});

test('upload refusals: past the signed length, a wrong hash (the file is discarded), too large, oversize chunk, unknown file, incomplete finish', async (t) => {
  const root = await tmp(t);
  const key = await testKey();
  const b = await signedBundle('vlad-tiny-l1', { version: '0.2.0', key });
  t.after(async () => { await b.cleanup(); await key.cleanup(); });
  const store = await BundleStore.open(join(root, 'ota'));
  const staging = new UploadStaging(store.stagingDir, { maxBundleBytes: 10 << 20, maxChunkBytes: 64 << 10 });
  const text = await readFile(join(b.dir, 'manifest.json'), 'utf8');
  const { upload_id: id } = await staging.begin(text, () => undefined);
  const tok = await readFile(join(b.dir, 'tokenizer.json'));
  const code = (c: string) => (e: unknown) => e instanceof OtaRefusal && e.code === c;
  await assert.rejects(staging.chunk(id, 'tokenizer.json', 0, Buffer.concat([tok, Buffer.from('x')])), code('length'));
  const bad = Buffer.from(tok);
  bad[10] = bad[10]! ^ 0xff;
  await assert.rejects(staging.chunk(id, 'tokenizer.json', 0, bad), code('hash'));
  assert.equal((await staging.status(id)).files.find((f) => f.name === 'tokenizer.json')!.have, 0, 'the bad file was discarded');
  await assert.rejects(staging.chunk(id, 'evil.sh', 0, Buffer.from('rm -rf /')), code('manifest'));
  await assert.rejects(staging.chunk(id, 'tokenizer.json', 0, new Uint8Array(65 << 10)), code('too_large'));
  await assert.rejects(staging.finish(id), code('incomplete'));
  await assert.rejects(new UploadStaging(store.stagingDir, { maxBundleBytes: 1000, maxChunkBytes: 1 << 16 }).begin(text, () => undefined), code('too_large'));
  await assert.rejects(staging.chunk('0123456789abcdef', 'tokenizer.json', 0, tok), code('unknown_upload'));
  const refuse = () => { throw new OtaRefusal('expired', 'no'); };
  await assert.rejects(staging.begin(text.replace('0.2.0', '0.2.1'), refuse), code('expired'));
  assert.deepEqual((await readdir(store.stagingDir)).sort(), [id], 'a refused manifest leaves no staging directory');
});

test('boot: the active bundle if whole; a trial interrupted by a restart rolls back; a damaged bundle falls back to the last good', async (t) => {
  const root = await tmp(t);
  const key = await testKey();
  const b2 = await signedBundle('vlad-tiny-l1', { version: '0.2.0', key });
  const b3 = await signedBundle('vlad-tiny-l1', { version: '0.3.0', key });
  t.after(async () => { await b2.cleanup(); await b3.cleanup(); await key.cleanup(); });
  const store = await BundleStore.open(join(root, 'ota'));
  const configured = bundlePath('vlad-tiny-l1');
  const install = async (b: typeof b2) => {
    const staged = join(store.stagingDir, 'x');
    await mkdir(staged);
    for (const f of await readdir(b.dir)) await writeFile(join(staged, f), await readFile(join(b.dir, f)));
    return store.commitStaged(staged, await readManifest(staged));
  };
  const v2 = await install(b2), v3 = await install(b3);
  assert.deepEqual(await store.boot(configured), { dir: configured, bundle: null, notes: [] }, 'nothing active yet: the configured bundle');
  await store.setState({ ...store.state, active: v2, last_good: v2 });
  assert.equal((await store.boot(configured)).bundle, v2);
  // v3 swapped in, on trial, and the daemon is killed: the next boot rolls back to v2.
  await store.setState({ ...store.state, active: v3, trial: { bundle: v3, since: new Date().toISOString() } });
  const after = await (await BundleStore.open(join(root, 'ota'))).boot(configured);
  assert.equal(after.bundle, v2);
  assert.match(after.notes[0]!, /was in its health window when the daemon stopped: rolled back to vlad-tiny-l1@0\.2\.0/);
  // v3 committed, then one of its files damaged on disk: boot skips it for the last good, whole.
  const s = await BundleStore.open(join(root, 'ota'));
  await s.setState(withEvent({ ...s.state, active: v3, last_good: v2, trial: null }, 'committed', v3));
  const { chmod } = await import('node:fs/promises');
  await chmod(join(s.bundleDir(v3), 'norm_stats.json'), 0o644);
  await appendFile(join(s.bundleDir(v3), 'norm_stats.json'), ' ');
  const damaged = await s.boot(configured);
  assert.equal(damaged.bundle, v2);
  assert.match(damaged.notes[0]!, /vlad-tiny-l1@0\.3\.0 is damaged .*norm_stats\.json.*: skipped/);
  assert.equal(s.state.active, v2);
});

test('adapters: kept when the expert and LoRA layout match, parked (left with their base) otherwise; prune keeps what is pinned', async (t) => {
  const root = await tmp(t);
  const store = await BundleStore.open(join(root, 'ota'));
  const l1 = await readManifest(bundlePath('vlad-tiny-l1'));
  const ddim = await readManifest(bundlePath('vlad-tiny-ddim'));
  await mkdir(store.adaptersDir('vlad-tiny-l1@0.1.0'), { recursive: true });
  await writeFile(join(store.adaptersDir('vlad-tiny-l1@0.1.0'), 'pick-7.lora'), new Uint8Array(l1.lora.size * 4));
  const kept = await store.carryAdapters('vlad-tiny-l1@0.1.0', l1, 'vlad-tiny-l1@0.2.0', { ...l1, version: '0.2.0' });
  assert.deepEqual(kept, { outcome: 'kept', files: 1 });
  assert.deepEqual(await readdir(store.adaptersDir('vlad-tiny-l1@0.2.0')), ['pick-7.lora']);
  const parked = await store.carryAdapters('vlad-tiny-l1@0.1.0', l1, 'vlad-tiny-ddim@0.1.0', ddim);
  assert.deepEqual(parked, { outcome: 'parked', files: 1 });
  assert.deepEqual(await readdir(store.adaptersDir('vlad-tiny-ddim@0.1.0')).catch(() => []), [], 'the new base starts without them');
  assert.deepEqual(await readdir(store.adaptersDir('vlad-tiny-l1@0.1.0')), ['pick-7.lora'], 'parked with their base, ready if it returns');
  assert.deepEqual(await store.carryAdapters(null, l1, 'x@1.0.0', l1), { outcome: 'none', files: 0 });
});
