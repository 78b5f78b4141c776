// `vlad bench control`: the real-timer ControlLoop on the main thread against the simulated arm
// running as "hardware" in its own thread (physics at 250 Hz, 2 cameras at 30 Hz, shared memory),
// while the PolicyEngine (worker) re-plans continuously through the compute scheduler and the RLDS
// recorder records both cameras every tick. One JSON object: the loop's timing, the planner, the
// recorder, the safety filter and the watchdog, plus the machine's load.
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { rm } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { PerformanceObserver } from 'node:perf_hooks';
import { summarize } from '../core/stats.js';
import { ControlLoop, type ControlTelemetry, type TickRecord } from './loop.js';
import type { JoinMethod } from './action-queue.js';
import { plannerFromEngine } from './planner.js';
import { PolicyEngine } from '../policy/engine.js';
import { ComputeScheduler } from '../sched/index.js';
import { ControlMetrics, createRegistry, serveMetrics } from '../metrics/index.js';
import { openRecorder, type Recorder } from '../rlds/index.js';
import { SimWorkerRobot } from '../sim/worker-robot.js';
import { simRobotDescription } from '../sim/control-episode.js';
import { STATE_NAMES } from '../sim/scene.js';
import { raiseThreadPriority, type PriorityResult } from '../core/priority.js';
import { CpuWake, type IdlePollMode } from '../core/cpu-wake.js';
import { loadProfile } from '../hw/index.js';

export interface ControlBenchOptions {
  rateHz: number;
  durationS: number;
  bundle: string;
  profile: string;
  join: JoinMethod;
  /** Per-tick commands (forward controller) or a trajectory per plan (JointTrajectoryController). Default forward. */
  output?: 'forward' | 'trajectory';
  record: boolean;
  metricsPort?: number;
  seed: number;
  /** Last phase of each wait: Atomics.wait (block) or setImmediate polling. */
  wait?: 'block' | 'poll';
  /** Ticks of warm-up before the epoch (ControlLoop warmUpTicks). Default 3000; 0 = cold start. */
  warmUpTicks?: number;
  /** Control thread priority: nice value (negative raises) and optional SCHED_FIFO priority. */
  priority?: { nice?: number; fifo?: number } | false;
  /** Overrides the profile's realtime.idle_poll (keeping idle CPUs from halting; see core/cpu-wake.ts). */
  idlePoll?: IdlePollMode;
  progress?: (line: string) => void;
}

/** Aggregate CPU jiffies from /proc/stat (Linux): total and steal (time the host ran something else). */
function cpuTimes(): { total: number; steal: number } | null {
  try {
    const f = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
    return { total: f.reduce((a, b) => a + b, 0), steal: f[7] ?? 0 };
  } catch { return null; }
}

const round = (x: number, d = 3): number => Math.round(x * 10 ** d) / 10 ** d;
const dist = (xs: readonly number[], d = 3) => (xs.length ? summarize(xs, d) : null);

export async function benchControl(o: ControlBenchOptions): Promise<Record<string, unknown>> {
  const log = o.progress ?? (() => undefined);
  const hw = await loadProfile(o.profile);
  const engine = await PolicyEngine.open(resolve(o.bundle), { profile: hw });
  const cams = engine.manifest.io.cameras;
  const size = cams[0]?.width ?? 96;
  const robot = await SimWorkerRobot.start({ imageSize: size, cameras: cams.map((c) => c.name), physicsDt: 0.004, cameraHz: 30 });
  const root = join(tmpdir(), `vlad-bench-control-${process.pid}`);
  let recorder: Recorder | undefined;
  const registry = createRegistry();
  const metrics = new ControlMetrics(registry);
  const server = o.metricsPort !== undefined ? await serveMetrics(registry, { port: o.metricsPort }) : undefined;
  const sched = new ComputeScheduler(1);
  let cpuWake: CpuWake | undefined;
  try {
    const info = await robot.reset('pick', o.seed);
    if (o.record) {
      recorder = await openRecorder({
        root, name: 'vlad_bench_control', maxQueueSteps: 256,
        spec: { cameras: cams.map((c) => ({ name: c.name, height: c.height, width: c.width, channels: 3 })), stateDim: 7, actionDim: 7, stateNames: [...STATE_NAMES], actionNames: [...STATE_NAMES] },
      });
      recorder.beginEpisode({ instruction: info.instruction });
    }
    // Preallocated: the per-tick path only fills these.
    const maxTicks = Math.ceil(o.rateHz * o.durationS) + 16;
    const lateMs = new Float64Array(maxTicks);
    const wakeLateMs = new Float64Array(maxTicks);
    const marginMs = new Float64Array(maxTicks);
    let nTicks = 0;
    // A miss whose coarse timer already fired after the deadline's margin is the event loop waking
    // late (busy thread or timer); one whose timer was on time is the final Atomics.wait/spin
    // overshooting, i.e. the OS not running the thread when its timeout expired.
    const missCause = { event_loop_wake: 0, final_wait: 0 };
    const plannerMs: number[] = [];
    const workerMs: number[] = [];
    const telemetry: ControlTelemetry = {
      tick(lateS, misses, timing) {
        if (nTicks < maxTicks) {
          wakeLateMs[nTicks] = (timing?.wakeLateS ?? 0) * 1e3;
          marginMs[nTicks] = (timing?.marginS ?? 0) * 1e3;
          lateMs[nTicks++] = lateS * 1e3;
        }
        if (misses > 0 && timing) {
          if (timing.skipped > 0 || timing.wakeLateS > timing.marginS) missCause.event_loop_wake += misses;
          else missCause.final_wait += misses;
        }
        metrics.tick(lateS, misses);
      },
      clamp: (r, j) => metrics.clamp(r, j),
      watchdog: (e, m) => metrics.watchdog(e, m),
      queueDepth: (s) => metrics.queueDepth(s),
      inferenceDelay: (s) => metrics.inferenceDelay(s),
      inferenceStage(stage, s) {
        if (stage === 'round_trip') plannerMs.push(s * 1e3);
        if (stage === 'worker_total') workerMs.push(s * 1e3);
        metrics.inferenceStage(stage, s);
      },
      chunk: (outcome) => metrics.chunk(outcome),
    };
    const inner = plannerFromEngine(engine);
    const loop = new ControlLoop({
      rateHz: o.rateHz, robot, observations: robot, robotDescription: simRobotDescription(),
      planner: inner,
      join: { method: o.join }, replanThreshold: 1, // re-plan as soon as the last answer is in
      output: o.output ?? 'forward', warmUpTicks: o.warmUpTicks ?? 3000,
      telemetry, compute: sched, ratekeeper: { block: (o.wait ?? 'block') === 'block' }, log: (l) => log(`  ${l}`),
    });
    // Time spent inside each tick (its start to the end of the taps): JIT and first-time costs show here.
    const busyMs = new Float64Array(maxTicks);
    let nBusy = 0;
    loop.addTap((r: TickRecord) => { if (nBusy < maxTicks) busyMs[nBusy++] = Number(process.hrtime.bigint() - r.actualNs) / 1e6; });
    const images: Record<string, Uint8Array> = {};
    const action = new Float32Array(7);
    const step: { images: Record<string, Uint8Array>; state: Float32Array; action: Float32Array; mode: 'policy'; stampNs: bigint; inferenceDelaySteps: number } = { images, state: new Float32Array(7), action, mode: 'policy', stampNs: 0n, inferenceDelaySteps: 0 };
    if (recorder) {
      const rec = recorder;
      loop.addTap((r: TickRecord) => {
        const obs = r.observation;
        if (!obs) return;
        for (const c of cams) images[c.name] = obs.images[c.name]!.data;
        step.state = obs.state;
        const p = r.command.positions;
        for (let j = 0; j < 7; j++) action[j] = p[j]!;
        step.stampNs = r.command.stampNs;
        rec.addStep(step);
      });
    }
    const gc = { count: 0, totalMs: 0, maxMs: 0, atMs: [] as number[] };
    const gcObserver = new PerformanceObserver((list) => {
      for (const e of list.getEntries()) { gc.count++; gc.totalMs += e.duration; gc.maxMs = Math.max(gc.maxMs, e.duration); if (e.duration > 1) gc.atMs.push(Math.round(e.startTime - runStartMs)); }
    });
    gcObserver.observe({ entryTypes: ['gc'] });
    await robot.startRealtime();
    // Before the priority is raised: the spinners must not inherit SCHED_FIFO (they check anyway).
    cpuWake = await CpuWake.start({ idlePoll: o.idlePoll ?? hw.realtime.idle_poll, dmaLatencyUs: hw.realtime.cpu_dma_latency_us });
    // After every worker thread exists, so none of them inherits it.
    const priority: PriorityResult | null = o.priority === false ? null : raiseThreadPriority(o.priority ?? { nice: -10 });
    // Let the first state and frame land before the loop starts.
    while (!robot.latest() || !robot.readState()) await new Promise((r) => setTimeout(r, 5));
    // Plans before the epoch, plain and (for RTC) guided by a prefix: the policy worker's first
    // requests of each kind are slow and allocate heavily; that belongs before the measurement.
    const first = robot.latest()!;
    const H = engine.manifest.io.chunk_length;
    const dtChunk = engine.manifest.io.control_dt;
    await inner.plan(first, { id: -2 });
    if (o.join === 'rtc') {
      const actions = new Float32Array(H * 7);
      for (let h = 0; h < H; h++) actions.set(first.state, h * 7);
      await inner.plan(first, { id: -1, prefix: { actions, length: H, actionDim: 7, dt: dtChunk, frozenSteps: 2 } });
    }
    const load0 = loadavg();
    const cpu0 = cpuTimes();
    const runStartMs = performance.now();
    log(`bench control: ${o.rateHz} Hz for ${o.durationS} s, ${o.join} joining, recording ${o.record ? cams.length : 0} cameras every tick (load ${load0.map((x) => x.toFixed(2)).join(' ')})`);
    const progress = setInterval(() => log(`  ${nTicks} ticks, ${loop.snapshot().chunksAccepted} chunks`), 2000);
    const timer = setTimeout(() => loop.stop(), o.durationS * 1e3);
    const acc = await loop.run();
    const cpu1 = cpuTimes();
    clearTimeout(timer);
    clearInterval(progress);
    loop.close();
    gcObserver.disconnect();
    await cpuWake.stop();
    await robot.stopRealtime();
    const recStats = recorder?.stats();
    let episode: unknown = null;
    if (recorder) {
      const ep = await recorder.endEpisode({ success: false, truncated: true });
      episode = { steps: ep.steps, dropped_steps: ep.droppedSteps, bytes: ep.bytes };
    }
    const s = loop.snapshot();
    const late = Array.from(lateMs.subarray(0, nTicks));
    const j = summarize(late, 4);
    const clamps: Record<string, number> = {};
    for (const [rule, perJoint] of Object.entries(s.clamps)) clamps[rule] = perJoint.reduce((a, b) => a + b, 0);
    return {
      rate_hz: o.rateHz,
      duration_s: o.durationS,
      ticks: acc.ticks,
      jitter_ms: { p50: j.p50, p99: j.p99, max: j.max, mean: j.mean },
      // The first 2 s include JIT compilation of the tick path and the first chunks.
      warm_up: loop.warmUp ? { ticks: loop.warmUp.ticks, ms: round(loop.warmUp.ms, 1) } : null,
      tick_busy_ms: nBusy ? (({ p50, p99, max }) => ({ p50, p99, max, first_10_max: round(Math.max(...busyMs.subarray(0, Math.min(10, nBusy))), 4) }))(summarize(Array.from(busyMs.subarray(0, nBusy)), 4)) : null,
      jitter_ms_after_2s: late.length > 2 * o.rateHz ? (({ p50, p99, max }) => ({ p50, p99, max }))(summarize(late.slice(2 * o.rateHz), 4)) : null,
      late_ticks_over_0_5ms: late.filter((x) => x > 0.5).length,
      late_ticks_over_1ms: late.filter((x) => x > 1).length,
      deadline_misses: acc.misses,
      skipped_steps: acc.skipped,
      misses_by_cause: missCause,
      late_tolerance_ms: round(acc.lateToleranceS * 1e3),
      planner: {
        bundle: engine.modelVersion, profile: o.profile, join: o.join,
        requests: s.planRequests, chunks: s.chunksAccepted, dropped: s.chunksDropped, errors: s.plannerErrors,
        latency_ms: dist(plannerMs), worker_total_ms: dist(workerMs),
      },
      inference_delay_steps: dist(s.delays, 1),
      recorder: recStats ? { cameras: cams.length, steps: recStats.steps, dropped_frames: recStats.droppedFrames, repeated_images: recStats.repeatedImages, max_queue_depth: recStats.maxQueueDepthSeen, episode } : null,
      clamps,
      watchdog_events: s.watchdogEvents,
      mode: s.mode,
      output: o.output ?? 'forward',
      sim: { physics_hz: 250, camera_hz: 30, physics_overruns: robot.overruns, commands_applied: robot.commandsApplied, trajectories_applied: robot.trajectoriesApplied, trajectories_cut: robot.trajectoriesCut },
      control_thread: priority,
      cpu_wake: cpuWake.report,
      wait: o.wait ?? 'block',
      gc: { count: gc.count, total_ms: round(gc.totalMs), max_ms: round(gc.maxMs), over_1ms_at_ms: gc.atMs },
      // wake_late_ms: how late the coarse timer fired (against margin_ms before the deadline); a miss
      // with wake_late_ms > margin_ms was the event loop waking late, otherwise the final wait or the tick itself.
      worst_ticks: late.map((ms, i) => ({ i, ms })).sort((a, b) => b.ms - a.ms).slice(0, 8).map(({ i, ms }) => ({ tick: i, at_ms: round(i * 1e3 / o.rateHz, 0), late_ms: round(ms), wake_late_ms: round(wakeLateMs[i]!), margin_ms: round(marginMs[i]!) })),
      timer_margin_ms: nTicks ? { max: round(Math.max(...marginMs.subarray(0, nTicks))), mean: round(marginMs.subarray(0, nTicks).reduce((a, b) => a + b, 0) / nTicks) } : null,
      load_avg: { start: load0.map((x) => round(x, 2)), end: loadavg().map((x) => round(x, 2)) },
      // Share of the vCPUs' time the host gave to others during the run (virtual machines).
      cpu_steal_pct: cpu0 && cpu1 && cpu1.total > cpu0.total ? round((100 * (cpu1.steal - cpu0.steal)) / (cpu1.total - cpu0.total), 2) : null,
    };
  } finally {
    await cpuWake?.stop();
    await recorder?.close().catch(() => undefined);
    await rm(root, { recursive: true, force: true });
    await server?.close();
    await robot.close();
    await engine.close();
  }
}
