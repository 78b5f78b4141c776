// The robot's trust anchor (TUF's root, reduced to what one robot needs): the ed25519 keys it
// trusts, how many of them must have signed, and the checks on the signed release metadata
// (expiry, hw-profile). Keys come from params (`ota.trusted_keys`) or `vlad run --trust`.
import type { KeyObject } from 'node:crypto';
import { keyIdOf, publicKeyObject, signaturesOf, validSignatures, type Manifest } from '../bundle/index.js';
import { OtaRefusal } from './errors.js';
import { bundleId } from './state.js';

export interface TrustConfig {
  /** Raw ed25519 public keys, base64 (what `vlad bundle keygen` prints). */
  keys: readonly string[];
  /** How many distinct trusted keys must have signed (default 1). */
  threshold: number;
  /** This robot's hw-profile name: the bundle must be built for it. */
  hwProfile: string;
}

export class TrustAnchor {
  readonly keys: ReadonlyMap<string, KeyObject>;
  readonly threshold: number;

  constructor(readonly config: TrustConfig) {
    const keys = new Map<string, KeyObject>();
    config.keys.forEach((k, i) => {
      try {
        keys.set(keyIdOf(k.trim()), publicKeyObject(k));
      } catch (err) {
        throw new Error(`ota.trusted_keys[${i}]: ${(err as Error).message}`);
      }
    });
    if (config.threshold < 1 || !Number.isInteger(config.threshold)) throw new Error(`ota.threshold: ${config.threshold} is not a positive integer`);
    if (keys.size > 0 && config.threshold > keys.size) throw new Error(`ota.threshold: ${config.threshold} signatures required but only ${keys.size} distinct keys trusted`);
    this.keys = keys;
    this.threshold = config.threshold;
  }

  get keyIds(): string[] { return [...this.keys.keys()]; }

  /**
   * Throws OtaRefusal unless the manifest is signed by `threshold` trusted keys, carries release
   * metadata, has not expired at `nowMs`, and is built for this robot's hw-profile.
   * Returns the ids of the keys whose signatures verified.
   */
  check(m: Manifest, nowMs: number): string[] {
    const id = bundleId(m);
    if (this.keys.size === 0) throw new OtaRefusal('unsigned', `${id}: this robot trusts no signing key (set ota.trusted_keys or vlad run --trust PUBKEY)`);
    const sigs = signaturesOf(m);
    if (sigs.length === 0 || !m.release) throw new OtaRefusal('unsigned', `${id} is not signed (vlad bundle sign ${m.name} --key KEY)`);
    const valid = validSignatures(m, this.keys);
    if (valid.length === 0) {
      const known = sigs.some((s) => this.keys.has(s.key_id));
      throw new OtaRefusal('bad_signature', known
        ? `${id}: the signature by key ${sigs.filter((s) => this.keys.has(s.key_id)).map((s) => s.key_id).join(', ')} does not verify (the manifest changed after signing, or the signature is corrupt)`
        : `${id} is signed by key ${sigs.map((s) => s.key_id).join(', ')}, which this robot does not trust (trusted: ${this.keyIds.join(', ')})`);
    }
    if (valid.length < this.threshold) throw new OtaRefusal('threshold', `${id}: ${valid.length} valid trusted signature(s), ${this.threshold} required (ota.threshold)`);
    const expires = Date.parse(m.release.expires);
    if (!(expires > nowMs)) throw new OtaRefusal('expired', `${id} expired at ${m.release.expires} (now ${new Date(nowMs).toISOString()})`);
    if (!m.release.hw_profiles.includes(this.config.hwProfile)) throw new OtaRefusal('hw_profile', `${id} is built for hw-profiles ${m.release.hw_profiles.join(', ')}, this robot runs '${this.config.hwProfile}'`);
    return valid;
  }
}
