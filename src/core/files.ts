// Crash-safe file replacement, shared by everything that keeps state on disk (RLDS metadata, the
// OTA store's state, signed manifests): after a power cut readers see the old file or the new one.
import { open, readFile, rename, rm } from 'node:fs/promises';
import { dirname } from 'node:path';

/** The file's bytes, or undefined when it does not exist (a store's first start); other errors throw. */
export async function readFileIfExists(file: string): Promise<Buffer | undefined> {
  try {
    return await readFile(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

export async function fsyncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try { await fh.sync(); } finally { await fh.close(); }
}

/** write-temp + fsync + rename + fsync(dir). `mode` applies from the temp file's creation (e.g. 0o600 for state). */
export async function writeFileAtomic(file: string, data: string | Uint8Array, mode = 0o644): Promise<void> {
  const tmp = `${file}.tmp-${process.pid}`;
  const fh = await open(tmp, 'w', mode);
  try {
    try {
      await fh.writeFile(data);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, file);
  } catch (e) {
    await rm(tmp, { force: true }).catch(() => undefined);
    throw e;
  }
  await fsyncDir(dirname(file));
}
