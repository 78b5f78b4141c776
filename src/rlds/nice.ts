// Recording is second to control (ARCHITECTURE.md "Scheduling"): the recorder's threads run at a
// lower CPU priority so the control thread wins whenever cores are short. Linux nice is per thread.
import { readdirSync, readFileSync } from 'node:fs';
import { setPriority } from 'node:os';
import { threadId } from '../core/index.js';

const linux = process.platform === 'linux';

/** Lowers the calling thread's priority. Best effort: without permission it stays as it is. */
export function renice(nice: number): void {
  if (nice <= 0 || !linux) return;
  try {
    const tid = threadId();
    if (tid !== null) setPriority(tid, nice);
  } catch { /* not permitted or no procfs */ }
}

const reniced = new Set<number>();

/**
 * Lowers the priority of libvips' pixel threads (sharp's encoders; nothing else in vlad uses
 * libvips). They appear lazily, so this is called again from time to time.
 */
export function reniceThreadsNamed(comm: string, nice: number): void {
  if (nice <= 0 || !linux) return;
  try {
    for (const t of readdirSync('/proc/self/task')) {
      const tid = Number(t);
      if (reniced.has(tid)) continue;
      try {
        if (readFileSync(`/proc/self/task/${t}/comm`, 'utf8').trim() === comm) { setPriority(tid, nice); reniced.add(tid); }
      } catch { /* thread gone */ }
    }
  } catch { /* no procfs */ }
}
