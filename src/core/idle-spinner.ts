// One CPU-wake spinner (see cpu-wake.ts): lowers itself to SCHED_IDLE, checks that the kernel
// applied it, and only then spins until the shared stop flag is set. A spinner that could not
// drop its priority never spins: at normal priority it would take a CPU from real work.
import { parentPort, workerData } from 'node:worker_threads';
import { readFileSync, readlinkSync } from 'node:fs';
import { spawnSync } from 'node:child_process';

const SCHED_IDLE = 5;

/** Scheduling policy of the calling thread: field 41 of /proc/thread-self/stat. */
function schedPolicy(): number {
  const stat = readFileSync('/proc/thread-self/stat', 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[41 - 3]);
}

const stop = (workerData as { stopFlag: Int32Array }).stopFlag;
let tid = NaN;
let error: string | undefined;
try {
  tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
  const r = spawnSync('chrt', ['-i', '-p', '0', String(tid)], { encoding: 'utf8' });
  if (r.status !== 0) error = `SCHED_IDLE: ${(r.stderr || r.error?.message || 'chrt failed').trim()}`;
  else if (schedPolicy() !== SCHED_IDLE) error = `SCHED_IDLE: policy is ${schedPolicy()} after chrt`;
} catch (err) {
  error = `SCHED_IDLE: ${(err as Error).message}`;
}
if (error) {
  parentPort!.postMessage({ ok: false, error });
} else {
  parentPort!.postMessage({ ok: true, tid });
  let sink = 0;
  while (Atomics.load(stop, 0) === 0) for (let i = 0; i < 20_000; i++) sink = (sink + i) | 0;
  if (sink === 42) parentPort!.postMessage({ sink }); // keeps the loop from being optimized away
}
