// The client side of the ops RPC (vlad ctl, tests): a DEALER socket, so calls can overlap; replies
// are matched to calls by id, and replies nobody waits for any more (after a timeout) are ignored.
import { Dealer } from 'zeromq';
import { OPS_PROTOCOL_VERSION, isPlainMap, opsPackr, opsUnpackr, type OpsErrorCode } from './ops-protocol.js';
import { clientCurveOptions, validateClientCurve, type ClientCurve } from './security.js';

export const DEFAULT_CALL_TIMEOUT_MS = 5000;

/** A failed call: the daemon's error code and message, or a local one. */
export type OpsCallErrorCode = OpsErrorCode | 'timeout' | 'closed' | 'unavailable' | 'bad_reply';

export class OpsCallError extends Error {
  constructor(readonly code: OpsCallErrorCode, message: string, readonly method: string) {
    super(message);
    this.name = 'OpsCallError';
  }
}

export interface OpsClientOptions {
  security?: ClientCurve;
  /** Default per-call timeout (5 s). */
  timeoutMs?: number;
}

interface Pending {
  method: string;
  resolve: (result: unknown) => void;
  reject: (err: OpsCallError) => void;
  timer: NodeJS.Timeout;
}

export class OpsClient {
  private readonly socket: Dealer;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private closed = false;
  private loop: Promise<void> | undefined;
  /** Replies that matched no waiting call (late after a timeout, or not ours). */
  ignoredReplies = 0;

  private constructor(readonly endpoint: string, private readonly timeoutMs: number, security: ClientCurve | undefined) {
    // sendTimeout 0: a request either queues at once (libzmq queues before the connection is up) or
    // fails at once; never a send pending behind another.
    this.socket = new Dealer({ linger: 0, sendTimeout: 0, ...(security ? clientCurveOptions(security) : {}) });
  }

  static async connect(endpoint: string, opts: OpsClientOptions = {}): Promise<OpsClient> {
    if (opts.security) validateClientCurve(opts.security);
    const c = new OpsClient(endpoint, opts.timeoutMs ?? DEFAULT_CALL_TIMEOUT_MS, opts.security);
    c.socket.connect(endpoint);
    c.loop = c.receiveLoop();
    return c;
  }

  /** Calls `method`; resolves with its result, rejects with an OpsCallError. */
  call<T = unknown>(method: string, params?: Record<string, unknown>, opts: { timeoutMs?: number } = {}): Promise<T> {
    if (this.closed) return Promise.reject(new OpsCallError('closed', 'ops client closed', method));
    const id = this.nextId++;
    const timeoutMs = opts.timeoutMs ?? this.timeoutMs;
    let frame: Buffer;
    try {
      frame = opsPackr.pack(params === undefined ? { v: OPS_PROTOCOL_VERSION, id, method } : { v: OPS_PROTOCOL_VERSION, id, method, params });
    } catch (err) {
      return Promise.reject(new OpsCallError('bad_request', `params could not be encoded: ${(err as Error).message}`, method));
    }
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new OpsCallError('timeout', `no reply from ${this.endpoint} to '${method}' within ${timeoutMs} ms (daemon not running, or its CURVE allowlist refused this client?)`, method));
      }, timeoutMs);
      this.pending.set(id, { method, resolve: resolve as (r: unknown) => void, reject, timer });
      const unavailable = (err: unknown): void => this.settle(id, new OpsCallError('unavailable', `cannot send to ${this.endpoint}: ${(err as Error).message}`, method));
      try {
        this.socket.send(frame).catch(unavailable);
      } catch (err) {
        unavailable(err);
      }
    });
  }

  private settle(id: number, outcome: OpsCallError | { result: unknown }): void {
    const p = this.pending.get(id);
    if (!p) { this.ignoredReplies++; return; }
    this.pending.delete(id);
    clearTimeout(p.timer);
    if (outcome instanceof OpsCallError) p.reject(outcome);
    else p.resolve(outcome.result);
  }

  private async receiveLoop(): Promise<void> {
    try {
      for await (const frames of this.socket) {
        let msg: unknown;
        try {
          msg = frames.length === 1 ? opsUnpackr.unpack(frames[0]!) : undefined;
        } catch {
          msg = undefined;
        }
        if (!isPlainMap(msg) || msg.v !== OPS_PROTOCOL_VERSION || typeof msg.id !== 'number') { this.ignoredReplies++; continue; }
        const method = this.pending.get(msg.id)?.method ?? '?';
        if (msg.ok === true) { this.settle(msg.id, { result: msg.result }); continue; }
        const e = msg.error;
        if (msg.ok === false && isPlainMap(e) && typeof e.code === 'string' && typeof e.message === 'string') {
          this.settle(msg.id, new OpsCallError(e.code as OpsCallErrorCode, e.message, method));
        } else {
          this.settle(msg.id, new OpsCallError('bad_reply', `malformed reply from ${this.endpoint}`, method));
        }
      }
    } catch {
      // closed
    }
  }

  /** Closes the socket; calls still waiting reject with code 'closed'. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const [id, p] of this.pending) this.settle(id, new OpsCallError('closed', 'ops client closed', p.method));
    this.socket.close();
    await this.loop;
  }
}
