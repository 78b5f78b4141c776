// The watching end of telemetry (vlad ctl, tests): a SUB socket that yields { topic, body } for
// the topics asked for. Malformed messages are counted and skipped, never thrown.
import { Subscriber } from 'zeromq';
import { rootLogger, type Logger } from '../../core/index.js';
import { clientCurveOptions, validateClientCurve, type ClientCurve } from './security.js';
import { telemetryUnpackr, type TelemetryMessage } from './telemetry.js';

export interface TelemetrySubscriberOptions {
  /** Topics to receive (exact names); none = every topic. More can be added with subscribe(). */
  topics?: readonly string[];
  security?: ClientCurve;
  logger?: Logger;
  /** Messages kept for next(); the oldest are dropped first (default 1024). */
  queueLength?: number;
}

export interface TelemetrySubscriberStats {
  received: number;
  /** Frames that were not [topic, msgpack body]. */
  rejected: number;
  /** Dropped from a full queue nobody read. */
  dropped: number;
}

interface Waiter {
  resolve: (m: TelemetryMessage | undefined) => void;
  timer?: NodeJS.Timeout;
}

/** For `vlad ctl` and tests: receives [topic, msgpack(body)] messages. */
export class TelemetrySubscriber {
  private readonly socket: Subscriber;
  private readonly logger: Logger;
  private readonly queue: TelemetryMessage[] = [];
  private readonly waiters: Waiter[] = [];
  private readonly topics = new Set<string>();
  private readonly counters: TelemetrySubscriberStats = { received: 0, rejected: 0, dropped: 0 };
  private readonly queueLength: number;
  private loop: Promise<void> | undefined;
  private closed = false;

  private constructor(readonly endpoint: string, opts: TelemetrySubscriberOptions) {
    this.logger = opts.logger ?? rootLogger().child({ part: 'telemetry' });
    this.queueLength = opts.queueLength ?? 1024;
    this.socket = new Subscriber({ linger: 0, ...(opts.security ? clientCurveOptions(opts.security) : {}) });
  }

  static async connect(endpoint: string, opts: TelemetrySubscriberOptions = {}): Promise<TelemetrySubscriber> {
    if (opts.security) validateClientCurve(opts.security);
    const s = new TelemetrySubscriber(endpoint, opts);
    if (opts.topics?.length) s.subscribe(opts.topics);
    else s.socket.subscribe();
    s.socket.connect(endpoint);
    s.loop = s.receiveLoop();
    return s;
  }

  /** Adds topics. ZeroMQ filters by prefix; the exact names are checked here. */
  subscribe(topics: readonly string[]): void {
    for (const t of topics) {
      if (this.topics.has(t)) continue;
      this.topics.add(t);
      this.socket.subscribe(t);
    }
  }

  private async receiveLoop(): Promise<void> {
    try {
      for await (const frames of this.socket) {
        const msg = this.decode(frames);
        if (!msg) continue;
        if (this.topics.size > 0 && !this.topics.has(msg.topic)) continue;
        this.counters.received++;
        const waiter = this.waiters.shift();
        if (waiter) {
          if (waiter.timer) clearTimeout(waiter.timer);
          waiter.resolve(msg);
          continue;
        }
        this.queue.push(msg);
        if (this.queue.length > this.queueLength) { this.queue.shift(); this.counters.dropped++; }
      }
    } catch (err) {
      if (!this.closed) this.logger.warn({ err }, 'telemetry receive loop ended');
    }
  }

  private decode(frames: Buffer[]): TelemetryMessage | undefined {
    const bad = (why: string): undefined => {
      this.counters.rejected++;
      this.logger.warn({ endpoint: this.endpoint, rejected: this.counters.rejected }, `telemetry message rejected: ${why}`);
      return undefined;
    };
    if (frames.length !== 2) return bad(`expected 2 frames, got ${frames.length}`);
    try {
      return { topic: frames[0]!.toString('utf8'), body: telemetryUnpackr.unpack(frames[1]!) };
    } catch (err) {
      return bad(`body is not msgpack (${(err as Error).message})`);
    }
  }

  private take(timeoutMs: number | undefined): Promise<TelemetryMessage | undefined> {
    const queued = this.queue.shift();
    if (queued) return Promise.resolve(queued);
    if (this.closed) return Promise.resolve(undefined);
    return new Promise((resolve) => {
      const waiter: Waiter = { resolve };
      if (timeoutMs !== undefined) {
        waiter.timer = setTimeout(() => {
          const i = this.waiters.indexOf(waiter);
          if (i >= 0) this.waiters.splice(i, 1);
          resolve(undefined);
        }, timeoutMs);
      }
      this.waiters.push(waiter);
    });
  }

  /** The next message in arrival order; rejects after timeoutMs (default 5 s) or on close. */
  async next(timeoutMs = 5000): Promise<TelemetryMessage> {
    const m = await this.take(timeoutMs);
    if (m) return m;
    throw new Error(this.closed ? 'telemetry subscriber closed' : `no telemetry from ${this.endpoint} within ${timeoutMs} ms`);
  }

  /** Every message until close(). */
  async *[Symbol.asyncIterator](): AsyncGenerator<TelemetryMessage, void, undefined> {
    for (;;) {
      const m = await this.take(undefined);
      if (!m) return;
      yield m;
    }
  }

  stats(): TelemetrySubscriberStats { return { ...this.counters }; }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const w of this.waiters.splice(0)) { if (w.timer) clearTimeout(w.timer); w.resolve(undefined); }
    this.socket.close();
    await this.loop;
  }
}
