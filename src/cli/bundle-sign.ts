// `vlad bundle keygen` and `vlad bundle sign`: the publisher's side of trust. The secret key is a
// file only its owner can read; signing rewrites manifest.json atomically with the release
// metadata (expiry, hw-profiles) that the signature covers.
import { chmod, mkdir, open, readFile, readdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { generateSigningKey, readManifest, signManifest, signaturesOf, verifyHashes, type BundleSignature, type Manifest } from '../bundle/index.js';
import { writeFileAtomic } from '../core/index.js';
import { profilesDir } from '../hw/index.js';
import { UsageError } from './args.js';

export async function writeSigningKey(dir: string, name: string): Promise<{ keyId: string; publicKey: string; keyFile: string; pubFile: string }> {
  if (!/^[A-Za-z0-9._-]+$/.test(name)) throw new UsageError(`--name: '${name}' is not a plain file name`);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const k = generateSigningKey();
  const keyFile = join(dir, `${name}.key`), pubFile = join(dir, `${name}.pub`);
  for (const f of [keyFile, pubFile]) if (await stat(f).then(() => true, () => false)) throw new Error(`${f} exists: refusing to overwrite a key`);
  // 'wx': created here, never through an existing file; 0600 before a byte of the secret is written.
  const fh = await open(keyFile, 'wx', 0o600);
  try { await fh.writeFile(k.privatePem); await fh.sync(); } finally { await fh.close(); }
  await chmod(keyFile, 0o600);
  await writeFile(pubFile, `${k.publicKey}\n`, { mode: 0o644 });
  return { keyId: k.keyId, publicKey: k.publicKey, keyFile, pubFile };
}

/** `--expires 90` (days from now) or an ISO date. */
export function parseExpiry(value: string): string {
  if (/^\d+$/.test(value)) {
    const days = Number(value);
    if (days < 1 || days > 3650) throw new UsageError(`--expires: ${days} days is not in [1, 3650]`);
    return new Date(Date.now() + days * 86_400_000).toISOString().replace(/\.\d{3}Z$/, 'Z');
  }
  const t = Date.parse(value);
  if (!Number.isFinite(t) || !/^\d{4}-\d{2}-\d{2}/.test(value)) throw new UsageError(`--expires: expected days or an ISO date, got '${value}'`);
  return new Date(t).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

export async function signBundle(dir: string, keyFile: string, o: { expires: string; hwProfiles?: string[]; add: boolean }): Promise<{ bundle: string; key_id: string; expires: string; hw_profiles: string[]; signatures: number }> {
  const mode = (await stat(keyFile)).mode;
  if (mode & 0o077) throw new Error(`${keyFile}: the signing key is readable by others (mode ${(mode & 0o777).toString(8)}): chmod 600 it`);
  const privatePem = await readFile(keyFile, 'utf8');
  const manifest: Manifest = await readManifest(dir);
  // Sign only what is there: a bundle whose files no longer match its hashes is refused, not blessed.
  await verifyHashes(dir, { ...manifest, release: undefined });
  const file_bytes: Record<string, number> = {};
  for (const f of Object.keys(manifest.files).sort()) file_bytes[f] = (await stat(join(dir, f))).size;
  const release = { expires: o.expires, hw_profiles: o.hwProfiles ?? manifest.release?.hw_profiles ?? (await shippedProfiles()), file_bytes };
  const unsigned: Manifest = { ...manifest, release, signature: null };
  // Other signatures stay valid only over the same signed content.
  const keep: BundleSignature[] = o.add && JSON.stringify(manifest.release) === JSON.stringify(release) ? signaturesOf(manifest) : [];
  const mine = signManifest(unsigned, privatePem);
  const all = [...keep.filter((s) => s.key_id !== mine.key_id), mine];
  const signed: Manifest = { ...unsigned, signature: all.length === 1 ? all[0]! : all };
  await writeFileAtomic(join(dir, 'manifest.json'), `${JSON.stringify(signed, null, 1)}\n`);
  return { bundle: `${manifest.name}@${manifest.version}`, key_id: mine.key_id, expires: release.expires, hw_profiles: release.hw_profiles, signatures: all.length };
}

/** Without --hw-profiles a bundle is signed for every shipped hardware profile. */
async function shippedProfiles(): Promise<string[]> {
  return (await readdir(profilesDir())).filter((f) => f.endsWith('.yaml')).map((f) => f.slice(0, -5)).sort();
}
