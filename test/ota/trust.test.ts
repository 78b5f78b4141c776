// The trust anchor and the anti-rollback rules: each refusal names its reason, and only a bundle
// signed by enough trusted keys, unexpired and built for this hw-profile gets through.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readManifest } from '../../src/bundle/index.js';
import { signBundle } from '../../src/cli/bundle-sign.js';
import { OtaRefusal, TrustAnchor, checkActivation, checkVersion, emptyState, type RefusalCode } from '../../src/ota/index.js';
import { signedBundle, testKey } from '../support/ota.js';

const refusal = (code: RefusalCode, message: RegExp) => (err: unknown) => {
  assert.ok(err instanceof OtaRefusal, `expected an OtaRefusal, got ${String(err)}`);
  assert.equal(err.code, code, err.message);
  assert.match(err.message, message);
  return true;
};
const NOW = Date.parse('2030-06-01T00:00:00Z');

test('trust: signed by a trusted key, unexpired, for this hw-profile passes; each failure is refused by name', async (t) => {
  const [k1, k2, stranger] = await Promise.all([testKey('k1'), testKey('k2'), testKey('stranger')]);
  const good = await signedBundle('vlad-tiny-l1', { version: '0.2.0', key: k1, expires: '2031-01-01T00:00:00Z', hwProfiles: ['cpu', 'jetson-orin-nano'] });
  const unsigned = await signedBundle('vlad-tiny-l1', { version: '0.2.0' });
  t.after(async () => { for (const x of [k1, k2, stranger, good, unsigned]) await x.cleanup(); });
  const anchor = new TrustAnchor({ keys: [k1.publicKey, k2.publicKey], threshold: 1, hwProfile: 'cpu' });
  const m = await readManifest(good.dir);
  assert.deepEqual(anchor.check(m, NOW), [k1.keyId]);
  assert.throws(() => anchor.check(m, Date.parse('2031-01-01T00:00:01Z')), refusal('expired', /expired at 2031-01-01T00:00:00Z/));
  assert.throws(() => new TrustAnchor({ keys: [k1.publicKey], threshold: 1, hwProfile: 'jetson-thor' }).check(m, NOW), refusal('hw_profile', /built for hw-profiles cpu, jetson-orin-nano, this robot runs 'jetson-thor'/));
  assert.throws(() => new TrustAnchor({ keys: [k1.publicKey, k2.publicKey], threshold: 2, hwProfile: 'cpu' }).check(m, NOW), refusal('threshold', /1 valid trusted signature\(s\), 2 required/));
  assert.throws(() => new TrustAnchor({ keys: [stranger.publicKey], threshold: 1, hwProfile: 'cpu' }).check(m, NOW), refusal('bad_signature', /which this robot does not trust/));
  assert.throws(() => anchor.check({ ...m, version: '0.3.0' }, NOW), refusal('bad_signature', /does not verify/));
  const plain = await readManifest(unsigned.dir);
  assert.throws(() => anchor.check(plain, NOW), refusal('unsigned', /is not signed/));
  assert.throws(() => new TrustAnchor({ keys: [], threshold: 1, hwProfile: 'cpu' }).check(m, NOW), refusal('unsigned', /trusts no signing key/));
  // Two signatures meet a threshold of two.
  await signBundle(good.dir, k2.keyFile, { expires: '2031-01-01T00:00:00Z', hwProfiles: ['cpu', 'jetson-orin-nano'], add: true });
  assert.deepEqual(new TrustAnchor({ keys: [k1.publicKey, k2.publicKey], threshold: 2, hwProfile: 'cpu' }).check(await readManifest(good.dir), NOW).sort(), [k1.keyId, k2.keyId].sort());
});

test('trust anchor configuration errors name the key and the threshold', () => {
  assert.throws(() => new TrustAnchor({ keys: ['not-a-key'], threshold: 1, hwProfile: 'cpu' }), /ota\.trusted_keys\[0\]: not an ed25519 public key/);
  assert.throws(() => new TrustAnchor({ keys: [Buffer.alloc(32, 1).toString('base64')], threshold: 2, hwProfile: 'cpu' }), /ota\.threshold: 2 signatures required but only 1 distinct keys trusted/);
});

test('anti-rollback: newer installs; equal or older is refused unless an explicit rollback to a version that ran', () => {
  const s = { ...emptyState(), highest: { vlad: '1.2.0' }, ran: ['vlad@1.0.0', 'vlad@1.2.0'] };
  checkVersion(s, { name: 'vlad', version: '1.3.0' }, false);
  checkVersion(s, { name: 'other', version: '0.0.1' }, false);
  assert.throws(() => checkVersion(s, { name: 'vlad', version: '1.2.0' }, false), refusal('version', /not newer than vlad@1\.2\.0/));
  assert.throws(() => checkVersion(s, { name: 'vlad', version: '1.1.0' }, false), refusal('version', /not newer/));
  checkVersion(s, { name: 'vlad', version: '1.0.0' }, true);
  assert.throws(() => checkVersion(s, { name: 'vlad', version: '1.1.0' }, true), refusal('version', /only to a version that has run on this robot \(ran: vlad@1\.0\.0, vlad@1\.2\.0\)/));
  assert.throws(() => checkVersion(s, { name: 'vlad', version: 'latest' }, false), refusal('version', /not semver/));
  // Activation: the newest installed goes; older only as a rollback that ran.
  checkActivation(s, { name: 'vlad', version: '1.2.0' }, false);
  assert.throws(() => checkActivation(s, { name: 'vlad', version: '1.0.0' }, false), refusal('version', /activate it as a rollback/));
  checkActivation(s, { name: 'vlad', version: '1.0.0' }, true);
});
