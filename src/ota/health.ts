// The health window after a swap (greenboot's "health check before commit"): the new model's
// chunks and the loop's ticks are counted until the window closes (N chunks and T seconds), and
// the first threshold crossed fails it. Counting only: the daemon feeds it and acts on the verdict.
import { percentile } from '../core/index.js';

export interface HealthThresholds {
  /** The window: at least this many chunks from the new model ... */
  chunks: number;
  /** ... and at least this much time, s. */
  seconds: number;
  /** Chunks with NaN/Inf, chunks rejected as invalid, and ticks whose command the safety filter found non-finite, tolerated. */
  maxNonFinite: number;
  /**
   * Largest rise in the fraction of ticks on which the safety filter had to clamp the command,
   * over the replaced model's rate just before the swap (a model is judged against the one it replaced).
   */
  maxClampRise: number;
  /** The replaced model's clamp rate (0 when unknown). */
  baselineClampRate: number;
  /** Inference latency budget, ms: the window fails when the p95 of the new model's plans exceeds it. */
  latencyBudgetMs: number;
  /** Watchdog faults a model can cause (overdue chunks, planner errors and timeouts) tolerated. */
  maxWatchdogEvents: number;
}

export type HealthVerdict = { state: 'pending' } | { state: 'passed'; summary: HealthSummary } | { state: 'failed'; reason: string; summary: HealthSummary };

export interface HealthSummary { chunks: number; ticks: number; seconds: number; non_finite: number; clamp_rate: number; latency_p95_ms: number | null; watchdog_events: number }

// Faults a model can cause: too slow (its chunk overdue, the planner timing out) or failing. Stale
// cameras or joint states and a silent operator are the robot's inputs, not the model: a bundle is
// not rolled back because a camera lagged while it was on trial.
const FAULTS = new Set(['chunk_overdue', 'planner_timeout', 'planner_error']);

export class HealthWindow {
  private chunks = 0;
  private ticks = 0;
  private clampedTicks = 0;
  private clampedThisTick = false;
  private nonFiniteThisTick = false;
  private nonFinite = 0;
  private watchdog = 0;
  private readonly latencies: number[] = [];
  private verdict: HealthVerdict = { state: 'pending' };

  constructor(readonly bundle: string, readonly t: HealthThresholds, private readonly startS: number) {}

  /** A plan answered by the new model: its latency and whether every value was finite. */
  plan(latencyMs: number, finite: boolean): void {
    if (this.verdict.state !== 'pending') return;
    this.chunks++;
    this.latencies.push(latencyMs);
    if (!finite) this.nonFinite++;
  }

  /** The loop rejected a chunk as invalid (shape, NaN). */
  invalidChunk(): void { if (this.verdict.state === 'pending') this.nonFinite++; }
  /** A safety clamp on this tick; `nonFinite`: the command was NaN/Inf (the filter's nonfinite rule). */
  clamp(nonFinite = false): void {
    this.clampedThisTick = true;
    if (nonFinite) this.nonFiniteThisTick = true;
  }
  watchdogEvent(event: string): void { if (this.verdict.state === 'pending' && FAULTS.has(event)) this.watchdog++; }

  tick(): void {
    if (this.verdict.state !== 'pending') return;
    this.ticks++;
    if (this.clampedThisTick) this.clampedTicks++;
    if (this.nonFiniteThisTick) this.nonFinite++;
    this.clampedThisTick = false;
    this.nonFiniteThisTick = false;
  }

  summary(nowS: number): HealthSummary {
    const p95 = this.latencies.length ? percentile(this.latencies, 95) : null;
    return {
      chunks: this.chunks, ticks: this.ticks, seconds: Math.round((nowS - this.startS) * 1000) / 1000, non_finite: this.nonFinite,
      clamp_rate: this.ticks ? Math.round((this.clampedTicks / this.ticks) * 1e4) / 1e4 : 0,
      latency_p95_ms: p95 === null ? null : Math.round(p95 * 100) / 100, watchdog_events: this.watchdog,
    };
  }

  /** Decides as soon as a threshold is crossed, or passes once the window has closed clean. */
  evaluate(nowS: number): HealthVerdict {
    if (this.verdict.state !== 'pending') return this.verdict;
    const s = this.summary(nowS);
    const t = this.t;
    const fail = (reason: string): HealthVerdict => (this.verdict = { state: 'failed', reason, summary: s });
    if (s.non_finite > t.maxNonFinite) return fail(`${s.non_finite} non-finite output(s): chunks with NaN/Inf, chunks rejected as invalid, or commands the safety filter found non-finite (at most ${t.maxNonFinite})`);
    if (s.watchdog_events > t.maxWatchdogEvents) return fail(`${s.watchdog_events} watchdog fault(s) (at most ${t.maxWatchdogEvents})`);
    // Rates and percentiles need a sample before they mean anything.
    if (s.ticks >= 50 && s.clamp_rate > t.baselineClampRate + t.maxClampRise) {
      return fail(`the safety filter clamped ${(s.clamp_rate * 100).toFixed(1)}% of ticks, the replaced model ${(t.baselineClampRate * 100).toFixed(1)}% (a rise of at most ${(t.maxClampRise * 100).toFixed(1)} points allowed)`);
    }
    if (s.chunks >= 5 && s.latency_p95_ms !== null && s.latency_p95_ms > t.latencyBudgetMs) return fail(`inference p95 ${s.latency_p95_ms} ms over the ${t.latencyBudgetMs} ms budget`);
    if (s.chunks >= t.chunks && s.seconds >= t.seconds) this.verdict = { state: 'passed', summary: s };
    return this.verdict;
  }
}
