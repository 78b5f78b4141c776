// Telemetry out of the daemon: a PUB socket, two frames per message, [topic, msgpack(body)]
// (topics such as 'status' and 'chunk'). PUB rather than a request path: watchers come and go and
// must never slow the control loop, so publish() never blocks and never throws; what cannot be sent
// right now is dropped and counted. A subscriber that joins late misses what came before.
import { Publisher } from 'zeromq';
import { Packr, Unpackr } from 'msgpackr';
import { rootLogger, type Logger } from '../../core/index.js';
import { serverCurveOptions, type ServerCurve } from './security.js';
import { bindServerSocket, type ZapRegistration } from './zap.js';

export const DEFAULT_TELEMETRY_ENDPOINT = 'tcp://127.0.0.1:5571';
export const MAX_TOPIC_LENGTH = 128;

export const telemetryPackr = new Packr({ useRecords: false, encodeUndefinedAsNil: true });
export const telemetryUnpackr = new Unpackr({ useRecords: false, mapsAsObjects: true, int64AsType: 'number' });

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
    const p = new TelemetryPublisher(opts);
    p.zap = await bindServerSocket(p.socket, opts.endpoint, opts.security, 'telemetry', p.logger);
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
      frame = telemetryPackr.pack(body);
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
