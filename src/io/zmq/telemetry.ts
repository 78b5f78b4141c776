// Telemetry out of the daemon: a PUB socket, two frames per message, [topic, msgpack(body)]
// (topics such as 'status' and 'chunk'). PUB rather than a request path: watchers come and go and
// must never slow the control loop, so publish() never blocks and never throws; what cannot be sent
// right now is dropped and counted. A subscriber that joins late misses what came before.
import { Publisher, Subscriber } from 'zeromq';
import { Packr, Unpackr } from 'msgpackr';
import { rootLogger, type Logger } from '../../core/log.js';
import { checkBindSecurity, clientCurveOptions, serverCurveOptions, validateClientCurve, DEFAULT_ZAP_DOMAIN, type ClientCurve, type ServerCurve } from './security.js';
import { registerZapAllowlist, type ZapRegistration } from './zap.js';

export const DEFAULT_TELEMETRY_ENDPOINT = 'tcp://127.0.0.1:5571';
export const MAX_TOPIC_LENGTH = 128;

const packr = new Packr({ useRecords: false, encodeUndefinedAsNil: true });
const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true, int64AsType: 'number' });

export interface TelemetryMessage {
  topic: string;
  body: unknown;
}

export interface TelemetryPublisherOptions {
  endpoint: string;
  /** Required unless the endpoint is loopback/ipc (checkBindSecurity). */
  security?: ServerCurve;
  logger?: Logger;
  /** Messages queued per subscriber before PUB drops for it (default 1000). */
  sendHighWaterMark?: number;
}

export interface TelemetryPublisherStats {
  /** Handed to the socket. */
  published: number;
  /** Not sent: the socket refused it (or was closed). */
  dropped: number;
  /** Not sent: bad topic or a body msgpack cannot encode (a bug in the caller). */
  rejected: number;
}

export class TelemetryPublisher {
  private readonly socket: Publisher;
  private readonly logger: Logger;
  private readonly counters: TelemetryPublisherStats = { published: 0, dropped: 0, rejected: 0 };
  private zap: ZapRegistration | undefined;
  private closed = false;
  endpoint = '';

  private constructor(opts: TelemetryPublisherOptions) {
    this.logger = opts.logger ?? rootLogger().child({ part: 'telemetry' });
    // sendTimeout 0: a send completes or fails on the spot, so the caller is never held up.
    this.socket = new Publisher({ linger: 0, sendTimeout: 0, sendHighWaterMark: opts.sendHighWaterMark ?? 1000, ...(opts.security ? serverCurveOptions(opts.security) : {}) });
  }

  static async bind(opts: TelemetryPublisherOptions): Promise<TelemetryPublisher> {
    checkBindSecurity(opts.endpoint, opts.security);
    const p = new TelemetryPublisher(opts);
    try {
      if (opts.security) p.zap = await registerZapAllowlist(opts.security.zapDomain ?? DEFAULT_ZAP_DOMAIN, opts.security.allowedClients, p.logger);
      await p.socket.bind(opts.endpoint);
    } catch (err) {
      p.socket.close();
      await p.zap?.release();
      throw new Error(`telemetry: cannot bind ${opts.endpoint}: ${(err as Error).message}`);
    }
    p.endpoint = p.socket.lastEndpoint ?? opts.endpoint;
    p.logger.info({ endpoint: p.endpoint, curve: Boolean(opts.security) }, 'telemetry publisher listening');
    return p;
  }

  /** Queues one message; returns false when it was dropped or rejected. Never blocks, never throws. */
  publish(topic: string, body: unknown): boolean {
    if (this.closed) { this.counters.dropped++; return false; }
    if (typeof topic !== 'string' || topic.length === 0 || topic.length > MAX_TOPIC_LENGTH) return this.reject(`bad topic ${JSON.stringify(topic)}`);
    let frame: Buffer;
    try {
      frame = packr.pack(body);
    } catch (err) {
      return this.reject(`body of '${topic}' could not be encoded: ${(err as Error).message}`);
    }
    // sendTimeout 0 puts every send on zeromq.js's synchronous path (socket.cc: it never leaves a
    // write pending), so no send is ever in flight behind another: each one queues or is refused
    // (EAGAIN) right here, and a refusal counts as dropped. A subscriber past its high-water mark
    // is dropped for inside libzmq, silently, as PUB does.
    try {
      this.socket.send([topic, frame]).catch(() => { this.counters.dropped++; });
    } catch {
      this.counters.dropped++;
      return false;
    }
    this.counters.published++;
    return true;
  }

  private reject(message: string): false {
    this.counters.rejected++;
    this.logger.warn({ rejected: this.counters.rejected }, `telemetry message not published: ${message}`);
    return false;
  }

  stats(): TelemetryPublisherStats { return { ...this.counters }; }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.socket.close();
    await this.zap?.release();
  }
}

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
      return { topic: frames[0]!.toString('utf8'), body: unpackr.unpack(frames[1]!) };
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
