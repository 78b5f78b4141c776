// Staged uploads: a bundle arrives as its manifest, then its files in chunks at explicit offsets.
// The signature is checked before a byte of a file is accepted; every file's size is bounded by
// its signed length and hashed as it arrives; an upload survives a dropped connection (and a
// restart): begin() with the same manifest answers how much of each file is already there.
import { createHash, type Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseManifest, verifyHashes, type Manifest } from '../bundle/index.js';
import { OtaRefusal } from './errors.js';
import { bundleId } from './state.js';

export interface UploadLimits {
  /** Largest bundle accepted, bytes (all files). */
  maxBundleBytes: number;
  /** Largest chunk accepted, bytes. */
  maxChunkBytes: number;
}

export interface UploadFile { name: string; bytes: number; have: number; done: boolean }

export interface UploadStatus { upload_id: string; bundle: string; files: UploadFile[]; bytes: number; have: number }

interface Open { manifest: Manifest; dir: string; hashes: Map<string, { hash: Hash; at: number }> }

const UPLOAD_ID_RE = /^[0-9a-f]{16}$/;

export class UploadStaging {
  private readonly open = new Map<string, Open>();

  constructor(readonly dir: string, readonly limits: UploadLimits) {}

  /** Validates and admits a manifest (the caller has checked trust); resumes an upload of the same manifest. */
  async begin(manifestText: string, admit: (m: Manifest) => void): Promise<UploadStatus> {
    const manifest = parseManifest(manifestText);
    admit(manifest);
    if (!manifest.release) throw new OtaRefusal('unsigned', `${bundleId(manifest)} carries no signed release metadata (file lengths)`);
    const total = Object.values(manifest.release.file_bytes).reduce((a, b) => a + b, 0);
    if (total > this.limits.maxBundleBytes) throw new OtaRefusal('too_large', `${bundleId(manifest)} is ${total} bytes, this robot accepts at most ${this.limits.maxBundleBytes} (ota.max_bundle_mb)`);
    const id = createHash('sha256').update(manifestText).digest('hex').slice(0, 16);
    const dir = join(this.dir, id);
    await mkdir(dir, { recursive: true, mode: 0o700 });
    await writeFile(join(dir, 'manifest.json'), manifestText, { mode: 0o644 });
    if (!this.open.has(id)) this.open.set(id, { manifest, dir, hashes: new Map() });
    return this.status(id);
  }

  async status(id: string): Promise<UploadStatus> {
    const u = this.get(id);
    const files: UploadFile[] = [];
    for (const [name, bytes] of Object.entries(u.manifest.release!.file_bytes)) {
      const have = await stat(join(u.dir, name)).then((s) => s.size, () => 0);
      files.push({ name, bytes, have, done: have === bytes });
    }
    return { upload_id: id, bundle: bundleId(u.manifest), files, bytes: files.reduce((a, f) => a + f.bytes, 0), have: files.reduce((a, f) => a + f.have, 0) };
  }

  /**
   * Appends `data` to `file` at `offset`, which must be where the file ends now (a resend of an
   * acknowledged chunk, or a gap, is refused with the offset to continue from). A completed file
   * whose sha256 differs from the manifest's is deleted and refused.
   */
  async chunk(id: string, file: string, offset: number, data: Uint8Array): Promise<{ have: number; done: boolean }> {
    const u = this.get(id);
    const bytes = u.manifest.release!.file_bytes[file];
    if (bytes === undefined) throw new OtaRefusal('manifest', `upload ${id}: '${file}' is not a file of ${bundleId(u.manifest)}`);
    if (data.length > this.limits.maxChunkBytes) throw new OtaRefusal('too_large', `chunk of ${data.length} bytes, at most ${this.limits.maxChunkBytes}`);
    const path = join(u.dir, file);
    const have = await stat(path).then((s) => s.size, () => 0);
    if (offset !== have) throw new OtaRefusal('offset', `upload ${id}: ${file} has ${have} bytes, the chunk starts at ${offset}: continue from ${have}`, { have });
    if (have + data.length > bytes) throw new OtaRefusal('length', `upload ${id}: ${file} would be ${have + data.length} bytes, the signed length is ${bytes}`);
    const h = await this.hasher(u, file, path, have);
    const fh = await open(path, 'a', 0o644);
    try { await fh.write(data); } finally { await fh.close(); }
    h.hash.update(data);
    h.at = have + data.length;
    const done = h.at === bytes;
    if (done) {
      const got = h.hash.digest('hex');
      u.hashes.delete(file);
      const want = u.manifest.files[file]!;
      if (got !== want) {
        await rm(path, { force: true });
        throw new OtaRefusal('hash', `upload ${id}: ${file} hashes to ${got}, the signed manifest says ${want}: the file was discarded, send it again`);
      }
    }
    return { have: h.at, done };
  }

  /** Checks every file once more from disk and hands over the staged directory. */
  async finish(id: string): Promise<{ dir: string; manifest: Manifest }> {
    const u = this.get(id);
    const st = await this.status(id);
    const missing = st.files.filter((f) => !f.done);
    if (missing.length) throw new OtaRefusal('incomplete', `upload ${id}: ${missing.map((f) => `${f.name} ${f.have}/${f.bytes}`).join(', ')} still to send`);
    try {
      await verifyHashes(u.dir, u.manifest);
    } catch (err) {
      throw new OtaRefusal('hash', `upload ${id}: ${(err as Error).message}`);
    }
    this.open.delete(id);
    return { dir: u.dir, manifest: u.manifest };
  }

  async abort(id: string): Promise<void> {
    this.open.delete(id);
    if (UPLOAD_ID_RE.test(id)) await rm(join(this.dir, id), { recursive: true, force: true });
  }

  /** Uploads on disk (from before a restart too): ids the next begin() with their manifest resumes. */
  async pending(): Promise<string[]> {
    return (await readdir(this.dir).catch(() => [] as string[])).filter((f) => UPLOAD_ID_RE.test(f));
  }

  private get(id: string): Open {
    const u = this.open.get(id);
    if (!u) throw new OtaRefusal('unknown_upload', `no upload '${id}' in progress (begin it again with the manifest: what was sent is kept)`);
    return u;
  }

  /** The running hash of a file; after a restart or a failure, re-reads what is on disk once. */
  private async hasher(u: Open, file: string, path: string, have: number): Promise<{ hash: Hash; at: number }> {
    const h = u.hashes.get(file);
    if (h && h.at === have) return h;
    const fresh = { hash: createHash('sha256'), at: 0 };
    if (have > 0) {
      for await (const part of createReadStream(path)) fresh.hash.update(part as Buffer);
      fresh.at = have;
    }
    u.hashes.set(file, fresh);
    return fresh;
  }
}
