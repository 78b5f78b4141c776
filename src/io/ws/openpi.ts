// An openpi-compatible policy server (reference/peer-protocols.md): openpi's unchanged
// `WebsocketClientPolicy` drives vlad's policy. RFC 6455 WebSocket on any path, the metadata frame
// first, then one msgpack reply per msgpack observation, in order; `GET /healthz`. Unlike openpi's
// own server: an API key (the `Authorization: Api-Key` header its client already sends) checked in
// constant time, TLS when a certificate is configured, a message size limit, a per-connection rate
// limit and request timeout, inference off the event loop (in the policy worker), and on bad input
// a short text frame + close 1011, never a traceback.
import { createServer as createHttpServer, type IncomingMessage, type Server as HttpServer, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket, type RawData } from 'ws';
import type { CameraImage, Logger } from '../../core/index.js';
import { rootLogger } from '../../core/index.js';
import {
  RateLimiter, WireError, constantTimeEqual, withTimeout, decodeArrayMap, decodeFrame, encodeFrame, float32Array, isArrayMap, isMap, toCameraImage, toFloat64, toOpenpiArray,
  type ArrayLimits, type DecodeLimits, type ImageLayout, type PeerCounter, type PeerPolicy, type WireMap,
} from '../wire/index.js';

/** Which openpi observation keys are which bundle inputs. */
export interface OpenpiMapping {
  /** openpi image key -> bundle camera name. */
  images: Record<string, string>;
  /** openpi keys whose values, concatenated in this order, are the bundle's state vector. */
  state: string[];
  prompt: string;
  imageLayout: ImageLayout;
}

export interface OpenpiServerOptions {
  host: string;
  port: number;
  policy: PeerPolicy;
  mapping: OpenpiMapping;
  /** Required in `Authorization: Api-Key <key>` when set (compared in constant time). */
  apiKey?: string | undefined;
  /** TLS (wss://): PEM certificate and key. */
  tls?: { cert: string | Buffer; key: string | Buffer } | undefined;
  /** Extra entries of the metadata frame (openpi's policy_metadata, e.g. reset_pose). */
  metadata?: Record<string, unknown>;
  limits?: Partial<DecodeLimits & ArrayLimits>;
  rate?: { perS: number; burst: number };
  requestTimeoutMs?: number;
  count?: PeerCounter;
  logger?: Logger;
}

export const DEFAULT_OPENPI_PORT = 8000;

/** The default mapping: `observation/<camera>` for each bundle camera, `observation/state`, `prompt`. */
export function defaultOpenpiMapping(policy: PeerPolicy): OpenpiMapping {
  return { images: Object.fromEntries(policy.io.cameras.map((c) => [`observation/${c.name}`, c.name])), state: ['observation/state'], prompt: 'prompt', imageLayout: 'auto' };
}

export function checkOpenpiMapping(m: OpenpiMapping, policy: PeerPolicy): void {
  const where = (s: string) => `serve.openpi mapping: ${s}`;
  const cams = policy.io.cameras.map((c) => c.name);
  for (const [k, cam] of Object.entries(m.images)) if (!cams.includes(cam)) throw new Error(where(`images.${k}: the bundle has no camera '${cam}' (${cams.join(', ')})`));
  for (const cam of cams) if (!Object.values(m.images).includes(cam)) throw new Error(where(`no image key for the bundle's camera '${cam}'`));
  if (m.state.length === 0) throw new Error(where('no state keys'));
  if (!m.prompt) throw new Error(where('no prompt key'));
}

/** Loopback hosts: anything else needs an API key (and should have TLS). */
const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1']);

class RequestError extends Error {
  constructor(readonly outcome: 'error' | 'rate_limited' | 'timeout', message: string) { super(message); }
}

export class OpenpiServer {
  private readonly http: HttpServer;
  private readonly wss: WebSocketServer;
  private readonly log: Logger;
  private readonly limits: DecodeLimits & ArrayLimits;
  private readonly rate: RateLimiter;
  private connections = 0;
  readonly stats = { connections: 0, requests: 0, ok: 0, errors: 0, unauthorized: 0 };
  port = 0;

  private constructor(private readonly o: OpenpiServerOptions) {
    this.log = o.logger ?? rootLogger().child({ part: 'openpi' });
    this.limits = { maxBytes: 32 << 20, maxDepth: 12, maxNodes: 50_000, maxElements: 8 << 20, ...o.limits };
    this.rate = new RateLimiter(o.rate?.perS ?? 200, o.rate?.burst ?? 50);
    const onRequest = (req: IncomingMessage, res: ServerResponse) => this.onHttp(req, res);
    this.http = o.tls ? createHttpsServer({ cert: o.tls.cert, key: o.tls.key }, onRequest) : createHttpServer(onRequest);
    this.wss = new WebSocketServer({ noServer: true, maxPayload: this.limits.maxBytes, perMessageDeflate: false });
    this.http.on('upgrade', (req, socket, head) => {
      if (!this.authorized(req)) {
        this.stats.unauthorized++;
        this.o.count?.('openpi', 'unauthorized');
        socket.end('HTTP/1.1 401 Unauthorized\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\nInvalid or missing API key\n');
        return;
      }
      this.wss.handleUpgrade(req, socket, head, (ws) => this.onConnection(ws, req));
    });
  }

  static async listen(o: OpenpiServerOptions): Promise<OpenpiServer> {
    if (!LOOPBACK.has(o.host) && !o.apiKey) throw new Error(`openpi: serving on ${o.host} (beyond loopback) requires an API key (serve.openpi.api_key_file), and TLS should be configured (serve.openpi.tls)`);
    checkOpenpiMapping(o.mapping, o.policy);
    const s = new OpenpiServer(o);
    await new Promise<void>((resolve, reject) => {
      s.http.once('error', reject);
      s.http.listen(o.port, o.host, () => { s.http.off('error', reject); resolve(); });
    });
    s.port = (s.http.address() as AddressInfo).port;
    s.log.info({ host: o.host, port: s.port, tls: Boolean(o.tls), api_key: Boolean(o.apiKey) }, 'openpi policy server listening');
    return s;
  }

  get url(): string { return `${this.o.tls ? 'wss' : 'ws'}://${this.o.host}:${this.port}`; }

  private authorized(req: IncomingMessage): boolean {
    if (this.o.apiKey === undefined) return true;
    const h = req.headers.authorization ?? '';
    const m = /^Api-Key (.+)$/.exec(h);
    return m !== null && constantTimeEqual(m[1]!, this.o.apiKey);
  }

  private onHttp(req: IncomingMessage, res: ServerResponse): void {
    if (req.method === 'GET' && (req.url ?? '/').split('?')[0] === '/healthz') {
      res.writeHead(200, { 'content-type': 'text/plain' }).end('OK\n');
      return;
    }
    res.writeHead(426, { 'content-type': 'text/plain' }).end('this is an openpi policy server: connect with a WebSocket client\n');
  }

  private metadata(): Buffer {
    const io = this.o.policy.io;
    return encodeFrame({ ...this.o.metadata, action_horizon: io.horizon, action_dim: io.actionDim, model: io.model, control_dt: io.controlDt });
  }

  private onConnection(ws: WebSocket, req: IncomingMessage): void {
    const client = `${req.socket.remoteAddress}:${req.socket.remotePort}:${++this.connections}`;
    this.stats.connections++;
    ws.send(this.metadata());
    let queue: Promise<void> = Promise.resolve();
    let prevTotalMs: number | undefined;
    let failed = false;
    ws.on('message', (data: RawData, isBinary: boolean) => {
      // One request at a time per connection, in order (openpi's client waits for each reply).
      queue = queue.then(async () => {
        if (failed || ws.readyState !== ws.OPEN) return;
        this.stats.requests++;
        const started = performance.now();
        try {
          if (!isBinary) throw new WireError('expected a binary msgpack frame');
          if (!this.rate.take(client)) throw new RequestError('rate_limited', 'rate limit exceeded');
          const frame = Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data as ArrayBuffer);
          const { actions, inferMs } = await withTimeout(this.infer(frame), this.o.requestTimeoutMs ?? 10_000, (ms) => new RequestError('timeout', `no answer within ${ms} ms`));
          const totalMs = performance.now() - started;
          const reply = new Map<string, unknown>([
            ['actions', toOpenpiArray(float32Array(actions, [this.o.policy.io.horizon, this.o.policy.io.actionDim]))],
            ['policy_timing', { infer_ms: inferMs }],
            ['server_timing', { infer_ms: totalMs, ...(prevTotalMs !== undefined ? { prev_total_ms: prevTotalMs } : {}) }],
          ]);
          prevTotalMs = totalMs;
          ws.send(encodeFrame(reply));
          this.stats.ok++;
          this.o.count?.('openpi', 'ok');
        } catch (err) {
          failed = true;
          this.stats.errors++;
          const known = err instanceof WireError || err instanceof RequestError;
          this.o.count?.('openpi', err instanceof RequestError ? err.outcome : 'error');
          if (!known) this.log.error({ err, client }, 'openpi request failed');
          const message = known ? (err as Error).message : `inference failed: ${err instanceof Error ? err.message.split('\n')[0]!.slice(0, 200) : 'error'}`;
          // openpi's error form: a text frame, then close 1011; no traceback.
          ws.send(`Error in vlad policy server: ${message}`);
          ws.close(1011, 'Internal server error. Error message in previous frame.');
        }
      });
    });
    ws.on('error', () => undefined); // a peer's bad frame (e.g. over maxPayload) closes it; nothing else to do
    ws.on('close', () => this.rate.forget(client));
  }

  private async infer(frame: Buffer): Promise<{ actions: Float32Array; inferMs: number }> {
    const m = this.o.mapping;
    const io = this.o.policy.io;
    const obs = decodeFrame(frame, this.limits);
    if (!isMap(obs)) throw new WireError('observation is not a map');
    const get = (key: string) => {
      const v = key.split('/').length > 1 && obs[key] === undefined ? nestedGet(obs, key) : obs[key];
      if (v === undefined) throw new WireError(`observation has no '${key.slice(0, 80)}'`);
      return v;
    };
    const images: Record<string, CameraImage> = {};
    for (const [key, camName] of Object.entries(m.images)) {
      const v = get(key);
      if (!isArrayMap(v)) throw new WireError(`'${key}' is not an array`);
      images[camName] = await toCameraImage(decodeArrayMap(v, this.limits), io.cameras.find((c) => c.name === camName)!, m.imageLayout, key);
    }
    const parts: number[] = [];
    for (const key of m.state) {
      const v = get(key);
      if (typeof v === 'number') parts.push(v);
      else if (isMap(v) && v.__npgeneric__ === true && typeof v.data === 'number') parts.push(v.data);
      else if (isArrayMap(v)) parts.push(...toFloat64(decodeArrayMap(v, this.limits)));
      else throw new WireError(`'${key}' is not numeric`);
    }
    if (parts.length !== io.stateDim) throw new WireError(`state (${m.state.join(' + ')}) has ${parts.length} values, the bundle takes ${io.stateDim}`);
    if (parts.some((x) => !Number.isFinite(x))) throw new WireError('state has non-finite values');
    const prompt = get(m.prompt);
    if (typeof prompt !== 'string' || prompt.length === 0 || prompt.length > 2000) throw new WireError(`'${m.prompt}' must be a non-empty string`);
    const r = await this.o.policy.infer({ stampNs: process.hrtime.bigint(), images, state: Float32Array.from(parts), instruction: prompt });
    return { actions: r.actions, inferMs: r.inferMs };
  }

  async close(): Promise<void> {
    for (const ws of this.wss.clients) ws.terminate();
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
    await new Promise<void>((resolve) => this.http.close(() => resolve()));
  }
}

/** `a/b` as obs.a.b (openpi's ALOHA form nests images under `images`). */
function nestedGet(obs: WireMap, path: string): WireMap[string] | undefined {
  let cur: WireMap[string] | undefined = obs;
  for (const part of path.split('/')) {
    if (!isMap(cur)) return undefined;
    cur = cur[part];
  }
  return cur;
}
