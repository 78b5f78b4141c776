// The node's diagnostic_msgs/DiagnosticArray (published on /diagnostics about once a second): one
// DiagnosticStatus per concern, judged by the thresholds below, from a snapshot of the daemon's
// status. The input is narrowed here to the fields read, so this floor needs nothing of daemon/.
import type { TopicCounts } from './counters.js';
import { DiagnosticLevel, nsToTime, type DiagnosticArrayMsg, type DiagnosticStatusMsg, type KeyValue } from './messages.js';

export interface DistributionMs { readonly p50: number; readonly p99: number; readonly max: number; readonly n: number }

export interface DiagnosticsInput {
  /** The robot's name: every status's hardware_id. */
  readonly hardwareId: string;
  readonly lifecycle: string;
  readonly mode: string;
  readonly control: {
    /** The watchdog's state; null while no control loop runs (not active). */
    readonly state: 'waiting' | 'run' | 'hold' | 'stop' | null;
    readonly hardStop: boolean;
    readonly rateHz: number;
    /** Tick lateness over recent ticks. */
    readonly jitterMs: DistributionMs | null;
    readonly deadlineMisses: number;
    readonly ticks: number;
  };
  readonly planner: {
    /** Planner round trip over recent chunks. */
    readonly latencyMs: DistributionMs | null;
    readonly chunks: number;
    /** p99 above this is late (the time the queue still covers when a re-plan is asked); 0: not judged. */
    readonly budgetMs: number;
  };
  readonly recorder: { readonly steps: number; readonly episodes: number; readonly droppedFrames: number; readonly queueDepth: number; readonly lastError?: string } | null;
  /** The observation store's view of each input stream. */
  readonly streams: readonly { readonly name: string; readonly alive: boolean; readonly freqOk: boolean; readonly rateHz: number; readonly ageS: number; readonly samples: number }[];
  readonly model: { readonly name: string; readonly version: string; readonly adapter: string } | null;
  /** The subscriptions' counters (InputCounters.window()). */
  readonly inputs: readonly TopicCounts[];
}

export interface DiagnosticThresholds {
  /** p99 tick lateness, as a fraction of the control period: WARN above the first, ERROR above the second. */
  readonly jitterWarn: number;
  readonly jitterError: number;
  /** Missed deadlines as a fraction of ticks: WARN above the first, ERROR above the second. */
  readonly missWarn: number;
  readonly missError: number;
  /** Planner p99 over its budget: WARN above 1x, ERROR above this multiple. */
  readonly plannerError: number;
  /** Recorder queue depth (steps waiting for the writer) that is a WARN. */
  readonly recorderQueueWarn: number;
}

export const DEFAULT_THRESHOLDS: DiagnosticThresholds = { jitterWarn: 0.5, jitterError: 1, missWarn: 0.01, missError: 0.05, plannerError: 2, recorderQueueWarn: 64 };

const fmt = (x: number, digits = 3): string => (Number.isFinite(x) ? String(Math.round(x * 10 ** digits) / 10 ** digits) : String(x));
const kv = (values: Record<string, string | number | boolean>): KeyValue[] =>
  Object.entries(values).map(([key, v]) => ({ key, value: typeof v === 'number' ? fmt(v) : String(v) }));
const worst = (...levels: DiagnosticLevel[]): DiagnosticLevel => Math.max(...levels) as DiagnosticLevel;

export function controlStatus(s: DiagnosticsInput, t: DiagnosticThresholds = DEFAULT_THRESHOLDS): Omit<DiagnosticStatusMsg, 'hardware_id'> {
  const c = s.control;
  const name = 'vlad: control loop';
  if (c.state === null) return { name, level: DiagnosticLevel.STALE, message: `not running (${s.lifecycle})`, values: kv({ lifecycle: s.lifecycle, mode: s.mode }) };
  const periodMs = c.rateHz > 0 ? 1000 / c.rateHz : Infinity;
  const p99 = c.jitterMs?.p99 ?? 0;
  const missFrac = c.ticks > 0 ? c.deadlineMisses / c.ticks : 0;
  const problems: string[] = [];
  let level: DiagnosticLevel = DiagnosticLevel.OK;
  if (c.hardStop || c.state === 'stop') { level = DiagnosticLevel.ERROR; problems.push(c.hardStop ? 'hard stop' : 'watchdog stopped the arm'); }
  else if (c.state === 'hold') { level = DiagnosticLevel.WARN; problems.push('watchdog holds the arm'); }
  if (p99 > t.jitterError * periodMs) { level = worst(level, DiagnosticLevel.ERROR); problems.push(`p99 jitter ${fmt(p99)} ms over a period`); }
  else if (p99 > t.jitterWarn * periodMs) { level = worst(level, DiagnosticLevel.WARN); problems.push(`p99 jitter ${fmt(p99)} ms`); }
  if (missFrac > t.missError) { level = worst(level, DiagnosticLevel.ERROR); problems.push(`${fmt(100 * missFrac, 1)}% deadlines missed`); }
  else if (missFrac > t.missWarn) { level = worst(level, DiagnosticLevel.WARN); problems.push(`${fmt(100 * missFrac, 1)}% deadlines missed`); }
  return {
    name, level,
    message: problems.length ? problems.join('; ') : c.state === 'waiting' ? 'waiting for the first command' : 'running',
    values: kv({
      lifecycle: s.lifecycle, mode: s.mode, watchdog: c.state, hard_stop: c.hardStop, rate_hz: c.rateHz,
      jitter_p50_ms: c.jitterMs?.p50 ?? 0, jitter_p99_ms: p99, jitter_max_ms: c.jitterMs?.max ?? 0, deadline_misses: c.deadlineMisses, ticks: c.ticks,
    }),
  };
}

export function plannerStatus(s: DiagnosticsInput, t: DiagnosticThresholds = DEFAULT_THRESHOLDS): Omit<DiagnosticStatusMsg, 'hardware_id'> {
  const p = s.planner;
  const name = 'vlad: planner';
  const model: Record<string, string> = s.model ? { model: s.model.name, model_version: s.model.version, adapter: s.model.adapter } : { model: 'none' };
  if (!s.model) return { name, level: DiagnosticLevel.STALE, message: 'no model loaded', values: kv(model) };
  const values = kv({ ...model, chunks: p.chunks, latency_p50_ms: p.latencyMs?.p50 ?? 0, latency_p99_ms: p.latencyMs?.p99 ?? 0, latency_max_ms: p.latencyMs?.max ?? 0, budget_ms: p.budgetMs });
  if (!p.latencyMs || p.latencyMs.n === 0) return { name, level: DiagnosticLevel.OK, message: 'no plan yet', values };
  const p99 = p.latencyMs.p99;
  if (p.budgetMs > 0 && p99 > t.plannerError * p.budgetMs) return { name, level: DiagnosticLevel.ERROR, message: `p99 latency ${fmt(p99)} ms, over ${t.plannerError}x the ${fmt(p.budgetMs)} ms budget`, values };
  if (p.budgetMs > 0 && p99 > p.budgetMs) return { name, level: DiagnosticLevel.WARN, message: `p99 latency ${fmt(p99)} ms over the ${fmt(p.budgetMs)} ms budget`, values };
  return { name, level: DiagnosticLevel.OK, message: `p99 latency ${fmt(p99)} ms`, values };
}

export function recorderStatus(s: DiagnosticsInput, t: DiagnosticThresholds = DEFAULT_THRESHOLDS): Omit<DiagnosticStatusMsg, 'hardware_id'> {
  const r = s.recorder;
  const name = 'vlad: recorder';
  if (!r) return { name, level: DiagnosticLevel.OK, message: 'not recording', values: [] };
  const values = kv({ steps: r.steps, episodes: r.episodes, dropped_frames: r.droppedFrames, queue_depth: r.queueDepth, ...(r.lastError ? { last_error: r.lastError } : {}) });
  if (r.lastError) return { name, level: DiagnosticLevel.ERROR, message: r.lastError, values };
  if (r.droppedFrames > 0 || r.queueDepth > t.recorderQueueWarn) return { name, level: DiagnosticLevel.WARN, message: `${r.droppedFrames} frames dropped, ${r.queueDepth} steps queued`, values };
  return { name, level: DiagnosticLevel.OK, message: `${r.episodes} episodes, ${r.steps} steps`, values };
}

/** One status per input stream: never received (STALE), stale now (ERROR), off its rate (WARN). */
export function streamStatuses(s: DiagnosticsInput): Omit<DiagnosticStatusMsg, 'hardware_id'>[] {
  return s.streams.map((st) => {
    const name = `vlad: stream ${st.name}`;
    const values = kv({ alive: st.alive, freq_ok: st.freqOk, rate_hz: st.rateHz, age_s: st.ageS, samples: st.samples });
    if (st.samples === 0) return { name, level: DiagnosticLevel.STALE, message: 'no message yet', values };
    if (!st.alive) return { name, level: DiagnosticLevel.ERROR, message: `stale: newest is ${fmt(st.ageS)} s old`, values };
    if (!st.freqOk) return { name, level: DiagnosticLevel.WARN, message: `rate ${fmt(st.rateHz, 1)} Hz is off the expected rate`, values };
    return { name, level: DiagnosticLevel.OK, message: `${fmt(st.rateHz, 1)} Hz`, values };
  });
}

/** One status per subscribed topic, judged on the last window: all refused (ERROR), some refused (WARN). */
export function topicStatuses(s: DiagnosticsInput): Omit<DiagnosticStatusMsg, 'hardware_id'>[] {
  return s.inputs.map((c) => {
    const name = `vlad: topic ${c.topic}`;
    const reasons = Object.fromEntries(Object.entries(c.bad).filter(([, n]) => n > 0).map(([r, n]) => [`refused.${r}`, n]));
    const values = kv({ accepted: c.accepted, refused: c.badTotal, ...reasons, window_accepted: c.window.accepted, window_refused: c.window.bad, ...(c.lastError ? { last_error: c.lastError } : {}) });
    if (c.window.bad > 0 && c.window.accepted === 0) return { name, level: DiagnosticLevel.ERROR, message: `every message refused: ${c.lastError ?? ''}`, values };
    if (c.window.bad > 0) return { name, level: DiagnosticLevel.WARN, message: `${c.window.bad} of ${c.window.bad + c.window.accepted} messages refused: ${c.lastError ?? ''}`, values };
    return { name, level: DiagnosticLevel.OK, message: `${c.window.accepted} messages`, values };
  });
}

/** The whole DiagnosticArray, stamped `stampNs` (ROS time). */
export function diagnosticArray(s: DiagnosticsInput, stampNs: bigint, t: DiagnosticThresholds = DEFAULT_THRESHOLDS): DiagnosticArrayMsg {
  const all = [controlStatus(s, t), plannerStatus(s, t), recorderStatus(s, t), ...streamStatuses(s), ...topicStatuses(s)];
  return { header: { stamp: nsToTime(stampNs), frame_id: '' }, status: all.map((st) => ({ ...st, hardware_id: s.hardwareId })) };
}
