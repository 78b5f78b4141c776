// `vlad bench train`: the trainer worker on a recorded dataset, its steps run through the
// scheduler's training lane as the daemon runs them. Figures: ms per unit of work (cache unit,
// train step at batch 8), train steps/s, how long a control request waits for the lane
// (preemption latency: at most the one unit already running), the main thread's event-loop lag
// while the worker trains, memory; the same train step in the toolchain's PyTorch (the ratio to
// beat); and the daemon's control loop holding the arm without and with a pass running, and
// episodes preempting the pass. Printed, never asserted.
import { spawnSync } from 'node:child_process';
import { cp, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { commandLogger, LoopLagProbe, packagePath, shippedBundlePath, summarize } from '../core/index.js';
import { Daemon, loadDaemonConfig } from '../daemon/index.js';
import { ComputeScheduler } from '../sched/index.js';
import { DEFAULT_TRAINING_CONFIG, Trainer, type StepResult } from '../train/index.js';
import { UsageError } from './args.js';

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

export interface BenchTrainLoopOptions { data: string; bundle?: string | undefined; rateHz: number; seconds: number; preemptions: number; progress: (line: string) => void }

/**
 * The daemon's own control loop while its trainer runs: a realtime daemon on the simulated arm
 * (learning on, its recorder on a copy of the dataset), holding the arm at `rateHz` with no
 * episode. Phase 1, `seconds` with learning paused; phase 2, `seconds` of a pass's train steps
 * (one long pass; its prefix caching comes first and is not in the figure); then `preemptions` episodes started while the pass runs,
 * each timed from the episode's start to the pass standing down (the daemon's own figure). The
 * loop's lateness and deadline misses per phase come from the daemon's tick listener.
 */
export async function benchTrainLoop(o: BenchTrainLoopOptions) {
  const work = await mkdtemp(join(tmpdir(), 'vlad-bench-train-loop-'));
  const name = basename(o.data);
  await cp(o.data, join(work, 'data', name), { recursive: true });
  const config = await loadDaemonConfig({ overrides: {
    robot: 'sim', mode: 'autonomous', sim: { clock: 'realtime', physics_dt: 0.004, camera_hz: 30 },
    record: { dir: join(work, 'data'), dataset: name },
    // One pass long enough to outlast the phase (it never reaches its gate here).
    training: { dir: join(work, 'learning'), idle_after_s: 0.2, max_steps_per_pass: 10_000_000 },
    ...(o.bundle ? { bundle: o.bundle } : {}),
  } });
  const daemon = new Daemon({ config, log: commandLogger(), rateHz: o.rateHz, learn: true });
  const status = () => daemon.learning.status();
  const late: number[] = [];
  let misses = 0;
  // Every wait has a bound: a pass that ends or a daemon that stalls fails the bench with its state.
  const waitFor = async (what: string, cond: () => boolean, ms = 60_000, pollMs = 10) => {
    const deadline = performance.now() + ms;
    while (!cond()) {
      if (performance.now() > deadline) throw new Error(`bench train: ${what} did not happen within ${ms / 1000} s (learning ${status().state}: ${status().reason})`);
      await sleep(pollMs);
    }
  };
  const phase = () => {
    const j = late.length ? summarize(late, 3) : null;
    const out = { ticks: late.length, lateness_ms: j && { p50: j.p50, p99: j.p99, max: j.max }, deadline_misses: misses };
    late.length = 0; misses = 0;
    return out;
  };
  try {
    await daemon.start();
    daemon.learning.pause();
    daemon.stats.tickListener = (lateS, m) => { late.push(lateS * 1e3); misses += m; };
    o.progress(`bench train: the daemon's ${o.rateHz} Hz loop holding the simulated arm, no episode: ${o.seconds} s with learning paused...`);
    await sleep(o.seconds * 1000);
    const idle = phase();
    daemon.learning.resume();
    // Measured once the pass trains (its prefix cache filled first): the steady state of a pass.
    await waitFor('the pass reaching its train steps', () => status().pass?.stage === 'train', 600_000, 20);
    phase();
    o.progress(`bench train: ${o.seconds} s with a training pass running...`);
    await sleep(o.seconds * 1000);
    const s = status();
    const training = { ...phase(), pass_at_end: s.pass && { stage: s.pass.stage, step: s.pass.step } };
    if (s.state !== 'training') throw new Error(`the pass stopped during the measurement: ${s.state} (${s.reason})`);
    o.progress(`bench train: ${o.preemptions} episodes started while the pass runs...`);
    const preempt: number[] = [];
    for (let k = 0; k < o.preemptions; k++) {
      await waitFor('training resuming after an episode', () => status().state === 'training');
      await sleep(200); // well inside the pass, at an arbitrary point of a unit
      const before = status().counts.preempted;
      await daemon.startEpisode({ task: 'touch', seed: 9000 + k });
      await waitFor('the pass standing down for the episode', () => status().counts.preempted !== before, 60_000, 2);
      preempt.push(status().preempt_ms!.last);
      // A few recorded steps first: an empty episode is not written (RLDS consumers drop them).
      await waitFor('the episode recording 10 steps', () => (daemon.episodes!.current?.steps ?? 0) >= 10);
      await daemon.stopEpisode(false, true);
      await daemon.episodes!.pendingEnd;
    }
    const withEpisodes = phase();
    return { rate_hz: o.rateHz, loop_idle_no_training: idle, loop_idle_training: training, loop_preemption_phase: withEpisodes, preempt_ms: summarize(preempt, 2), preemptions: preempt.length, control_thread: daemon.realtimeReport.priority };
  } finally {
    await daemon.shutdown();
    await rm(work, { recursive: true, force: true });
  }
}

/** The PyTorch reference step (models/toolchain/bench_train_step.py): the command, and its figures when asked to run it. */
export const TORCH_REFERENCE_SCRIPT = join('models', 'toolchain', 'bench_train_step.py');

/** At the trainer's batch and with its ORT sessions' threads (as benchTrain opened them). */
export function torchReferenceCommand(steps: number): string[] {
  return ['/usr/bin/python3', packagePath(TORCH_REFERENCE_SCRIPT), '--batch', '8', '--steps', String(steps), '--threads', String(DEFAULT_TRAINING_CONFIG.threads)];
}

export function runTorchReference(steps: number): Record<string, unknown> {
  const [cmd, ...argv] = torchReferenceCommand(steps);
  const r = spawnSync(cmd!, argv, { encoding: 'utf8', timeout: 30 * 60_000 });
  if (r.error || r.status !== 0) {
    const why = r.error ? r.error.message : (r.stderr.trim().split('\n').pop() ?? `exit ${r.status}`);
    throw new UsageError(`--torch: the PyTorch reference did not run (${why}); it needs Debian's python3-torch and python3-onnx (apt-get install python3-torch python3-onnx)`);
  }
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as Record<string, unknown>;
}
