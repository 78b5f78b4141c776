// Bundle signatures: ed25519 over the canonical manifest (canonicalManifest: keys sorted, no
// whitespace, `signature` removed; the RFC 8785 rules for the JSON a manifest holds), which pins
// every file by sha256, the version, and the signed release metadata (expiry, hw-profiles). A key
// is known by its id: the first 16 hex digits of the sha256 of its raw 32-byte public key.
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';
import { canonicalManifest, type BundleSignature, type Manifest } from './manifest.js';

const SPKI_ED25519_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

export interface SigningKeyPair {
  /** PKCS#8 PEM: the secret. */
  privatePem: string;
  /** The raw 32-byte public key, base64: what robots list in ota.trusted_keys. */
  publicKey: string;
  keyId: string;
}

export function keyIdOf(publicKeyB64: string): string {
  return createHash('sha256').update(Buffer.from(publicKeyB64, 'base64')).digest('hex').slice(0, 16);
}

export function generateSigningKey(): SigningKeyPair {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  const raw = publicKey.export({ format: 'der', type: 'spki' }).subarray(SPKI_ED25519_PREFIX.length);
  const pub = Buffer.from(raw).toString('base64');
  return { privatePem: privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(), publicKey: pub, keyId: keyIdOf(pub) };
}

/** A public key from its base64 raw form; throws on anything that is not 32 bytes of ed25519. */
export function publicKeyObject(publicKeyB64: string): KeyObject {
  const raw = Buffer.from(publicKeyB64.trim(), 'base64');
  if (raw.length !== 32 || raw.toString('base64') !== publicKeyB64.trim()) throw new Error('not an ed25519 public key (32 bytes, base64)');
  return createPublicKey({ key: Buffer.concat([SPKI_ED25519_PREFIX, raw]), format: 'der', type: 'spki' });
}

export function publicKeyOfPrivate(privatePem: string): string {
  const raw = createPublicKey(createPrivateKey(privatePem)).export({ format: 'der', type: 'spki' }).subarray(SPKI_ED25519_PREFIX.length);
  return Buffer.from(raw).toString('base64');
}

/** The signature of `manifest` (as it is, release metadata included) by `privatePem`. */
export function signManifest(manifest: Manifest, privatePem: string): BundleSignature {
  const key = createPrivateKey(privatePem);
  if (key.asymmetricKeyType !== 'ed25519') throw new Error(`signing key is ${key.asymmetricKeyType}, not ed25519`);
  const value = sign(null, Buffer.from(canonicalManifest(manifest), 'utf8'), key).toString('base64');
  return { alg: 'ed25519', key_id: keyIdOf(publicKeyOfPrivate(privatePem)), value };
}

export const signaturesOf = (m: Manifest): BundleSignature[] => (m.signature === null ? [] : Array.isArray(m.signature) ? m.signature : [m.signature]);

/** The ids of the trusted keys whose valid signatures the manifest carries (each key counted once). */
export function validSignatures(manifest: Manifest, trusted: ReadonlyMap<string, KeyObject>): string[] {
  const text = Buffer.from(canonicalManifest(manifest), 'utf8');
  const ok = new Set<string>();
  for (const s of signaturesOf(manifest)) {
    const key = trusted.get(s.key_id);
    if (key && verify(null, text, key, Buffer.from(s.value, 'base64'))) ok.add(s.key_id);
  }
  return [...ok];
}
