// Signed bundles for OTA tests: a scratch copy of a shipped bundle with a new version (and any
// edit), signed by a key generated for the test, as `vlad bundle sign` does it.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { signBundle, writeSigningKey } from '../../src/cli/bundle-sign.js';
import { scratchCopy, type ScratchBundle } from './bundles.js';

export interface TestKey { keyId: string; publicKey: string; keyFile: string; cleanup(): Promise<void> }

export async function testKey(name = 'fleet'): Promise<TestKey> {
  const dir = await mkdtemp(join(tmpdir(), 'vlad-key-'));
  const k = await writeSigningKey(dir, name);
  return { keyId: k.keyId, publicKey: k.publicKey, keyFile: k.keyFile, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

export interface SignOptions {
  version: string;
  key?: TestKey;
  expires?: string;
  hwProfiles?: string[];
  /** Edits before signing (the signature covers them). */
  edit?: (b: ScratchBundle) => Promise<void>;
}

/** A signed copy of shipped bundle `name` (key undefined: left unsigned). */
export async function signedBundle(name: string, o: SignOptions): Promise<ScratchBundle> {
  const b = await scratchCopy(name);
  await b.editManifest((m) => { m.version = o.version; });
  if (o.edit) await o.edit(b);
  if (o.key) await signBundle(b.dir, o.key.keyFile, { expires: o.expires ?? '2099-01-01T00:00:00Z', hwProfiles: o.hwProfiles ?? ['cpu'], add: false });
  return b;
}
