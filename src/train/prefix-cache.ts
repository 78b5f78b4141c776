// The frozen prefix's outputs for recorded steps, computed once and kept on disk (knowledge
// insulation: training never changes the prefix, so its outputs for a step never change either).
// Keyed by the bundle's identity (name@version + prefix.onnx hash): a folder per key, and folders
// of any other key are removed when the cache opens. A file holds one segment of an episode's
// window starts; its header names the bundle, episode and steps, and is checked before use.
import { closeSync, openSync, readSync } from 'node:fs';
import { mkdir, readdir, rm, stat } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import type { Manifest } from '../bundle/index.js';
import { writeFileAtomic } from '../core/index.js';
import type { EpisodeKey } from './episodes.js';

/** The bundle identity the cache is keyed by. */
export function prefixIdentity(m: Manifest): string {
  const hash = m.files?.[m.graphs.prefix.file];
  if (!hash) throw new Error(`bundle ${m.name}@${m.version}: the manifest lists no hash for ${m.graphs.prefix.file}, so cached prefix outputs could not be tied to it`);
  return `${m.name}@${m.version}+${hash.slice(0, 16)}`;
}

interface Header { identity: string; episodeId: string; numSteps: number; steps: number[] }

const safe = (s: string) => s.replace(/[^a-zA-Z0-9_.@+-]/g, '_');

export class PrefixCache {
  private readonly checked = new Set<string>();

  private constructor(readonly dir: string, readonly identity: string, readonly kvSize: number, readonly maskSize: number) {}

  static async open(root: string, identity: string, kvSize: number, maskSize: number): Promise<PrefixCache> {
    const dir = join(root, safe(identity));
    await mkdir(dir, { recursive: true });
    for (const other of await readdir(root)) {
      if (other !== safe(identity) && (await stat(join(root, other))).isDirectory()) await rm(join(root, other), { recursive: true, force: true });
    }
    return new PrefixCache(dir, identity, kvSize, maskSize);
  }

  file(ep: EpisodeKey, steps: readonly number[]): string {
    const h = createHash('sha256').update(`${ep.dataset}\n${ep.episodeId}\n${ep.numSteps}\n${steps.join(',')}`).digest('hex').slice(0, 20);
    return join(this.dir, `${safe(ep.episodeId)}-${h}.kv`);
  }

  async has(ep: EpisodeKey, steps: readonly number[]): Promise<boolean> {
    try {
      const s = await stat(this.file(ep, steps));
      return s.size > 4 + (this.kvSize + this.maskSize) * 4 * steps.length;
    } catch { return false; }
  }

  /** kv: steps.length x kvSize, mask: steps.length x maskSize (one prefix output per step). */
  async write(ep: EpisodeKey, steps: readonly number[], kv: Float32Array, mask: Float32Array): Promise<void> {
    const header = Buffer.from(JSON.stringify({ identity: this.identity, episodeId: ep.episodeId, numSteps: ep.numSteps, steps: [...steps] } satisfies Header));
    const pad = (4 - (header.length % 4)) % 4;
    const buf = Buffer.alloc(4 + header.length + pad + (kv.byteLength + mask.byteLength));
    buf.writeUInt32LE(header.length + pad, 0);
    header.copy(buf, 4);
    buf.fill(0x20, 4 + header.length, 4 + header.length + pad);
    Buffer.from(kv.buffer, kv.byteOffset, kv.byteLength).copy(buf, 4 + header.length + pad);
    Buffer.from(mask.buffer, mask.byteOffset, mask.byteLength).copy(buf, 4 + header.length + pad + kv.byteLength);
    await writeFileAtomic(this.file(ep, steps), buf);
  }

  /** Reads the prefix output of steps[pos] into kv (at kvOffset) and mask (at maskOffset). */
  read(ep: EpisodeKey, steps: readonly number[], pos: number, kv: Float32Array, kvOffset: number, mask: Float32Array, maskOffset: number): void {
    const file = this.file(ep, steps);
    const fd = openSync(file, 'r');
    try {
      const lenBuf = Buffer.alloc(4);
      readSync(fd, lenBuf, 0, 4, 0);
      const hlen = lenBuf.readUInt32LE(0);
      const base = 4 + hlen;
      if (!this.checked.has(file)) {
        const hb = Buffer.alloc(hlen);
        readSync(fd, hb, 0, hlen, 4);
        const h = JSON.parse(hb.toString('utf8')) as Header;
        if (h.identity !== this.identity || h.episodeId !== ep.episodeId || h.numSteps !== ep.numSteps || h.steps.join(',') !== steps.join(',')) {
          throw new Error(`${file}: cached prefix outputs are for ${h.identity} episode ${h.episodeId}, not ${this.identity} episode ${ep.episodeId}`);
        }
        this.checked.add(file);
      }
      const n = steps.length;
      readSync(fd, new Uint8Array(kv.buffer, kv.byteOffset + kvOffset * 4, this.kvSize * 4), 0, this.kvSize * 4, base + pos * this.kvSize * 4);
      readSync(fd, new Uint8Array(mask.buffer, mask.byteOffset + maskOffset * 4, this.maskSize * 4), 0, this.maskSize * 4, base + n * this.kvSize * 4 + pos * this.maskSize * 4);
    } finally {
      closeSync(fd);
    }
  }
}
