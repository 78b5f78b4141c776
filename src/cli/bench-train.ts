// `vlad bench train`: the trainer worker on a recorded dataset, its steps run through the
// scheduler's training lane as the daemon runs them. Figures: ms per unit of work (cache unit,
// train step at batch 8), train steps/s, how long a control request waits for the lane
// (preemption latency: at most the one unit already running), the main thread's event-loop lag
// while the worker trains, memory. Printed, never asserted.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LoopLagProbe, shippedBundlePath, summarize } from '../core/index.js';
import { ComputeScheduler } from '../sched/index.js';
import { Trainer, type StepResult } from '../train/index.js';

export interface BenchTrainOptions { data: string; bundle?: string | undefined; steps: number; stride: number; idlePriority: boolean; progress: (line: string) => void }

export async function benchTrain(o: BenchTrainOptions) {
  const dir = await mkdtemp(join(tmpdir(), 'vlad-bench-train-'));
  const t0 = performance.now();
  const trainer = await Trainer.open({
    bundleDir: o.bundle ?? shippedBundlePath(), stateDir: dir, datasetDirs: [o.data], idlePriority: o.idlePriority,
    config: { max_steps_per_pass: o.steps, window_stride: o.stride, holdout_every: 0, checkpoint_every: 10 },
  }, o.progress);
  const openMs = performance.now() - t0;
  const ms: Record<'scan' | 'start' | 'cache' | 'train', number[]> = { scan: [], start: [], cache: [], train: [] };
  const sched = new ComputeScheduler(1);
  const probe = new LoopLagProbe(1);
  const waits: number[] = [];
  let first = NaN, last = NaN, trainWallMs = 0;
  // A control request every 7 ms (a 100+ Hz loop's inference asks), timed from asking to running.
  const asker = setInterval(() => { const asked = performance.now(); void sched.control(async () => { waits.push(performance.now() - asked); }); }, 7);
  try {
    probe.start();
    const run = await sched.runTraining(async () => {
      const s = performance.now();
      const r: StepResult = await trainer.step();
      const took = performance.now() - s;
      if (r.kind === 'idle') throw new Error(`${o.data}: nothing to train on (${r.reason})`);
      ms[r.kind].push(took);
      if (r.kind === 'train') { trainWallMs += took; if (r.step === 1) first = r.loss!; last = r.loss!; }
      if (r.kind === 'train' && r.step % 50 === 0) o.progress(`bench train: step ${r.step}/${r.of} loss ${r.loss!.toFixed(4)}`);
      return !r.candidate;
    });
    o.progress(`bench train: ${run.steps} units, ${run.yielded} times control work went first`);
  } finally {
    clearInterval(asker);
    probe.stop();
    await sched.onIdle();
    await trainer.close();
    await rm(dir, { recursive: true, force: true });
  }
  const mem = process.memoryUsage();
  return {
    bundle: o.bundle ?? shippedBundlePath(), data: o.data, batch: 8, steps: ms.train.length, idle_priority: o.idlePriority,
    open_ms: Number(openMs.toFixed(1)),
    scan_unit_ms: summarize(ms.scan, 2),
    plan_ms: Number((ms.start[0] ?? NaN).toFixed(1)),
    cache_unit_ms: summarize(ms.cache, 2),
    cache_ms_total: Number(ms.cache.reduce((a, b) => a + b, 0).toFixed(0)),
    train_step_ms: summarize(ms.train, 2),
    train_steps_per_s: Number((ms.train.length / (trainWallMs / 1000)).toFixed(1)),
    loss: { first, last },
    control_wait_ms: summarize(waits, 2),
    main_thread_lag_ms: summarize(probe.samples(), 3),
    rss_mb: Math.round(mem.rss / 2 ** 20),
  };
}
