// Per-topic counts of what the driver's subscriptions accepted and refused (by reason), with the
// newest accepted stamp and the last refusal's message: what diagnostics and status report, and
// the one place a subscription callback sends its conversion through, so a bad message is counted
// and dropped instead of thrown into rclnodejs's executor.
import { ROS_INPUT_REASONS, RosInputError, type RosInputReason } from './errors.js';

export interface TopicCounts {
  readonly topic: string;
  readonly accepted: number;
  /** Refused messages by reason (every reason present, 0 when none). */
  readonly bad: Readonly<Record<RosInputReason, number>>;
  readonly badTotal: number;
  /** Header stamp (ROS time, ns) of the newest accepted message; undefined before the first. */
  readonly lastStampNs?: bigint;
  readonly lastError?: string;
  /** Since the previous window() call: what diagnostics judges a topic's recent health by. */
  readonly window: { readonly accepted: number; readonly bad: number };
}

interface Entry { accepted: number; bad: Record<RosInputReason, number>; lastStampNs?: bigint; lastError?: string; winAccepted: number; winBad: number }

const zeroReasons = (): Record<RosInputReason, number> => Object.fromEntries(ROS_INPUT_REASONS.map((r) => [r, 0])) as Record<RosInputReason, number>;

export class InputCounters {
  private readonly topics = new Map<string, Entry>();

  /** Topics listed up front appear in snapshots (with zeros) before their first message. */
  constructor(topics: readonly string[] = []) { for (const t of topics) this.entry(t); }

  private entry(topic: string): Entry {
    let e = this.topics.get(topic);
    if (!e) { e = { accepted: 0, bad: zeroReasons(), winAccepted: 0, winBad: 0 }; this.topics.set(topic, e); }
    return e;
  }

  accepted(topic: string, stampNs?: bigint): void {
    const e = this.entry(topic);
    e.accepted++;
    e.winAccepted++;
    if (stampNs !== undefined && (e.lastStampNs === undefined || stampNs > e.lastStampNs)) e.lastStampNs = stampNs;
  }

  rejected(topic: string, reason: RosInputReason, message: string): void {
    const e = this.entry(topic);
    e.bad[reason]++;
    e.winBad++;
    e.lastError = message;
  }

  /**
   * Runs one message's conversion: its value, or undefined when it was refused (counted by the
   * error's reason; anything that is not a RosInputError counts as 'internal'). Never throws.
   */
  guard<T>(topic: string, convert: () => T, stampNs?: bigint): T | undefined {
    try {
      const v = convert();
      this.accepted(topic, stampNs);
      return v;
    } catch (e) {
      this.refuse(topic, e);
      return undefined;
    }
  }

  /** guard() for an asynchronous conversion (images: sharp). Never rejects. */
  async guardAsync<T>(topic: string, convert: () => Promise<T>, stampNs?: bigint): Promise<T | undefined> {
    try {
      const v = await convert();
      this.accepted(topic, stampNs);
      return v;
    } catch (e) {
      this.refuse(topic, e);
      return undefined;
    }
  }

  private refuse(topic: string, e: unknown): void {
    if (e instanceof RosInputError) this.rejected(topic, e.reason, e.message);
    else this.rejected(topic, 'internal', e instanceof Error ? e.message : String(e));
  }

  /** Totals per topic; the window counts are those since the previous window() call. */
  snapshot(): TopicCounts[] {
    return [...this.topics].map(([topic, e]) => ({
      topic, accepted: e.accepted, bad: { ...e.bad }, badTotal: Object.values(e.bad).reduce((a, b) => a + b, 0),
      ...(e.lastStampNs !== undefined ? { lastStampNs: e.lastStampNs } : {}),
      ...(e.lastError !== undefined ? { lastError: e.lastError } : {}),
      window: { accepted: e.winAccepted, bad: e.winBad },
    }));
  }

  /** snapshot(), then a new window starts (the diagnostics publisher calls this once a period). */
  window(): TopicCounts[] {
    const s = this.snapshot();
    for (const e of this.topics.values()) { e.winAccepted = 0; e.winBad = 0; }
    return s;
  }
}
