// Bundle signatures: keygen writes a secret only its owner can read; sign covers the canonical
// manifest with its release metadata (expiry, hw-profiles, file lengths); any change to what was
// signed, or a key the verifier does not trust, leaves no valid signature.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFile, chmod, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { BundleError, parseManifest, publicKeyObject, readManifest, validSignatures, verifyHashes, type Manifest } from '../../src/bundle/index.js';
import { parseExpiry, signBundle, writeSigningKey } from '../../src/cli/bundle-sign.js';
import { scratchCopy } from '../support/bundles.js';

async function keyPair(dir: string, name: string) {
  const k = await writeSigningKey(dir, name);
  return { ...k, trusted: new Map([[k.keyId, publicKeyObject(k.publicKey)]]) };
}

test('keygen: the secret is 0600, the public key is 32 raw bytes; an existing key is never overwritten', async (t) => {
  const b = await scratchCopy('vlad-tiny-l1');
  t.after(() => b.cleanup());
  const k = await writeSigningKey(join(b.dir, '..'), 'fleet');
  assert.equal((await stat(k.keyFile)).mode & 0o777, 0o600);
  assert.equal(Buffer.from((await readFile(k.pubFile, 'utf8')).trim(), 'base64').length, 32);
  assert.match(k.keyId, /^[0-9a-f]{16}$/);
  const before = await readFile(k.keyFile, 'utf8');
  await assert.rejects(writeSigningKey(join(b.dir, '..'), 'fleet'), /exists: refusing to overwrite a key/);
  assert.equal(await readFile(k.keyFile, 'utf8'), before, 'the secret is unchanged');
  await assert.rejects(writeSigningKey(join(b.dir, '..'), '../escape'), /not a plain file name/);
});

test('sign: a trusted key verifies; a changed version, expiry, hw-profile or file hash does not', async (t) => {
  const b = await scratchCopy('vlad-tiny-l1');
  t.after(() => b.cleanup());
  const k = await keyPair(join(b.dir, '..'), 'a');
  const r = await signBundle(b.dir, k.keyFile, { expires: '2030-01-01T00:00:00Z', hwProfiles: ['cpu', 'jetson-orin-nano'], add: false });
  assert.equal(r.signatures, 1);
  const m = await readManifest(b.dir);
  assert.deepEqual(validSignatures(m, k.trusted), [k.keyId]);
  assert.deepEqual(m.release?.hw_profiles, ['cpu', 'jetson-orin-nano']);
  for (const [f, n] of Object.entries(m.release!.file_bytes)) assert.equal((await stat(join(b.dir, f))).size, n, f);
  await verifyHashes(b.dir, m);
  const tampered: ((x: Manifest) => void)[] = [
    (x) => { x.version = '9.9.9'; },
    (x) => { x.release!.expires = '2099-01-01T00:00:00Z'; },
    (x) => { x.release!.hw_profiles.push('x86-cuda'); },
    (x) => { x.files['expert.onnx'] = '0'.repeat(64); },
    (x) => { x.release!.file_bytes['expert.onnx']! += 1; },
  ];
  for (const edit of tampered) {
    const x = structuredClone(m);
    edit(x);
    assert.deepEqual(validSignatures(x, k.trusted), [], 'an edit invalidates the signature');
  }
  const other = await keyPair(join(b.dir, '..'), 'b');
  assert.deepEqual(validSignatures(m, other.trusted), [], 'an untrusted key proves nothing');
});

test('sign --add collects signatures for a threshold; changed release metadata drops the others', async (t) => {
  const b = await scratchCopy('vlad-tiny-l1');
  t.after(() => b.cleanup());
  const k1 = await keyPair(join(b.dir, '..'), 'k1');
  const k2 = await keyPair(join(b.dir, '..'), 'k2');
  const both = new Map([...k1.trusted, ...k2.trusted]);
  const opts = { expires: '2030-01-01T00:00:00Z', hwProfiles: ['cpu'] };
  await signBundle(b.dir, k1.keyFile, { ...opts, add: false });
  assert.equal((await signBundle(b.dir, k2.keyFile, { ...opts, add: true })).signatures, 2);
  assert.deepEqual(validSignatures(await readManifest(b.dir), both).sort(), [k1.keyId, k2.keyId].sort());
  assert.equal((await signBundle(b.dir, k2.keyFile, { ...opts, add: true })).signatures, 2, 'the same key counts once');
  const r = await signBundle(b.dir, k2.keyFile, { ...opts, expires: '2031-01-01T00:00:00Z', add: true });
  assert.equal(r.signatures, 1, 'a signature over other metadata would no longer verify');
  assert.deepEqual(validSignatures(await readManifest(b.dir), both), [k2.keyId]);
});

test('sign refuses a key others can read and a bundle whose files no longer match, changing nothing', async (t) => {
  const b = await scratchCopy('vlad-tiny-l1');
  t.after(() => b.cleanup());
  const k = await keyPair(join(b.dir, '..'), 'k');
  const before = await readFile(join(b.dir, 'manifest.json'), 'utf8');
  await chmod(k.keyFile, 0o644);
  await assert.rejects(signBundle(b.dir, k.keyFile, { expires: '2030-01-01T00:00:00Z', add: false }), /readable by others \(mode 644\): chmod 600/);
  await chmod(k.keyFile, 0o600);
  await appendFile(join(b.dir, 'norm_stats.json'), ' ');
  await assert.rejects(signBundle(b.dir, k.keyFile, { expires: '2030-01-01T00:00:00Z', add: false }), (e: unknown) => e instanceof BundleError && e.file === 'norm_stats.json' && e.field === 'sha256');
  assert.equal(await readFile(join(b.dir, 'manifest.json'), 'utf8'), before, 'manifest.json untouched');
});

test('a file whose length differs from the signed length is refused before its hash is computed', async (t) => {
  const b = await scratchCopy('vlad-tiny-l1');
  t.after(() => b.cleanup());
  const k = await keyPair(join(b.dir, '..'), 'k');
  await signBundle(b.dir, k.keyFile, { expires: '2030-01-01T00:00:00Z', add: false });
  await appendFile(join(b.dir, 'tokenizer.json'), '\n');
  await b.rehash('tokenizer.json');
  await assert.rejects(verifyHashes(b.dir, await readManifest(b.dir)), /tokenizer\.json: length: is \d+ bytes, the signed release says \d+/);
});

test('release metadata: file_bytes must cover exactly the hashed files; expiry is an ISO instant', async (t) => {
  const b = await scratchCopy('vlad-tiny-l1');
  t.after(() => b.cleanup());
  const m = await b.manifest();
  m.release = { expires: '2030-01-01T00:00:00Z', hw_profiles: ['cpu'], file_bytes: { 'expert.onnx': 1 } };
  assert.throws(() => parseManifest(JSON.stringify(m)), /release\.file_bytes: must list exactly the files in files/);
  m.release.expires = 'next tuesday';
  assert.throws(() => parseManifest(JSON.stringify(m)), /release\.expires/);
  assert.equal(parseExpiry('2030-01-01'), '2030-01-01T00:00:00Z');
  assert.throws(() => parseExpiry('soon'), /expected days or an ISO date/);
  assert.throws(() => parseExpiry('0'), /not in \[1, 3650\]/);
});
