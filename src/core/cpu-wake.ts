// Keeping the CPUs awake while a real-time loop runs. A sleeping control thread is woken by a
// timer interrupt; if its CPU was idle, the wake-up first has to leave the idle state. On bare
// metal with a cpuidle driver (Jetson, laptops) deep C-states cost tens to hundreds of µs, and
// PM QoS (/dev/cpu_dma_latency held at 0, as cyclictest does) keeps the driver out of them. In a
// virtual machine without a cpuidle driver the idle vCPU executes HLT, the hypervisor deschedules
// it, and the wake-up waits for the host: measured on the 2-vCPU dev VM, a SCHED_FIFO sleeper at
// 100 Hz woke 2-32 ms late ~1% of the time when idle and never over 0.3 ms with the CPUs busy.
// PM QoS cannot help there (no driver to ask), so the remedy is `idle=poll` done from user space:
// one SCHED_IDLE spinner per CPU. SCHED_IDLE threads run only when nothing else on that CPU is
// runnable and any wake-up preempts them at once, so they take no time from other work, but the
// vCPU never halts. The price is power: every CPU shows busy. Hence `auto`: on only in a VM
// without a cpuidle driver, and only while a real-time loop runs.
import { availableParallelism } from 'node:os';
import { readFileSync, openSync, writeSync, closeSync } from 'node:fs';
import { Worker } from 'node:worker_threads';

export const IDLE_POLL_MODES = ['auto', 'on', 'off'] as const;
export type IdlePollMode = (typeof IDLE_POLL_MODES)[number];
export const isIdlePollMode = (v: unknown): v is IdlePollMode => (IDLE_POLL_MODES as readonly unknown[]).includes(v);

export interface CpuWakeOptions {
  idlePoll: IdlePollMode;
  /** Hold /dev/cpu_dma_latency at this many µs while running (0 = shallowest idle state); null leaves it. */
  dmaLatencyUs: number | null;
  /** Spinner threads; default one per CPU. */
  spinners?: number;
  /** Injected for tests: what the machine looks like, and where PM QoS lives. */
  machine?: IdleMachine;
  dmaLatencyPath?: string;
}

export interface IdleMachine {
  /** /sys/devices/system/cpu/cpuidle/current_driver, or null when absent. 'none' = plain HLT/WFI idle. */
  cpuidleDriver: string | null;
  /** Running under a hypervisor (x86 'hypervisor' cpu flag or /sys/hypervisor/type). */
  virtualized: boolean;
}

export interface CpuWakeReport {
  idle_poll: { mode: IdlePollMode; active: boolean; spinners: number; reason: string; error?: string };
  dma_latency: { requested_us: number | null; held: boolean; error?: string };
  machine: IdleMachine;
}

const readText = (path: string): string | null => {
  try { return readFileSync(path, 'utf8').trim(); } catch { return null; }
};

export function probeIdleMachine(): IdleMachine {
  const cpuinfo = readText('/proc/cpuinfo') ?? '';
  const virtualized = /^flags\s*:.*\bhypervisor\b/m.test(cpuinfo) || readText('/sys/hypervisor/type') !== null;
  return { cpuidleDriver: readText('/sys/devices/system/cpu/cpuidle/current_driver'), virtualized };
}

/** Whether to spin, and why (the reason goes into every report). */
export function decideIdlePoll(mode: IdlePollMode, m: IdleMachine): { spin: boolean; reason: string } {
  if (mode === 'off') return { spin: false, reason: 'off' };
  if (mode === 'on') return { spin: true, reason: 'on' };
  const noDriver = m.cpuidleDriver === null || m.cpuidleDriver === 'none';
  if (m.virtualized && noDriver) return { spin: true, reason: 'auto: virtual machine without a cpuidle driver (idle vCPUs halt and wake late)' };
  return { spin: false, reason: m.virtualized ? `auto: cpuidle driver '${m.cpuidleDriver}' honours PM QoS` : 'auto: bare metal' };
}

export class CpuWake {
  private constructor(
    private readonly workers: Worker[],
    private readonly tids: number[],
    private readonly stopFlag: Int32Array,
    private dmaFd: number | null,
    readonly report: CpuWakeReport,
  ) {}

  static async start(o: CpuWakeOptions): Promise<CpuWake> {
    const machine = o.machine ?? probeIdleMachine();
    const decision = decideIdlePoll(o.idlePoll, machine);
    const report: CpuWakeReport = {
      idle_poll: { mode: o.idlePoll, active: false, spinners: 0, reason: decision.reason },
      dma_latency: { requested_us: o.dmaLatencyUs, held: false },
      machine,
    };
    let dmaFd: number | null = null;
    if (o.dmaLatencyUs !== null) {
      // The request lasts as long as the file stays open (kernel PM QoS semantics).
      try {
        dmaFd = openSync(o.dmaLatencyPath ?? '/dev/cpu_dma_latency', 'w');
        const v = Buffer.alloc(4);
        v.writeInt32LE(o.dmaLatencyUs);
        writeSync(dmaFd, v);
        report.dma_latency.held = true;
      } catch (err) {
        if (dmaFd !== null) closeSync(dmaFd);
        dmaFd = null;
        report.dma_latency.error = (err as Error).message;
      }
    }
    const stopFlag = new Int32Array(new SharedArrayBuffer(4));
    const workers: Worker[] = [];
    const tids: number[] = [];
    if (decision.spin) {
      const n = o.spinners ?? availableParallelism();
      const started = await Promise.all(Array.from({ length: n }, () => startSpinner(stopFlag)));
      for (const s of started) if (s.worker) { workers.push(s.worker); tids.push(s.tid!); }
      const refused = started.find((s) => s.error);
      if (refused) {
        // All or nothing: a partial set would leave some CPUs halting anyway.
        Atomics.store(stopFlag, 0, 1);
        await Promise.all(workers.splice(0).map((w) => w.terminate()));
        tids.length = 0;
        report.idle_poll.error = refused.error!;
      } else {
        report.idle_poll.active = true;
        report.idle_poll.spinners = workers.length;
      }
    }
    return new CpuWake(workers, tids, stopFlag, dmaFd, report);
  }

  /** OS thread ids of the running spinners. */
  get spinnerTids(): readonly number[] { return this.tids; }

  /** Stops the spinners and releases the PM QoS request; `report` keeps describing the run. */
  async stop(): Promise<void> {
    Atomics.store(this.stopFlag, 0, 1);
    await Promise.all(this.workers.splice(0).map((w) => w.terminate()));
    this.tids.length = 0;
    if (this.dmaFd !== null) { closeSync(this.dmaFd); this.dmaFd = null; }
  }
}

interface SpinnerStart { worker?: Worker; tid?: number; error?: string }

function startSpinner(stopFlag: Int32Array): Promise<SpinnerStart> {
  const worker = new Worker(new URL('./idle-spinner.js', import.meta.url), { workerData: { stopFlag } });
  worker.unref(); // a spinner never keeps the process alive, even if stop() is never reached
  return new Promise((resolve) => {
    worker.once('message', (m: { ok: boolean; tid?: number; error?: string }) => {
      if (m.ok) resolve({ worker, tid: m.tid! });
      else resolve({ error: m.error ?? 'spinner refused' });
    });
    worker.once('error', (err) => resolve({ error: err.message }));
  });
}
