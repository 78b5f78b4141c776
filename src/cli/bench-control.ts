// `vlad bench control`: the daemon's pipeline in realtime on the simulated arm (physics at 250 Hz
// and two cameras at 30 Hz in its own thread), the policy re-planning continuously, the recorder
// recording both cameras every tick. One JSON object: the loop's timing, the planner, the
// recorder, the safety filter and the watchdog, plus the machine's load.
import { commandLogger } from '../core/index.js';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { PerformanceObserver } from 'node:perf_hooks';
import { summarize, type IdlePollMode } from '../core/index.js';
import { Daemon, loadDaemonConfig, type ParamOverrides } from '../daemon/index.js';
import type { JoinMethod } from '../control/index.js';
import type { SimWorkerRobot } from '../sim/index.js';

export interface ControlBenchOptions {
  rateHz: number;
  durationS: number;
  bundle?: string | undefined;
  profile: string;
  join: JoinMethod;
  output: 'forward' | 'trajectory';
  record: boolean;
  metricsPort?: number | undefined;
  seed: number;
  wait: 'block' | 'poll';
  warmUpTicks: number;
  priority: { nice?: number; fifo?: number } | false;
  idlePoll?: IdlePollMode | undefined;
  progress?: (line: string) => void;
}

/** Aggregate CPU jiffies from /proc/stat (Linux): total and steal (time the host ran something else). */
export function cpuTimes(): { total: number; steal: number } | null {
  try {
    const f = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
    return { total: f.reduce((a, b) => a + b, 0), steal: f[7] ?? 0 };
  } catch { return null; }
}

export const stealPct = (a: ReturnType<typeof cpuTimes>, b: ReturnType<typeof cpuTimes>): number | null =>
  a && b && b.total > a.total ? round((100 * (b.steal - a.steal)) / (b.total - a.total), 2) : null;

const round = (x: number, d = 3): number => Math.round(x * 10 ** d) / 10 ** d;
const dist = (xs: readonly number[], d = 3) => (xs.length ? summarize(xs, d) : null);
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export async function benchControl(o: ControlBenchOptions): Promise<Record<string, unknown>> {
  const log = o.progress ?? (() => undefined);
  const root = join(tmpdir(), `vlad-bench-control-${process.pid}`);
  const overrides: ParamOverrides = {
    robot: 'sim', hw_profile: o.profile, join: o.join, output_mode: o.output, mode: 'autonomous', seed: o.seed,
    // Re-plan as soon as the last answer is in: the planner runs flat out.
    replan_threshold: 1,
    record: o.record ? { dir: root, dataset: 'vlad_bench_control' } : { dir: '' },
    sim: { clock: 'realtime', physics_dt: 0.004, camera_hz: 30 },
    ...(o.bundle ? { bundle: o.bundle } : {}),
    ...(o.metricsPort !== undefined ? { metrics_port: o.metricsPort } : {}),
  };
  const config = await loadDaemonConfig({ overrides });
  if (o.idlePoll) config.profile.realtime.idle_poll = o.idlePoll;
  const maxTicks = Math.ceil(o.rateHz * o.durationS) + 16;
  // Preallocated: the per-tick path only fills these.
  const lateMs = new Float64Array(maxTicks);
  const wakeLateMs = new Float64Array(maxTicks);
  const marginMs = new Float64Array(maxTicks);
  let nTicks = 0;
  let measuring = false;
  // A miss whose coarse timer already fired after the deadline's margin is the event loop waking
  // late (busy thread or timer); one whose timer was on time is the final wait overshooting.
  const missCause = { event_loop_wake: 0, final_wait: 0 };
  const daemon = new Daemon({ config, log: commandLogger(), rateHz: o.rateHz, warmUpTicks: o.warmUpTicks, ratekeeper: { block: o.wait === 'block' }, priority: o.priority });
  daemon.stats.tickListener = (lateS, misses, timing) => {
    if (!measuring) return;
    if (nTicks < maxTicks) {
      wakeLateMs[nTicks] = (timing?.wakeLateS ?? 0) * 1e3;
      marginMs[nTicks] = (timing?.marginS ?? 0) * 1e3;
      lateMs[nTicks++] = lateS * 1e3;
    }
    if (misses > 0 && timing) {
      if (timing.skipped > 0 || timing.wakeLateS > timing.marginS) missCause.event_loop_wake += misses;
      else missCause.final_wait += misses;
    }
  };
  const gc = { count: 0, totalMs: 0, maxMs: 0, atMs: [] as number[] };
  let runStartMs = 0;
  const gcObserver = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) { if (!measuring) continue; gc.count++; gc.totalMs += e.duration; gc.maxMs = Math.max(gc.maxMs, e.duration); if (e.duration > 1) gc.atMs.push(Math.round(e.startTime - runStartMs)); }
  });
  try {
    await daemon.start();
    const loop = daemon.controlLoop!;
    const sim = daemon.simDriver as SimWorkerRobot;
    // The whole run is one episode (no scene end): recorded every tick when recording.
    await daemon.startEpisode({ instruction: 'pick up the red cube' });
    // Until the first chunk runs, the loop holds: that start-up is not the steady state measured.
    while (loop.state !== 'run') await sleep(5);
    const before = loop.snapshot();
    const offChunk = daemon.onChunk(() => undefined);
    gcObserver.observe({ entryTypes: ['gc'] });
    const load0 = loadavg();
    const cpu0 = cpuTimes();
    runStartMs = performance.now();
    measuring = true;
    log(`bench control: ${o.rateHz} Hz for ${o.durationS} s, ${o.join} joining, ${o.output} output, recording ${o.record ? daemon.policy!.manifest.io.cameras.length : 0} cameras every tick (load ${load0.map((x) => x.toFixed(2)).join(' ')})`);
    const progress = setInterval(() => log(`  ${nTicks} ticks, ${loop.snapshot().chunksAccepted - before.chunksAccepted} chunks`), 2000);
    await sleep(o.durationS * 1000);
    measuring = false;
    clearInterval(progress);
    const cpu1 = cpuTimes();
    offChunk();
    const after = loop.snapshot();
    const recStats = daemon.status().recorder as Record<string, number> | null;
    const outcome = await daemon.stopEpisode(false);
    const s = daemon.stats.summary();
    const late = Array.from(lateMs.subarray(0, nTicks));
    const j = summarize(late, 4);
    const clamps: Record<string, number> = {};
    for (const [rule, perJoint] of Object.entries(after.clamps)) clamps[rule] = perJoint.reduce((a, b) => a + b, 0) - (before.clamps[rule as keyof typeof before.clamps] ?? []).reduce((a, b) => a + b, 0);
    const events: Record<string, number> = {};
    for (const [e, n] of Object.entries(after.watchdogEvents)) events[e] = n - (before.watchdogEvents[e as keyof typeof before.watchdogEvents] ?? 0);
    const misses = late.length ? missCause.event_loop_wake + missCause.final_wait : 0;
    return {
      rate_hz: o.rateHz,
      duration_s: o.durationS,
      path: 'daemon pipeline: sim worker (realtime) -> observation store -> policy worker -> control loop (queue, joining, hand-over, safety, watchdog) -> sim worker; RLDS recorder tap',
      ticks: nTicks,
      jitter_ms: { p50: j.p50, p99: j.p99, max: j.max, mean: j.mean },
      warm_up: loop.warmUp ? { ticks: loop.warmUp.ticks, ms: round(loop.warmUp.ms, 1) } : null,
      late_ticks_over_0_5ms: late.filter((x) => x > 0.5).length,
      late_ticks_over_1ms: late.filter((x) => x > 1).length,
      deadline_misses: misses,
      misses_by_cause: missCause,
      planner: {
        bundle: daemon.policy!.modelVersion, profile: o.profile, join: o.join,
        requests: after.planRequests - before.planRequests, chunks: after.chunksAccepted - before.chunksAccepted, dropped: after.chunksDropped - before.chunksDropped, errors: after.plannerErrors - before.plannerErrors,
        latency_ms: s.planner_ms, inference_ms: s.inference_ms,
      },
      inference_delay_steps: dist(after.delays.slice(before.delays.length), 1),
      recorder: recStats ? { cameras: daemon.policy!.manifest.io.cameras.length, steps: outcome.recorded?.steps ?? 0, dropped_steps: outcome.recorded?.droppedSteps ?? 0, dropped_frames: recStats.droppedFrames, repeated_images: recStats.repeatedImages, max_queue_depth: recStats.maxQueueDepthSeen, bytes: outcome.recorded?.bytes ?? 0 } : null,
      steps_by_source: outcome.sources,
      clamps,
      watchdog_events: events,
      state: loop.state,
      output: o.output,
      sim: { physics_hz: 1 / sim.physicsDt, camera_hz: 30, physics_overruns: sim.overruns, commands_applied: sim.commandsApplied, trajectories_applied: sim.trajectoriesApplied, trajectories_cut: sim.trajectoriesCut },
      control_thread: daemon.realtimeReport.priority,
      cpu_wake: daemon.realtimeReport.cpu_wake,
      wait: o.wait,
      gc: { count: gc.count, total_ms: round(gc.totalMs), max_ms: round(gc.maxMs), over_1ms_at_ms: gc.atMs },
      worst_ticks: late.map((ms, i) => ({ i, ms })).sort((a, b) => b.ms - a.ms).slice(0, 8).map(({ i, ms }) => ({ tick: i, at_ms: round(i * 1e3 / o.rateHz, 0), late_ms: round(ms), wake_late_ms: round(wakeLateMs[i]!), margin_ms: round(marginMs[i]!) })),
      load_avg: { start: load0.map((x) => round(x, 2)), end: loadavg().map((x) => round(x, 2)) },
      // Share of the vCPUs' time the host gave to others during the run (virtual machines).
      cpu_steal_pct: stealPct(cpu0, cpu1),
    };
  } finally {
    gcObserver.disconnect();
    await daemon.shutdown();
    await rm(root, { recursive: true, force: true });
  }
}
