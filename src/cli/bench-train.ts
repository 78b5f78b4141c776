// `vlad bench train`: the trainer worker on a recorded dataset. Figures: ms per unit of work
// (cache segment, train step at batch 8), train steps/s, the main thread's event-loop lag while
// the worker trains (it should stay free), memory. Printed, never asserted.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LoopLagProbe, shippedBundlePath, summarize } from '../core/index.js';
import { Trainer } from '../train/index.js';

export interface BenchTrainOptions { data: string; bundle?: string | undefined; steps: number; stride: number; progress: (line: string) => void }

export async function benchTrain(o: BenchTrainOptions) {
  const dir = await mkdtemp(join(tmpdir(), 'vlad-bench-train-'));
  const t0 = performance.now();
  const trainer = await Trainer.open({
    bundleDir: o.bundle ?? shippedBundlePath(), stateDir: dir, datasetDirs: [o.data],
    config: { max_steps_per_pass: o.steps, window_stride: o.stride, holdout_every: 0, checkpoint_every: 10 },
  }, o.progress);
  const openMs = performance.now() - t0;
  const ms: Record<'start' | 'cache' | 'train', number[]> = { start: [], cache: [], train: [] };
  const probe = new LoopLagProbe(1);
  let first = NaN, last = NaN;
  let trainWallMs = 0;
  try {
    for (;;) {
      const s = performance.now();
      if (ms.train.length === 0 && ms.cache.length > 0) probe.start();
      const r = await trainer.step();
      const took = performance.now() - s;
      if (r.kind === 'idle') throw new Error(`${o.data}: nothing to train on (${r.reason})`);
      if (r.kind === 'start' || r.kind === 'cache' || r.kind === 'train') ms[r.kind].push(took);
      if (r.kind === 'train') { trainWallMs += took; if (r.step === 1) first = r.loss!; last = r.loss!; }
      if (r.kind === 'train' && r.step % 50 === 0) o.progress(`bench train: step ${r.step}/${r.of} loss ${r.loss!.toFixed(4)}`);
      if (r.candidate) break;
    }
  } finally {
    probe.stop();
    await trainer.close();
    await rm(dir, { recursive: true, force: true });
  }
  const mem = process.memoryUsage();
  return {
    bundle: o.bundle ?? shippedBundlePath(), data: o.data, batch: 8, steps: ms.train.length,
    open_ms: Number(openMs.toFixed(1)),
    plan_ms: Number((ms.start[0] ?? NaN).toFixed(1)),
    cache_unit_ms: summarize(ms.cache, 2),
    cache_ms_total: Number(ms.cache.reduce((a, b) => a + b, 0).toFixed(0)),
    train_step_ms: summarize(ms.train, 2),
    train_steps_per_s: Number((ms.train.length / (trainWallMs / 1000)).toFixed(1)),
    loss: { first, last },
    main_thread_lag_ms_while_training: summarize(probe.samples(), 3),
    rss_mb: Math.round(mem.rss / 2 ** 20),
  };
}
