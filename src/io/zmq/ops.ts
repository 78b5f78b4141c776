// The daemon's ops RPC server: a ROUTER socket that answers msgpack requests (ops-protocol.ts)
// from DEALER clients ([identity, payload]) and REQ clients ([identity, empty, payload]). The
// daemon injects the method table; each method's params schema is compiled with ajv at bind and
// every request is validated before its handler runs. Bad input never reaches a handler: it gets
// an error reply with a code, is counted, and changes nothing. Requests run concurrently; each
// reply is routed back by the identity it came with.
import { Ajv, type ValidateFunction } from 'ajv';
import { Router } from 'zeromq';
import { rootLogger, type Logger } from '../../core/index.js';
import { firstSchemaError } from '../../core/index.js';
import {
  OPS_ERROR_CODES, OPS_PROTOCOL_VERSION, OpsError, isPlainMap, isValidRequestId, opsPackr, opsUnpackr,
  type OpsErrorCode, type OpsReply, type OpsRequestId,
} from './ops-protocol.js';
import { serverCurveOptions, type ServerCurve } from './security.js';
import { bindServerSocket, type ZapRegistration } from './zap.js';

export const DEFAULT_OPS_ENDPOINT = 'tcp://127.0.0.1:5570';
export const DEFAULT_MAX_FRAME_BYTES = 1 << 20;
/** libzmq drops (and disconnects) frames past this multiple of maxFrameBytes; below it they get a bad_frame reply. */
const HARD_LIMIT_FACTOR = 4;
const MAX_METHOD_LENGTH = 128;
const REQUEST_FIELDS = new Set(['v', 'id', 'method', 'params']);

export interface OpsMethod<P = any> {
  /** JSON schema of the params map (missing params are validated as {}); its `default`s are filled in. */
  params: Record<string, unknown>;
  /** Throw `new OpsError('refused', why)` to refuse; any other throw answers `internal`. */
  handler(params: P): unknown;
  description?: string;
}

export type OpsMethods = Record<string, OpsMethod>;

export interface OpsServerOptions {
  /** e.g. tcp://127.0.0.1:5570 (tcp://127.0.0.1:* picks a port) or ipc:///run/vlad/ops.sock. */
  endpoint: string;
  methods: OpsMethods;
  /** Required unless the endpoint is loopback/ipc (checkBindSecurity). */
  security?: ServerCurve;
  logger?: Logger;
  /** Largest request payload answered (default 1 MiB); larger ones get bad_frame. */
  maxFrameBytes?: number;
}

export interface OpsStats {
  /** Messages received (every one gets a reply unless libzmq dropped it first). */
  requests: number;
  ok: number;
  /** Error replies, all codes. */
  errors: number;
  /** Malformed messages, rejected before a method was looked up (bad_frame, bad_version, bad_request). */
  badFrames: number;
  byCode: Record<OpsErrorCode, number>;
}

interface CompiledMethod {
  readonly method: OpsMethod;
  readonly validate: ValidateFunction;
}

type Outcome = { id: OpsRequestId | null; ok: true; result: unknown } | { id: OpsRequestId | null; ok: false; code: OpsErrorCode; message: string };

const MALFORMED: ReadonlySet<OpsErrorCode> = new Set(['bad_frame', 'bad_version', 'bad_request']);

export class OpsServer {
  private readonly socket: Router;
  private readonly methods = new Map<string, CompiledMethod>();
  private readonly logger: Logger;
  private readonly maxFrameBytes: number;
  private readonly counters: OpsStats = { requests: 0, ok: 0, errors: 0, badFrames: 0, byCode: Object.fromEntries(OPS_ERROR_CODES.map((c) => [c, 0])) as Record<OpsErrorCode, number> };
  private zap: ZapRegistration | undefined;
  private loop: Promise<void> | undefined;
  private closed = false;
  endpoint = '';

  private constructor(opts: OpsServerOptions) {
    this.logger = opts.logger ?? rootLogger().child({ part: 'ops' });
    this.maxFrameBytes = opts.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
    if (!Number.isSafeInteger(this.maxFrameBytes) || this.maxFrameBytes < 64) throw new Error(`ops: maxFrameBytes must be an integer >= 64 (got ${opts.maxFrameBytes})`);
    const ajv = new Ajv({ strict: true, useDefaults: true });
    for (const [name, method] of Object.entries(opts.methods)) {
      if (name.length === 0 || name.length > MAX_METHOD_LENGTH) throw new Error(`ops: method name '${name}' must be 1..${MAX_METHOD_LENGTH} characters`);
      let validate: ValidateFunction;
      try {
        validate = ajv.compile(method.params);
      } catch (err) {
        throw new Error(`ops: method '${name}': bad params schema: ${(err as Error).message}`);
      }
      this.methods.set(name, { method, validate });
    }
    this.socket = new Router({
      linger: 0,
      // A ROUTER never blocks; sendTimeout 0 keeps every send on zeromq.js's synchronous path, so
      // concurrent replies never meet "socket busy" (only one pending send is allowed).
      sendTimeout: 0,
      maxMessageSize: this.maxFrameBytes * HARD_LIMIT_FACTOR,
      ...(opts.security ? serverCurveOptions(opts.security) : {}),
    });
  }

  static async bind(opts: OpsServerOptions): Promise<OpsServer> {
    const s = new OpsServer(opts);
    s.zap = await bindServerSocket(s.socket, opts.endpoint, opts.security, 'ops', s.logger);
    s.endpoint = s.socket.lastEndpoint ?? opts.endpoint;
    s.logger.info({ endpoint: s.endpoint, curve: Boolean(opts.security), methods: [...s.methods.keys()] }, 'ops server listening');
    s.loop = s.receiveLoop();
    return s;
  }

  private async receiveLoop(): Promise<void> {
    try {
      for await (const frames of this.socket) {
        this.counters.requests++;
        void this.handle(frames);
      }
    } catch (err) {
      if (!this.closed) this.logger.warn({ err }, 'ops receive loop ended');
    }
  }

  private async handle(frames: Buffer[]): Promise<void> {
    // REQ puts an empty delimiter between the identity and the payload; DEALER clients do not.
    const withDelimiter = frames.length >= 3 && frames[1]!.length === 0;
    const envelope = frames.slice(0, withDelimiter ? 2 : 1);
    const payload = frames.slice(envelope.length);
    let outcome: Outcome;
    try {
      outcome = await this.process(payload);
    } catch (err) {
      this.logger.error({ err }, 'ops: unexpected failure');
      outcome = { id: null, ok: false, code: 'internal', message: 'internal error' };
    }
    this.reply(envelope, outcome);
  }

  private async process(payload: Buffer[]): Promise<Outcome> {
    const fail = (code: OpsErrorCode, message: string, id: OpsRequestId | null = null): Outcome => ({ id, ok: false, code, message });
    if (payload.length !== 1) return fail('bad_frame', `expected 1 payload frame, got ${payload.length}`);
    const frame = payload[0]!;
    if (frame.length > this.maxFrameBytes) return fail('bad_frame', `frame of ${frame.length} bytes exceeds the ${this.maxFrameBytes}-byte limit`);
    let msg: unknown;
    try {
      msg = opsUnpackr.unpack(frame);
    } catch (err) {
      return fail('bad_frame', `not msgpack (${(err as Error).message})`);
    }
    if (!isPlainMap(msg)) return fail('bad_frame', 'request is not a map');
    const id = isValidRequestId(msg.id) ? msg.id : null;
    if (msg.v !== OPS_PROTOCOL_VERSION) return fail('bad_version', `field v: expected ${OPS_PROTOCOL_VERSION}, got ${String(msg.v)}`, id);
    if (id === null) return fail('bad_request', 'field id: expected a non-negative integer or a string of at most 64 characters');
    if (typeof msg.method !== 'string' || msg.method.length === 0 || msg.method.length > MAX_METHOD_LENGTH) {
      return fail('bad_request', `field method: expected a string of 1..${MAX_METHOD_LENGTH} characters`, id);
    }
    const unknown = Object.keys(msg).find((k) => !REQUEST_FIELDS.has(k));
    if (unknown !== undefined) return fail('bad_request', `unknown field '${unknown}'`, id);
    const entry = this.methods.get(msg.method);
    if (!entry) return fail('unknown_method', `unknown method '${msg.method}'; known: ${[...this.methods.keys()].sort().join(', ') || '(none)'}`, id);
    const params = msg.params ?? {};
    if (!isPlainMap(params)) return fail('bad_params', 'params: expected a map', id);
    if (!entry.validate(params)) {
      const { field, message } = firstSchemaError(entry.validate.errors);
      return fail('bad_params', `params${field === '(root)' ? '' : `.${field}`}: ${message}`, id);
    }
    try {
      return { id, ok: true, result: await entry.method.handler(params) };
    } catch (err) {
      if (err instanceof OpsError) return fail(err.code, err.message, id);
      // The message only: a stack trace would show the daemon's internals to the client.
      this.logger.error({ err, method: msg.method, id }, 'ops method failed');
      return fail('internal', err instanceof Error ? err.message : 'method failed', id);
    }
  }

  private reply(envelope: Buffer[], outcome: Outcome): void {
    let body: Buffer;
    let final = outcome;
    try {
      body = opsPackr.pack(this.wire(outcome));
    } catch (err) {
      final = { id: outcome.id, ok: false, code: 'internal', message: `result could not be encoded: ${(err as Error).message}` };
      this.logger.error({ err, id: outcome.id }, 'ops result could not be encoded');
      body = opsPackr.pack(this.wire(final));
    }
    this.count(final);
    if (this.closed) return;
    try {
      this.socket.send([...envelope, body]).catch((err: unknown) => this.logger.warn({ err }, 'ops reply not sent'));
    } catch (err) {
      this.logger.warn({ err }, 'ops reply not sent');
    }
  }

  private wire(o: Outcome): OpsReply {
    return o.ok
      ? { v: OPS_PROTOCOL_VERSION, id: o.id, ok: true, result: o.result }
      : { v: OPS_PROTOCOL_VERSION, id: o.id, ok: false, error: { code: o.code, message: o.message } };
  }

  private count(o: Outcome): void {
    if (o.ok) { this.counters.ok++; return; }
    this.counters.errors++;
    this.counters.byCode[o.code]++;
    if (MALFORMED.has(o.code)) this.counters.badFrames++;
    // internal: logged with its stack where it happened. refused: the daemon said no, not bad input.
    if (o.code === 'refused') this.logger.info({ id: o.id }, `ops request refused: ${o.message}`);
    else if (o.code !== 'internal') this.logger.warn({ endpoint: this.endpoint, code: o.code, id: o.id }, `ops request rejected: ${o.message}`);
  }

  stats(): OpsStats {
    return { ...this.counters, byCode: { ...this.counters.byCode } };
  }

  /** Closes the socket; resolves once the receive loop ended. Replies still pending are dropped. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.socket.close();
    await this.loop;
    await this.zap?.release();
  }
}
