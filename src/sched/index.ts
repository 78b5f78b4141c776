// Compute scheduler for the daemon (p-queue): inference, recording and training ask here before
// they use the machine. Control inference runs first, recording next, training last. Training
// comes as many small steps, each its own queued task, so a control request waits for at most the
// one training step already running; a step can also watch `signal` and return early.
import PQueue from 'p-queue';

// serving: peers' policy requests (GR00T / openpi clients): after the robot's own control loop.
// background: a shadow model's warm-up before an over-the-air swap (after live work, before training).
export const PRIORITY = { control: 30, serving: 25, recording: 20, background: 15, training: 10 } as const;
export type WorkClass = keyof typeof PRIORITY;

export interface TrainingStepContext {
  /** Aborted as soon as control work is waiting; a long step should check it and return. */
  readonly signal: AbortSignal;
  readonly step: number;
}

export interface TrainingRunResult {
  steps: number;
  /** How many times a step boundary let waiting higher-priority work go first. */
  yielded: number;
  stoppedBy: 'done' | 'maxSteps' | 'abort';
}

export class ComputeScheduler {
  private readonly queue: PQueue;
  private controlWaiting = 0;
  private stepAbort = new AbortController();
  private readonly counts: Record<WorkClass, number> = { control: 0, serving: 0, recording: 0, background: 0, training: 0 };

  /** concurrency: how many tasks may use the machine at once (1 on a 2-core robot computer). */
  constructor(concurrency = 1) {
    this.queue = new PQueue({ concurrency });
  }

  get pending(): number { return this.queue.size + this.queue.pending; }
  get completed(): Readonly<Record<WorkClass, number>> { return this.counts; }

  run<T>(cls: WorkClass, work: () => Promise<T> | T): Promise<T> {
    if (cls === 'control') {
      this.controlWaiting++;
      this.stepAbort.abort(); // tell a running training step to wrap up
    }
    return this.queue.add(async () => {
      if (cls === 'control') this.controlWaiting--;
      try {
        return await work();
      } finally {
        this.counts[cls]++;
      }
    }, { priority: PRIORITY[cls] }) as Promise<T>;
  }

  /** ComputeGate for the control loop. */
  control<T>(work: () => Promise<T>): Promise<T> { return this.run('control', work); }
  recording<T>(work: () => Promise<T> | T): Promise<T> { return this.run('recording', work); }
  serving<T>(work: () => Promise<T> | T): Promise<T> { return this.run('serving', work); }
  background<T>(work: () => Promise<T> | T): Promise<T> { return this.run('background', work); }

  /**
   * Runs training as small steps at the lowest priority; `step` returns false when training is done.
   * Between steps everything of higher priority that is waiting runs first.
   */
  async runTraining(step: (ctx: TrainingStepContext) => Promise<boolean> | boolean, opts: { maxSteps?: number; signal?: AbortSignal } = {}): Promise<TrainingRunResult> {
    const maxSteps = opts.maxSteps ?? Number.POSITIVE_INFINITY;
    let steps = 0, yielded = 0;
    for (;;) {
      if (opts.signal?.aborted) return { steps, yielded, stoppedBy: 'abort' };
      if (steps >= maxSteps) return { steps, yielded, stoppedBy: 'maxSteps' };
      if (this.queue.size > 0) yielded++;
      const more = await this.run('training', () => {
        if (this.stepAbort.signal.aborted && this.controlWaiting === 0) this.stepAbort = new AbortController();
        return step({ signal: this.stepAbort.signal, step: steps });
      });
      steps++;
      if (!more) return { steps, yielded, stoppedBy: 'done' };
    }
  }

  onIdle(): Promise<void> { return this.queue.onIdle(); }
}
