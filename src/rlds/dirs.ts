// The recorder's directories, made one level at a time: a refused open then knows exactly what it
// created (and removes that, never what was there before), and each failure names the directory
// that refused. fs.mkdir's recursive mode does neither: under a read-only parent it reports ENOENT
// for the path, and where mkdir says ENOENT below an existing parent (/proc) it never returns.
import { mkdir, rm, stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';

/** "cannot write to DIR (EROFS: read-only file system)": the directory and the system's reason. */
export function cannotWrite(dir: string, e: unknown): Error {
  const err = e as NodeJS.ErrnoException;
  // Node's messages read "EROFS: read-only file system, mkdir '/path'"; the path is said already.
  const reason = /^([A-Z0-9]+): ([^,]+)/.exec(err?.message ?? '');
  const text = reason ? `${reason[1]}: ${reason[2]}` : err?.code ? `${err.code}: ${err.message}` : String(err?.message ?? e);
  return new Error(`cannot write to ${dir} (${text})`, { cause: e });
}

async function isDirectory(p: string): Promise<boolean> {
  return stat(p).then((s) => s.isDirectory(), () => false);
}

/** Creates `dir` and its missing parents; returns the ones it created, outermost first. */
export async function makeDirs(dir: string): Promise<string[]> {
  const missing: string[] = [];
  for (let d = resolve(dir); ; d = dirname(d)) {
    const s = await stat(d).catch((e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOENT' || e.code === 'ENOTDIR') return undefined; // a parent to find first
      throw cannotWrite(d, e);
    });
    if (s) {
      if (!s.isDirectory()) throw new Error(`cannot write to ${dir} (ENOTDIR: ${d} is not a directory)`);
      break;
    }
    missing.unshift(d);
    if (dirname(d) === d) break;
  }
  const created: string[] = [];
  try {
    for (const d of missing) {
      try {
        await mkdir(d);
        created.push(d);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw cannotWrite(dirname(d), e);
        // Made meanwhile by someone else (fine, and not ours), or a file or dangling link.
        if (!(await isDirectory(d))) throw new Error(`cannot write to ${d} (EEXIST: it exists and is not a directory)`);
      }
    }
  } catch (e) {
    await removeCreated(created);
    throw e;
  }
  return created;
}

/** Removes paths a refused open created, innermost first. Only ever given paths it created. */
export async function removeCreated(paths: readonly string[]): Promise<void> {
  for (const p of [...paths].reverse()) await rm(p, { recursive: true, force: true }).catch(() => undefined);
}
