// One CPU-wake spinner (see cpu-wake.ts): lowers itself to SCHED_IDLE, checks that the kernel
// applied it, and only then spins until the shared stop flag is set. A spinner that could not
// drop its priority never spins: at normal priority it would take a CPU from real work.
import { parentPort, workerData } from 'node:worker_threads';
import { idleThreadPriority } from './priority.js';

const stop = (workerData as { stopFlag: Int32Array }).stopFlag;
let tid: number | undefined;
let error: string | undefined;
try {
  tid = idleThreadPriority();
} catch (err) {
  error = (err as Error).message;
}
if (error !== undefined) {
  parentPort!.postMessage({ ok: false, error });
} else {
  parentPort!.postMessage({ ok: true, tid });
  let sink = 0;
  while (Atomics.load(stop, 0) === 0) for (let i = 0; i < 20_000; i++) sink = (sink + i) | 0;
  if (sink === 42) parentPort!.postMessage({ sink }); // keeps the loop from being optimized away
}
