// What the daemon keeps of its control loop for status, telemetry and metrics: recent tick
// lateness and planner latency (fixed rings, no allocation per tick), forwarded to the Prometheus
// instruments. It is the loop's ControlTelemetry.
import type { ActionChunk } from '../core/index.js';
import type { ControlTelemetry, SafetyRule, TickTiming, WatchdogEvent, WatchdogState } from '../control/index.js';
import type { ControlMetrics } from '../metrics/index.js';

class Ring {
  private readonly buf: Float64Array;
  private n = 0;
  constructor(size: number) { this.buf = new Float64Array(size); }
  push(x: number): void { this.buf[this.n++ % this.buf.length] = x; }
  private filled(): Float64Array { return this.buf.subarray(0, Math.min(this.n, this.buf.length)); }
  values(): number[] { return Array.from(this.filled()); }
  get count(): number { return this.n; }

  /**
   * p50 / p99 / max of what the ring holds: one native sort of a typed copy (status is served on
   * the control thread, at up to 100 requests a second, so it must cost tens of microseconds).
   */
  dist(): DistributionMs | null {
    const sorted = Float64Array.from(this.filled()).sort();
    const n = sorted.length;
    if (n === 0) return null;
    const at = (q: number) => sorted[Math.min(n - 1, Math.max(0, Math.ceil((q / 100) * n) - 1))]!;
    return { p50: round(at(50)), p99: round(at(99)), max: round(sorted[n - 1]!), n };
  }
}

export interface LoopObserver { clamp(rule: SafetyRule): void; watchdogEvent(event: string): void; invalidChunk(): void }

export interface DistributionMs { p50: number; p99: number; max: number; n: number }

const round = (x: number) => Math.round(x * 1000) / 1000;

export class LoopStats implements ControlTelemetry {
  private readonly lateMs = new Ring(2048);
  private readonly plannerMs = new Ring(256);
  private readonly callMs = new Ring(256);
  /** Every planner call's wall time, for run reports (a plain list: lockstep runs are not real-time). */
  private readonly allCallMs: number[] = [];
  private readonly delays = new Ring(256);
  ticks = 0;
  misses = 0;
  chunks = 0;
  private readonly chunkListeners = new Set<(chunk: ActionChunk) => void>();
  /** Health windows (a swapped-in bundle's, daemon/ota.ts; a promoted adapter's, daemon/learning.ts) count clamps, watchdog faults and rejected chunks (ticks come from the loop's tap). */
  readonly observers = new Set<LoopObserver>();
  /** Every real-timer tick's lateness and timing (benchmarks keep all of them). */
  tickListener: ((lateS: number, misses: number, timing?: TickTiming) => void) | undefined;

  constructor(private readonly metrics?: ControlMetrics) {}

  onChunk(listener: (chunk: ActionChunk) => void): () => void {
    this.chunkListeners.add(listener);
    return () => this.chunkListeners.delete(listener);
  }

  tick(lateS: number, misses: number, timing?: TickTiming): void {
    this.tickListener?.(lateS, misses, timing);
    this.ticks++;
    this.misses += misses;
    this.lateMs.push(lateS * 1e3);
    this.metrics?.tick(lateS, misses);
  }
  clamp(rule: SafetyRule, joint: string): void { for (const o of this.observers) o.clamp(rule); this.metrics?.clamp(rule, joint); }
  watchdog(event: WatchdogEvent, state: WatchdogState): void { for (const o of this.observers) o.watchdogEvent(event); this.metrics?.watchdog(event, state); }
  queueDepth(steps: number): void { this.metrics?.queueDepth(steps); }
  inferenceDelay(steps: number): void { this.delays.push(steps); this.metrics?.inferenceDelay(steps); }
  inferenceStage(stage: string, seconds: number): void {
    if (stage === 'round_trip') this.plannerMs.push(seconds * 1e3);
    if (stage === 'call') { this.callMs.push(seconds * 1e3); if (this.allCallMs.length < 1_000_000) this.allCallMs.push(seconds * 1e3); }
    this.metrics?.inferenceStage(stage, seconds);
  }
  chunk(outcome: 'accepted' | 'stale' | 'invalid' | 'late', chunk?: ActionChunk): void {
    this.metrics?.chunk(outcome);
    if (outcome === 'invalid') for (const o of this.observers) o.invalidChunk();
    if (outcome !== 'accepted' || !chunk) return;
    this.chunks++;
    for (const l of this.chunkListeners) l(chunk);
  }

  /** Recent figures: tick lateness (jitter) and planner round trip, ms. */
  summary(): { jitter_ms: DistributionMs | null; planner_ms: DistributionMs | null; inference_ms: DistributionMs | null; delay_steps: DistributionMs | null; ticks: number; deadline_misses: number; chunks: number } {
    return { jitter_ms: this.lateMs.dist(), planner_ms: this.plannerMs.dist(), inference_ms: this.callMs.dist(), delay_steps: this.delays.dist(), ticks: this.ticks, deadline_misses: this.misses, chunks: this.chunks };
  }

  /** Every planner call's wall time so far, ms. */
  inferenceSamples(): number[] { return this.allCallMs; }
}
