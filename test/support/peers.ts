// Clients of the peers' protocols, written from reference/peer-protocols.md as the peers' Python
// clients behave: GR00T's (REQ, msgpack, either array encoding, N1.5's flat form) and openpi's
// (WebSocket, metadata frame first, openpi's array encoding, Api-Key header).
import { Packr, Unpackr } from 'msgpackr';
import { Request } from 'zeromq';
import WebSocket from 'ws';

const packr = new Packr({ useRecords: false });
const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: false, int64AsType: 'number' });

export type Dtype = '|u1' | '<f4' | '<f8' | '<i8';
export interface Arr { dtype: Dtype; shape: number[]; bytes: Uint8Array }

export const u8 = (shape: number[], fill: (i: number) => number): Arr => {
  const n = shape.reduce((a, b) => a * b, 1);
  return { dtype: '|u1', shape, bytes: Uint8Array.from({ length: n }, (_, i) => fill(i)) };
};
export const f32 = (shape: number[], values: ArrayLike<number>): Arr => ({ dtype: '<f4', shape, bytes: new Uint8Array(Float32Array.from(values).buffer) });

/** np.save(allow_pickle=False) bytes: version 1, 64-byte aligned header. */
export function npy(a: Arr, opts: { descr?: string; fortran?: boolean } = {}): Buffer {
  const shape = a.shape.length === 1 ? `(${a.shape[0]},)` : `(${a.shape.join(', ')})`;
  let header = `{'descr': '${opts.descr ?? a.dtype}', 'fortran_order': ${opts.fortran ? 'True' : 'False'}, 'shape': ${shape}, }`;
  header += ' '.repeat((64 - ((10 + header.length + 1) % 64)) % 64) + '\n';
  const head = Buffer.alloc(10);
  Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]).copy(head);
  head.writeUInt16LE(header.length, 8);
  return Buffer.concat([head, Buffer.from(header, 'latin1'), Buffer.from(a.bytes)]);
}

/** GR00T N1.5-N1.7 release: { "__ndarray_class__": true, "as_npy": npy bytes }. */
export const gr00tRelease = (a: Arr) => ({ __ndarray_class__: true, as_npy: npy(a) });
/** GR00T main (msgpack-numpy 0.4.8): bin keys nd / type / kind / shape / data. */
export const gr00tMain = (a: Arr, type: string = a.dtype) => new Map<Buffer, unknown>([[Buffer.from('nd'), true], [Buffer.from('type'), type], [Buffer.from('kind'), Buffer.alloc(0)], [Buffer.from('shape'), a.shape], [Buffer.from('data'), Buffer.from(a.bytes)]]);
/** openpi: bin keys __ndarray__ / data / dtype / shape. */
export const openpiArray = (a: Arr, dtype: string = a.dtype) => new Map<Buffer, unknown>([[Buffer.from('__ndarray__'), true], [Buffer.from('data'), Buffer.from(a.bytes)], [Buffer.from('dtype'), dtype], [Buffer.from('shape'), a.shape]]);

/** Maps with bin or str keys to plain objects; the array forms to { dtype, shape, values }. */
export function plain(v: unknown): unknown {
  if (v instanceof Map) {
    const o: Record<string, unknown> = {};
    for (const [k, x] of v) o[Buffer.isBuffer(k) || k instanceof Uint8Array ? Buffer.from(k).toString() : String(k)] = plain(x);
    return arrayOf(o) ?? o;
  }
  if (Array.isArray(v)) return v.map(plain);
  return v;
}

export interface DecodedArray { dtype: string; shape: number[]; values: Float32Array }

function arrayOf(o: Record<string, unknown>): DecodedArray | undefined {
  if (o.__ndarray_class__ === true) {
    const b = Buffer.from(o.as_npy as Uint8Array);
    const len = b.readUInt16LE(8);
    const header = b.subarray(10, 10 + len).toString('latin1');
    const shape = /'shape': \(([^)]*)\)/.exec(header)![1]!.split(',').map((s) => s.trim()).filter(Boolean).map(Number);
    const dtype = /'descr': '([^']*)'/.exec(header)![1]!;
    const data = b.subarray(10 + len);
    return { dtype, shape, values: new Float32Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength)) };
  }
  if (o.__ndarray__ === true) {
    const d = Buffer.from(o.data as Uint8Array);
    return { dtype: o.dtype as string, shape: o.shape as number[], values: new Float32Array(d.buffer.slice(d.byteOffset, d.byteOffset + d.byteLength)) };
  }
  return undefined;
}

/** GR00T's PolicyClient: one REQ socket, one request at a time, a receive timeout. */
export class Gr00tClient {
  private socket: Request;
  constructor(readonly endpoint: string, private readonly opts: { apiToken?: string; timeoutMs?: number } = {}) {
    this.socket = this.open();
  }

  private open(): Request {
    const s = new Request({ linger: 0, receiveTimeout: this.opts.timeoutMs ?? 10_000, sendTimeout: 2000 });
    s.connect(this.endpoint);
    return s;
  }

  async call(endpoint: string | undefined, data?: unknown): Promise<unknown> {
    const req: Record<string, unknown> = {};
    if (endpoint !== undefined) req.endpoint = endpoint;
    if (data !== undefined) req.data = data;
    if (this.opts.apiToken !== undefined) req.api_token = this.opts.apiToken;
    return this.raw(packr.pack(req));
  }

  /** Any bytes, for malformed-frame tests: the decoded reply. */
  async raw(frame: Uint8Array): Promise<unknown> {
    try {
      await this.socket.send(frame);
      const [reply] = await this.socket.receive();
      return plain(unpackr.unpack(reply!));
    } catch (err) {
      // As n17/main do on zmq.Again: recreate the socket so the next call can go out.
      this.socket.close();
      this.socket = this.open();
      throw err;
    }
  }

  close(): void { this.socket.close(); }
}

export interface OpenpiReply { actions: DecodedArray; policy_timing: { infer_ms: number }; server_timing: { infer_ms: number; prev_total_ms?: number } }

/** openpi's WebsocketClientPolicy: connect, wait for the metadata frame, then infer() in lockstep. */
export class OpenpiClient {
  metadata: Record<string, unknown> = {};
  private pending: { resolve: (v: unknown) => void; reject: (e: Error) => void } | undefined;
  private errorText: string | undefined;
  closeCode: number | undefined;

  private constructor(private readonly ws: WebSocket) {}

  static connect(url: string, opts: { apiKey?: string; ca?: string | Buffer } = {}): Promise<OpenpiClient> {
    const ws = new WebSocket(url, { headers: opts.apiKey ? { Authorization: `Api-Key ${opts.apiKey}` } : {}, perMessageDeflate: false, maxPayload: 0, ...(opts.ca ? { ca: opts.ca } : {}) });
    const client = new OpenpiClient(ws);
    return new Promise((resolve, reject) => {
      ws.once('error', reject);
      ws.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
      ws.once('message', (data: Buffer) => {
        client.metadata = plain(unpackr.unpack(data)) as Record<string, unknown>;
        ws.off('error', reject);
        ws.on('message', (d: Buffer, isBinary: boolean) => client.onMessage(d, isBinary));
        ws.on('close', (code) => { client.closeCode = code; client.fail(new Error(`connection closed (${code})${client.errorText ? `: ${client.errorText}` : ''}`)); });
        ws.on('error', () => undefined);
        resolve(client);
      });
    });
  }

  private onMessage(d: Buffer, isBinary: boolean): void {
    if (!isBinary) { this.errorText = d.toString(); return; }
    const p = this.pending;
    this.pending = undefined;
    p?.resolve(plain(unpackr.unpack(d)));
  }

  private fail(err: Error): void {
    const p = this.pending;
    this.pending = undefined;
    p?.reject(this.errorText ? new Error(`Error in inference server:\n${this.errorText}`) : err);
  }

  infer(obs: Record<string, unknown>): Promise<OpenpiReply> { return this.send(packr.pack(obs)) as Promise<OpenpiReply>; }

  send(frame: Uint8Array | string): Promise<unknown> {
    return new Promise((resolve, reject) => {
      this.pending = { resolve, reject };
      this.ws.send(frame);
    });
  }

  get lastError(): string | undefined { return this.errorText; }
  get open(): boolean { return this.ws.readyState === WebSocket.OPEN; }
  close(): void { this.ws.close(); }
}
