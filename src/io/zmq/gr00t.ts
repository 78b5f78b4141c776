// A GR00T-compatible policy service (reference/peer-protocols.md): NVIDIA's unchanged clients
// (the N1.5 `ExternalRobotInferenceClient`, the N1.7 release's and main's `PolicyClient`) drive
// vlad's policy. ZeroMQ ROUTER, which REQ clients see as the REP they expect (one reply per
// request, in order per client), so that every client has an identity for its rate limit and a
// slow client never holds up another. msgpack bodies; arrays arrive in either encoding and are
// answered in the release form both generations read. Unlike GR00T's own server: the token is
// compared in constant time and before any array is decoded, `kill` is refused unless enabled,
// frames have a size limit, object arrays never exist, errors are a short message (no traceback),
// and binding beyond loopback needs CURVE.
import { Router } from 'zeromq';
import type { CameraImage, Logger } from '../../core/index.js';
import { rootLogger } from '../../core/index.js';
import {
  RateLimiter, WireError, constantTimeEqual, withTimeout, decodeArrayMap, decodeFrame, encodeFrame, float32Array, isArrayMap, isMap, toCameraImage, toFloat64, toGr00tArray,
  type ArrayLimits, type DecodeLimits, type ImageLayout, type NdArray, type PeerCounter, type PeerPolicy, type WireMap, type WireValue,
} from '../wire/index.js';
import { serverCurveOptions, type ServerCurve } from './security.js';
import { bindServerSocket, type ZapRegistration } from './zap.js';

/** Which GR00T keys are which bundle inputs and outputs. Slices are [start, end) into the bundle's vectors. */
export interface Gr00tMapping {
  /** GR00T video key -> bundle camera name. */
  video: Record<string, string>;
  /** GR00T state key -> [start, end) of the bundle's state vector (together they cover it once). */
  state: Record<string, readonly [number, number]>;
  /** GR00T action key -> [start, end) of the bundle's action vector. */
  action: Record<string, readonly [number, number]>;
  /** The language key (GR00T: annotation.human.task_description). */
  language: string;
  imageLayout: ImageLayout;
}

export interface Gr00tServerOptions {
  endpoint: string;
  policy: PeerPolicy;
  mapping: Gr00tMapping;
  /** GR00T's `api_token`: required in every request when set (compared in constant time). */
  apiToken?: string | undefined;
  /** `kill` stops this server when true; refused otherwise (GR00T lets anyone call it). */
  allowKill?: boolean;
  /** `get_modality_config` in the N1.6+ form (a map; main reads it too) or N1.5's (a JSON string, prefixed keys). */
  modalityConfigForm?: 'n16' | 'n15';
  security?: ServerCurve | undefined;
  limits?: Partial<DecodeLimits & ArrayLimits>;
  /** Requests per second per client (and the burst allowed). */
  rate?: { perS: number; burst: number };
  /** A request not answered within this is answered with an error. */
  requestTimeoutMs?: number;
  count?: PeerCounter;
  logger?: Logger;
  /** Called when an allowed `kill` stopped the server. */
  onKill?: () => void;
}

export const DEFAULT_GR00T_ENDPOINT = 'tcp://127.0.0.1:5555';
export const GR00T_LANGUAGE_KEY = 'annotation.human.task_description';

/** The default mapping: every bundle camera by its name, one `state` and one `action` key (whole vectors). */
export function defaultGr00tMapping(policy: PeerPolicy): Gr00tMapping {
  const io = policy.io;
  return {
    video: Object.fromEntries(io.cameras.map((c) => [c.name, c.name])),
    state: { state: [0, io.stateDim] },
    action: { action: [0, io.actionDim] },
    language: GR00T_LANGUAGE_KEY,
    imageLayout: 'auto',
  };
}

/** Checks a mapping against the bundle at start-up: every error names the key at fault. */
export function checkGr00tMapping(m: Gr00tMapping, policy: PeerPolicy): void {
  const io = policy.io;
  const where = (s: string) => `serve.gr00t mapping: ${s}`;
  if (Object.keys(m.video).length === 0) throw new Error(where('no video keys'));
  for (const [k, cam] of Object.entries(m.video)) if (!io.cameras.some((c) => c.name === cam)) throw new Error(where(`video.${k}: the bundle has no camera '${cam}' (${io.cameras.map((c) => c.name).join(', ')})`));
  for (const cam of io.cameras) if (!Object.values(m.video).includes(cam.name)) throw new Error(where(`no video key for the bundle's camera '${cam.name}'`));
  const cover = (what: 'state' | 'action', slices: Record<string, readonly [number, number]>, dim: number, whole: boolean) => {
    const used = new Array<string | undefined>(dim).fill(undefined);
    for (const [k, [a, b]] of Object.entries(slices)) {
      if (!(Number.isInteger(a) && Number.isInteger(b) && a >= 0 && a < b && b <= dim)) throw new Error(where(`${what}.${k}: [${a}, ${b}) is not a slice of the ${dim}-long ${what} vector`));
      for (let i = a; i < b; i++) {
        if (used[i]) throw new Error(where(`${what}.${k} and ${what}.${used[i]} both cover index ${i}`));
        used[i] = k;
      }
    }
    if (whole && used.some((u) => u === undefined)) throw new Error(where(`${what} keys leave index ${used.indexOf(undefined)} of the bundle's ${what} uncovered`));
  };
  cover('state', m.state, io.stateDim, true);
  cover('action', m.action, io.actionDim, false);
  if (Object.keys(m.action).length === 0) throw new Error(where('no action keys'));
  if (!m.language) throw new Error(where('no language key'));
}

const NO_REPLY = Symbol('no reply');

export class Gr00tServer {
  private readonly socket: Router;
  private readonly log: Logger;
  private readonly limits: DecodeLimits & ArrayLimits;
  private readonly rate: RateLimiter;
  private zap: ZapRegistration | undefined;
  private loop: Promise<void> | undefined;
  private closed = false;
  endpoint = '';
  readonly stats = { requests: 0, ok: 0, errors: 0 };

  private constructor(private readonly o: Gr00tServerOptions) {
    this.log = o.logger ?? rootLogger().child({ part: 'gr00t' });
    this.limits = { maxBytes: 32 << 20, maxDepth: 12, maxNodes: 50_000, maxElements: 8 << 20, ...o.limits };
    this.rate = new RateLimiter(o.rate?.perS ?? 200, o.rate?.burst ?? 50);
    this.socket = new Router({ linger: 0, sendTimeout: 0, maxMessageSize: this.limits.maxBytes, ...(o.security ? serverCurveOptions(o.security) : {}) });
  }

  static async bind(o: Gr00tServerOptions): Promise<Gr00tServer> {
    checkGr00tMapping(o.mapping, o.policy);
    const s = new Gr00tServer(o);
    s.zap = await bindServerSocket(s.socket, o.endpoint, o.security, 'gr00t', s.log);
    s.endpoint = s.socket.lastEndpoint ?? o.endpoint;
    s.log.info({ endpoint: s.endpoint, curve: Boolean(o.security), token: Boolean(o.apiToken), kill: o.allowKill ?? false }, 'GR00T policy service listening');
    s.loop = s.receiveLoop();
    return s;
  }

  private async receiveLoop(): Promise<void> {
    try {
      for await (const frames of this.socket) void this.handle(frames);
    } catch (err) {
      if (!this.closed) this.log.warn({ err }, 'gr00t receive loop ended');
    }
  }

  private async handle(frames: Buffer[]): Promise<void> {
    this.stats.requests++;
    // REQ clients put an empty delimiter after their identity; a DEALER may not.
    const withDelimiter = frames.length >= 3 && frames[1]!.length === 0;
    const envelope = frames.slice(0, withDelimiter ? 2 : 1);
    const payload = frames.slice(envelope.length);
    const client = frames[0]!.toString('hex');
    let reply: unknown;
    try {
      reply = await this.answer(payload, client);
    } catch (err) {
      reply = this.error(err);
    }
    if (reply === NO_REPLY || this.closed) return;
    let body: Buffer;
    try {
      body = encodeFrame(reply);
    } catch {
      body = encodeFrame({ error: 'the reply could not be encoded' });
    }
    try {
      this.socket.send([...envelope, body]).catch(() => undefined);
    } catch { /* the client went away */ }
  }

  private error(err: unknown): { error: string } {
    this.stats.errors++;
    if (err instanceof WireError || err instanceof Gr00tRequestError) {
      this.o.count?.('gr00t', err instanceof Gr00tRequestError ? err.outcome : 'error');
      return { error: err.message };
    }
    this.o.count?.('gr00t', 'error');
    this.log.error({ err }, 'gr00t request failed');
    return { error: err instanceof Error ? err.message.split('\n')[0]!.slice(0, 200) : 'request failed' };
  }

  private async answer(payload: Buffer[], client: string): Promise<unknown> {
    if (payload.length !== 1) throw new WireError(`expected one message frame, got ${payload.length}`);
    const m = decodeFrame(payload[0]!, this.limits);
    if (!isMap(m)) throw new WireError('request is not a map');
    // The token first: nothing the client sent is decoded further before it is checked.
    if (this.o.apiToken !== undefined && !(typeof m.api_token === 'string' && constantTimeEqual(m.api_token, this.o.apiToken))) {
      throw new Gr00tRequestError('unauthorized', 'Unauthorized: Invalid API token');
    }
    if (!this.rate.take(client)) throw new Gr00tRequestError('rate_limited', 'rate limit exceeded');
    const endpoint = m.endpoint === undefined || m.endpoint === null ? 'get_action' : m.endpoint;
    if (typeof endpoint !== 'string') throw new WireError('endpoint must be a string');
    const result = await this.dispatch(endpoint, m.data);
    this.stats.ok++;
    this.o.count?.('gr00t', 'ok');
    return result;
  }

  private async dispatch(endpoint: string, data: WireValue | undefined): Promise<unknown> {
    switch (endpoint) {
      case 'ping': return { status: 'ok', message: 'Server is running' };
      case 'kill':
        if (!this.o.allowKill) throw new Gr00tRequestError('refused', 'kill is disabled on this server (serve.gr00t.allow_kill)');
        setImmediate(() => { void this.close().then(() => this.o.onKill?.()); });
        return null;
      case 'reset': return { status: 'ok' };
      case 'get_modality_config': return this.modalityConfig();
      case 'get_action': return withTimeout(this.getAction(data), this.o.requestTimeoutMs ?? 10_000, (ms) => new Gr00tRequestError('timeout', `no answer within ${ms} ms`));
      default: throw new Gr00tRequestError('error', `unknown endpoint '${endpoint.slice(0, 64)}' (ping, get_action, reset, get_modality_config, kill)`);
    }
  }

  /** `{modality: ModalityConfig}` built from the mapping and the bundle. */
  modalityConfig(): Record<string, unknown> {
    const m = this.o.mapping;
    const H = this.o.policy.io.horizon;
    const n15 = this.o.modalityConfigForm === 'n15';
    const config = (modality: string, keys: string[], delta: number[], actionConfigs: unknown[] | null) => {
      const json = {
        delta_indices: delta, modality_keys: n15 ? keys.map((k) => `${modality}.${k}`) : keys,
        sin_cos_embedding_keys: null, mean_std_embedding_keys: null, action_configs: actionConfigs,
      };
      return { __ModalityConfig_class__: true, as_json: n15 ? JSON.stringify(json) : json };
    };
    const actionKeys = Object.keys(m.action);
    return {
      video: config('video', Object.keys(m.video), [0], null),
      state: config('state', Object.keys(m.state), [0], null),
      action: config('action', actionKeys, Array.from({ length: H }, (_, i) => i), actionKeys.map(() => ({ rep: 'ABSOLUTE', type: 'NON_EEF', format: 'DEFAULT', state_key: null }))),
      language: config('language', [m.language], [0], null),
    };
  }

  private async getAction(data: WireValue | undefined): Promise<unknown> {
    if (!isMap(data)) throw new WireError('get_action needs data: a map');
    const m = this.o.mapping;
    if (data.observation !== undefined) {
      // N1.6+: handler(observation=..., options=...) -> [action, info]
      const obs = data.observation;
      if (!isMap(obs)) throw new WireError('observation must be a map');
      const nested = isMap(obs.video);
      const get = (modality: 'video' | 'state', key: string): WireValue | undefined => (nested ? (obs[modality] as WireMap | undefined)?.[key] : obs[`${modality}.${key}`]);
      const lang = nested ? (isMap(obs.language) ? obs.language[m.language] : undefined) : obs[m.language];
      const actions = await this.runBatch(get, lang, true);
      const out: Record<string, unknown> = {};
      for (const [k, arr] of Object.entries(actions)) out[nested ? k : `action.${k}`] = toGr00tArray(arr);
      return [out, {}];
    }
    // N1.5: handler(flat observation) -> flat action map, no batch axis.
    const actions = await this.runBatch((modality, key) => data[`${modality}.${key}`], data[m.language], false);
    return Object.fromEntries(Object.entries(actions).map(([k, arr]) => [`action.${k}`, toGr00tArray(arr)]));
  }

  /**
   * One inference per batch element. Arrays are (B, T, ...) with a batch axis, (T, ...) without;
   * the newest frame of T is used. Returns per action key a float32 (B, H, D) (or (H, D)).
   */
  private async runBatch(get: (modality: 'video' | 'state', key: string) => WireValue | undefined, lang: WireValue | undefined, batched: boolean): Promise<Record<string, NdArray>> {
    const m = this.o.mapping;
    const io = this.o.policy.io;
    const arrays = new Map<string, NdArray>();
    const array = (modality: 'video' | 'state', key: string): NdArray => {
      const id = `${modality}.${key}`;
      let a = arrays.get(id);
      if (!a) {
        const v = get(modality, key);
        if (v === undefined || !isArrayMap(v)) throw new WireError(`observation has no array for ${id}`);
        a = decodeArrayMap(v, this.limits);
        arrays.set(id, a);
      }
      return a;
    };
    const first = array('video', Object.keys(m.video)[0]!);
    const B = batched ? first.shape[0] ?? 0 : 1;
    if (!(B >= 1 && B <= 16)) throw new WireError(`batch of ${B} observations refused (1-16)`);
    const texts = this.instructions(lang, B, batched);
    const out: Record<string, Float32Array> = Object.fromEntries(Object.entries(m.action).map(([k, [a, b]]) => [k, new Float32Array(B * io.horizon * (b - a))]));
    for (let b = 0; b < B; b++) {
      const images: Record<string, CameraImage> = {};
      for (const [key, camName] of Object.entries(m.video)) {
        const a = array('video', key);
        const frame = newestFrame(a, batched ? b : undefined, 3, `video.${key}`);
        images[camName] = await toCameraImage(frame, io.cameras.find((c) => c.name === camName)!, m.imageLayout, `video.${key}`);
      }
      const state = new Float32Array(io.stateDim);
      for (const [key, [s0, s1]] of Object.entries(m.state)) {
        const a = array('state', key);
        const v = toFloat64(newestFrame(a, batched ? b : undefined, 1, `state.${key}`));
        if (v.length !== s1 - s0) throw new WireError(`state.${key} has ${v.length} values, the mapping gives it ${s1 - s0}`);
        for (let i = 0; i < v.length; i++) { if (!Number.isFinite(v[i]!)) throw new WireError(`state.${key} has non-finite values`); state[s0 + i] = v[i]!; }
      }
      const r = await this.o.policy.infer({ stampNs: process.hrtime.bigint(), images, state, instruction: texts[b]! });
      for (const [k, [a0, a1]] of Object.entries(m.action)) {
        const D = a1 - a0;
        const dst = out[k]!;
        for (let h = 0; h < io.horizon; h++) for (let d = 0; d < D; d++) dst[(b * io.horizon + h) * D + d] = r.actions[h * io.actionDim + a0 + d]!;
      }
    }
    return Object.fromEntries(Object.entries(out).map(([k, data]) => {
      const D = m.action[k]![1] - m.action[k]![0];
      return [k, float32Array(data, batched ? [B, io.horizon, D] : [io.horizon, D])];
    }));
  }

  /** Nested: [[str]] x B; flat with a batch: [str] x B; N1.5: [str] (or a plain str). */
  private instructions(lang: WireValue | undefined, B: number, batched: boolean): string[] {
    const key = this.o.mapping.language;
    const pick = (v: WireValue | undefined): string => {
      const s = Array.isArray(v) ? v[0] : v;
      if (typeof s !== 'string' || s.length === 0 || s.length > 2000) throw new WireError(`language ${key}: expected a non-empty string`);
      return s;
    };
    if (!batched) return [pick(lang)];
    if (!Array.isArray(lang) || lang.length !== B) throw new WireError(`language ${key}: expected ${B} entries, one per batch element`);
    return lang.map(pick);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.socket.close();
    await this.loop;
    await this.zap?.release();
  }
}

class Gr00tRequestError extends Error {
  constructor(readonly outcome: 'refused' | 'unauthorized' | 'rate_limited' | 'timeout' | 'error', message: string) { super(message); }
}

/** Element `b` of the batch axis (if any), then the newest of the time axis, down to `rank` axes. */
function newestFrame(a: NdArray, b: number | undefined, rank: number, what: string): NdArray {
  let shape = [...a.shape];
  let offset = 0;
  const stride = (s: number[]) => s.slice(1).reduce((x, y) => x * y, 1);
  if (b !== undefined) {
    if (shape.length < rank + 1 || b >= shape[0]!) throw new WireError(`${what}: shape ${JSON.stringify(a.shape)} has no batch element ${b}`);
    offset += b * stride(shape);
    shape = shape.slice(1);
  }
  while (shape.length > rank) {
    const T = shape[0]!;
    if (T < 1) throw new WireError(`${what}: empty time axis`);
    offset += (T - 1) * stride(shape);
    shape = shape.slice(1);
  }
  if (shape.length !== rank) throw new WireError(`${what}: shape ${JSON.stringify(a.shape)} is missing axes`);
  const n = shape.reduce((x, y) => x * y, 1);
  return { dtype: a.dtype, shape, data: a.data.subarray(offset, offset + n) as NdArray['data'] };
}
