// Real-time habits for the control thread (ros2_control and openpilot run theirs SCHED_FIFO):
// raise the calling thread's CPU priority so that inference, recording, the simulator and
// anything else on the machine wait for the control tick, not the other way round. Best effort:
// without CAP_SYS_NICE the thread stays as it is and the result says so. SCHED_FIFO is set with
// SCHED_RESET_ON_FORK: a thread the control thread creates later (a shadow model's worker during
// an over-the-air swap, ORT's pool threads, a recorder) starts at SCHED_OTHER, nice 0. Without it
// such a thread inherited FIFO 50, the control thread's own priority, which FIFO never preempts:
// `bench swap` measured the control thread runnable but waiting 5-30 ms while one ran.
import { readFileSync, readlinkSync } from 'node:fs';
import { getPriority, setPriority } from 'node:os';
import { spawnSync } from 'node:child_process';

export interface PriorityResult {
  tid: number | null;
  nice: number | null;
  /** SCHED_FIFO priority when granted. */
  fifo: number | null;
  error?: string;
}

/** The calling thread's kernel id (Linux), or null. */
export function threadId(): number | null {
  try {
    const tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
    return Number.isInteger(tid) ? tid : null;
  } catch { return null; }
}

/** Back to the default policy (SCHED_OTHER, nice 0) for the calling thread. */
export function resetThreadPriority(): void {
  const tid = threadId();
  if (tid === null || process.platform !== 'linux') return;
  spawnSync('chrt', ['-o', '-p', '0', String(tid)]);
  try { setPriority(tid, 0); } catch { /* unprivileged: lowering back may be refused; harmless */ }
}

export function raiseThreadPriority(opts: { nice?: number; fifo?: number } = {}): PriorityResult {
  const tid = threadId();
  if (tid === null || process.platform !== 'linux') return { tid, nice: null, fifo: null, error: 'not Linux' };
  const out: PriorityResult = { tid, nice: null, fifo: null };
  try {
    setPriority(tid, opts.nice ?? -10);
    out.nice = getPriority(tid);
  } catch (err) {
    out.error = `nice: ${(err as Error).message}`;
  }
  if (opts.fifo !== undefined && opts.fifo > 0) {
    const r = spawnSync('chrt', ['--fifo', '--reset-on-fork', '-p', String(opts.fifo), String(tid)], { encoding: 'utf8' });
    if (r.status === 0) out.fifo = opts.fifo;
    else out.error = `${out.error ? `${out.error}; ` : ''}SCHED_FIFO: ${(r.stderr || r.error?.message || 'chrt failed').trim()}`;
  }
  return out;
}

export const SCHED_IDLE = 5;

/** Scheduling policy of a thread of this process (field 41 of its stat), or null if it is gone. */
export function schedPolicy(tid: number): number | null {
  try {
    const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[41 - 3]);
  } catch { return null; }
}

/**
 * Moves the calling thread to SCHED_IDLE (it runs only when nothing else wants the CPU) and
 * confirms it with the kernel. Returns the thread id, or throws saying why not.
 */
export function idleThreadPriority(): number {
  const tid = threadId();
  if (tid === null || process.platform !== 'linux') throw new Error('SCHED_IDLE: not Linux');
  const r = spawnSync('chrt', ['-i', '-p', '0', String(tid)], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`SCHED_IDLE: ${(r.stderr || r.error?.message || 'chrt failed').trim()}`);
  const policy = schedPolicy(tid);
  if (policy !== SCHED_IDLE) throw new Error(`SCHED_IDLE: policy is ${policy} after chrt`);
  return tid;
}
