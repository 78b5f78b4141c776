// One request/response helper for every worker thread (policy, recorder, sim): ids, pending
// promises, log lines from the worker, and crash propagation (a worker that dies rejects every
// pending call with the reason, and every later call at once).
import { Worker, type MessagePort, type WorkerOptions } from 'node:worker_threads';

/** The wire form of errors: plain data, so structured clone keeps every field. */
export interface WireError { name: string; message: string; file?: string; field?: string }

export type RpcReply =
  | { kind: 'reply'; id: number; ok: true; result: unknown }
  | { kind: 'reply'; id: number; ok: false; error: WireError }
  | { kind: 'log'; line: string }
  /** Sent once by a worker whose start-up is asynchronous (see WorkerRpc.ready). */
  | { kind: 'ready' };

export type RpcRequest = { id: number; op: string };

export interface WorkerRpcOptions {
  /** Names the worker in errors ("policy worker crashed: ..."). */
  name: string;
  log?: (line: string) => void;
  /** Rebuilds typed errors (e.g. BundleError) from their wire form. */
  toError?: (wire: WireError) => Error;
  workerOptions?: WorkerOptions;
}

type Pending = { resolve: (v: unknown) => void; reject: (e: Error) => void };

export class WorkerRpc<Req extends RpcRequest, Results extends { [K in Req['op']]: unknown }> {
  readonly worker: Worker;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private dead: Error | undefined;
  private readyWaiters: Pending[] = [];
  private isReady = false;

  constructor(url: URL, private readonly opts: WorkerRpcOptions) {
    this.worker = new Worker(url, opts.workerOptions);
    this.worker.on('message', (msg: RpcReply) => this.onMessage(msg));
    this.worker.on('error', (err) => this.fail(new Error(`${opts.name} crashed: ${err.message}`)));
    this.worker.on('exit', (code) => this.fail(new Error(`${opts.name} exited (code ${code})`)));
  }

  private onMessage(msg: RpcReply): void {
    if (msg.kind === 'log') { this.opts.log?.(msg.line); return; }
    if (msg.kind === 'ready') {
      this.isReady = true;
      for (const w of this.readyWaiters.splice(0)) w.resolve(undefined);
      return;
    }
    const p = this.pending.get(msg.id);
    if (!p) return;
    this.pending.delete(msg.id);
    if (msg.ok) p.resolve(msg.result);
    else p.reject(this.opts.toError ? this.opts.toError(msg.error) : Object.assign(new Error(msg.error.message), { name: msg.error.name }));
  }

  private fail(err: Error): void {
    this.dead ??= err;
    for (const p of this.pending.values()) p.reject(this.dead);
    this.pending.clear();
    for (const w of this.readyWaiters.splice(0)) w.reject(this.dead);
  }

  /** Resolves once the worker sent `{ kind: 'ready' }` (rejects if it dies first). */
  ready(): Promise<void> {
    if (this.isReady) return Promise.resolve();
    if (this.dead) return Promise.reject(this.dead);
    return new Promise((resolve, reject) => this.readyWaiters.push({ resolve: resolve as (v: unknown) => void, reject }));
  }

  call<K extends Req['op']>(req: Omit<Extract<Req, { op: K }>, 'id'>, transfer: ArrayBuffer[] = []): Promise<Results[K]> {
    if (this.dead) return Promise.reject(this.dead);
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.worker.postMessage({ ...req, id }, transfer);
    });
  }

  get alive(): boolean { return !this.dead; }

  async terminate(reason = `${this.opts.name} closed`): Promise<void> {
    this.fail(new Error(reason));
    await this.worker.terminate();
  }
}

/** Worker side: serves requests one at a time in arrival order with `handle`, replying in the RpcReply form. */
export function serveRpc<Req extends RpcRequest>(port: MessagePort, handle: (req: Req) => Promise<{ result: unknown; transfer?: ArrayBuffer[] }> | { result: unknown; transfer?: ArrayBuffer[] }, toWire: (err: unknown) => WireError = plainWireError): void {
  let queue: Promise<void> = Promise.resolve();
  port.on('message', (req: Req) => {
    queue = queue.then(async () => {
      try {
        const { result, transfer } = await handle(req);
        port.postMessage({ kind: 'reply', id: req.id, ok: true, result } satisfies RpcReply, transfer ?? []);
      } catch (err) {
        port.postMessage({ kind: 'reply', id: req.id, ok: false, error: toWire(err) } satisfies RpcReply);
      }
    });
  });
}

export function plainWireError(err: unknown): WireError {
  const e = err as Error;
  return { name: e?.name ?? 'Error', message: e?.message ?? String(err) };
}
