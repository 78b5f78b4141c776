// Drift-free fixed-rate scheduling on the Node event loop (openpilot's Ratekeeper, adapted).
// Step k is due at epoch + k * period (absolute deadlines, never accumulated intervals). Node
// timers have ~1 ms granularity and can fire up to a millisecond early, so the wait is three
// phases: setTimeout until `timerMarginS` before the deadline, then setImmediate turns (I/O and
// promise callbacks still run) until `spinS` before it, then a bounded busy-wait to the deadline.
// Lateness (actual - deadline) is the loop's jitter. A tick later than `lateToleranceS` counts as a
// deadline miss and sets `lagging`; a tick later than a whole period skips the slots it lost (each
// counted as a miss) and realigns to the grid instead of bursting to catch up.
import type { Clock } from '../core/index.js';
import { systemClock } from '../core/index.js';

export interface RatekeeperOptions {
  rateHz: number;
  clock?: Clock;
  /**
   * setTimeout wakes at least this long before the deadline. Default 1.5 ms. The margin adapts:
   * a timer that fires late widens it (up to `maxTimerMarginS`) and it decays back over ~1 s,
   * because libuv timers on a loaded machine fire up to several ms late now and then.
   */
  timerMarginS?: number;
  /** Upper bound of the adaptive margin. Default 40% of the period. */
  maxTimerMarginS?: number;
  /** Busy-wait at most this long (the rest is setImmediate polling). Default 0.2 ms. */
  spinS?: number;
  /**
   * Sleep the last `timerMarginS` in Atomics.wait (precise, allocation-free, but no I/O or
   * message handling runs in that window) instead of setImmediate polling. Default false.
   */
  block?: boolean;
  /** Later than this is a deadline miss. Default 20% of the period. */
  lateToleranceS?: number;
  log?: (line: string) => void;
}

export interface TickTiming {
  readonly step: number;
  readonly scheduledNs: bigint;
  readonly actualNs: bigint;
  /** actual - scheduled, seconds. */
  readonly lateS: number;
  /** Deadline misses this tick accounts for (late tick + skipped slots). */
  readonly misses: number;
  /** Steps skipped before this one. */
  readonly skipped: number;
  /** How late the coarse timer woke the loop against its own target, s (negative: early). 0 without timers. */
  readonly wakeLateS: number;
  /** The timer margin the wait for this tick used, s. */
  readonly marginS: number;
}

/** The bookkeeping half of the Ratekeeper, without timers (deterministic in tests). */
export class TickAccountant {
  readonly periodNs: bigint;
  readonly periodS: number;
  readonly lateToleranceS: number;
  private nextStep = 0;
  misses = 0;
  ticks = 0;
  skipped = 0;
  lagging = false;
  private lastLogNs = -1n;

  constructor(readonly epochNs: bigint, rateHz: number, lateToleranceS: number | undefined, private readonly log?: (line: string) => void) {
    if (!(rateHz > 0 && rateHz <= 10_000)) throw new Error(`ratekeeper: rate ${rateHz} Hz out of range (0, 10000]`);
    this.periodS = 1 / rateHz;
    this.periodNs = BigInt(Math.round(1e9 / rateHz));
    this.lateToleranceS = lateToleranceS ?? 0.2 * this.periodS;
  }

  deadlineNs(step: number): bigint { return this.epochNs + BigInt(step) * this.periodNs; }
  get upcomingStep(): number { return this.nextStep; }

  /** Records that the upcoming step is starting at `actualNs`; returns which step it is. */
  begin(actualNs: bigint, wakeLateS = 0, marginS = 0): TickTiming {
    let step = this.nextStep;
    let late = actualNs - this.deadlineNs(step);
    let skipped = 0;
    if (late >= this.periodNs) {
      skipped = Number(late / this.periodNs);
      step += skipped;
      late = actualNs - this.deadlineNs(step);
    }
    const lateS = Number(late) / 1e9;
    const lateTick = lateS > this.lateToleranceS;
    const misses = skipped + (lateTick ? 1 : 0);
    this.misses += misses;
    this.skipped += skipped;
    this.ticks++;
    this.lagging = misses > 0;
    if (misses > 0 && this.log && (this.lastLogNs < 0n || actualNs - this.lastLogNs > 1_000_000_000n)) {
      this.lastLogNs = actualNs;
      this.log(`control loop lagging: step ${step} ${(lateS * 1e3).toFixed(2)} ms late${skipped ? `, ${skipped} step(s) skipped` : ''} (${this.misses} misses so far)`);
    }
    this.nextStep = step + 1;
    return { step, scheduledNs: this.deadlineNs(step), actualNs, lateS, misses, skipped, wakeLateS, marginS };
  }
}

/**
 * The adaptive timer margin: widened at once to cover the latest timer lateness plus 0.5 ms,
 * otherwise decaying 1% a tick toward the minimum (the excess falls by e in 100 ticks: 1 s at 100 Hz).
 */
export function nextTimerMarginMs(currentMs: number, wakeLateMs: number, minMs: number, maxMs: number): number {
  const decayed = currentMs - (currentMs - minMs) * 0.01;
  return Math.min(maxMs, Math.max(minMs, decayed, wakeLateMs + 0.5));
}

const immediate = () => new Promise<void>((r) => setImmediate(r));
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export class Ratekeeper {
  readonly rateHz: number;
  private readonly clock: Clock;
  private readonly minMarginMs: number;
  private readonly maxMarginMs: number;
  /** Current adaptive margin, ms. */
  private marginMs: number;
  /** Lateness of the last coarse wake, ms. */
  private lastWakeLateMs = 0;
  private readonly spinMs: number;
  private readonly block: boolean;
  private readonly sleeper = new Int32Array(new SharedArrayBuffer(4));
  private readonly opts: RatekeeperOptions;
  accountant: TickAccountant | undefined;

  constructor(opts: RatekeeperOptions) {
    this.opts = opts;
    this.rateHz = opts.rateHz;
    this.clock = opts.clock ?? systemClock;
    this.minMarginMs = (opts.timerMarginS ?? 0.0015) * 1e3;
    this.maxMarginMs = Math.max(this.minMarginMs, (opts.maxTimerMarginS ?? 0.4 / opts.rateHz) * 1e3);
    this.marginMs = this.minMarginMs;
    this.spinMs = (opts.spinS ?? 0.0002) * 1e3;
    this.block = opts.block ?? false;
  }

  /**
   * Waits until the absolute time `deadlineNs` (see the header comment for the three phases). The
   * waiting itself must not allocate: every process.hrtime.bigint() is a heap BigInt and every
   * setImmediate turn a Promise, and at 100 Hz a polling wait made ~50 MB/s of garbage whose
   * scavenges landed on ticks. So the deadline is converted once to performance.now() (a plain
   * double) and, with `block`, the last phase sleeps in Atomics.wait instead of polling.
   */
  async waitUntil(deadlineNs: bigint): Promise<void> {
    // Clock first, then performance.now(): any gap between the two reads (a preemption) then
    // moves the converted target later, never earlier than the deadline.
    const untilDeadlineMs = Number(deadlineNs - this.clock.nowNs()) / 1e6;
    const targetMs = performance.now() + untilDeadlineMs;
    const wakeMs = targetMs - this.marginMs;
    const remaining = wakeMs - performance.now();
    this.lastWakeLateMs = 0;
    if (remaining > 0) {
      await sleep(remaining);
      this.lastWakeLateMs = performance.now() - wakeMs;
      this.adaptMargin(this.lastWakeLateMs);
    }
    if (this.block) {
      const w = targetMs - performance.now() - this.spinMs;
      if (w > 0) Atomics.wait(this.sleeper, 0, 0, w);
    } else {
      while (targetMs - performance.now() > this.spinMs) await immediate();
    }
    while (performance.now() < targetMs) { /* bounded busy-wait: at most spinS */ }
  }

  private adaptMargin(lateMs: number): void {
    this.marginMs = nextTimerMarginMs(this.marginMs, lateMs, this.minMarginMs, this.maxMarginMs);
  }

  get timerMarginS(): number { return this.marginMs / 1e3; }

  /**
   * Calls onTick for every step until the signal aborts. Step 0 is due at epochNs (default: one period from now).
   * onTick runs synchronously; it must not block for long (it is the control step).
   */
  async run(onTick: (timing: TickTiming) => void, signal: AbortSignal, epochNs?: bigint): Promise<TickAccountant> {
    const epoch = epochNs ?? this.clock.nowNs() + BigInt(Math.round(1e9 / this.rateHz));
    const acc = new TickAccountant(epoch, this.rateHz, this.opts.lateToleranceS, this.opts.log);
    this.accountant = acc;
    while (!signal.aborted) {
      const marginMs = this.marginMs;
      await this.waitUntil(acc.deadlineNs(acc.upcomingStep));
      if (signal.aborted) break;
      onTick(acc.begin(this.clock.nowNs(), this.lastWakeLateMs / 1e3, marginMs / 1e3));
    }
    return acc;
  }
}
