// The teleop input path: a device (a person's leader arm, a spacemouse bridge, or the scripted
// operator) connects a ZeroMQ PUSH socket and streams msgpack-encoded joint-target commands;
// vlad binds a PULL socket, validates every frame, and hands valid commands to the robot.
// PUSH/PULL rather than PUB/SUB: no slow-joiner loss, so recorded teleop data has no gaps.
import { Pull, Push } from 'zeromq';
import { Packr, Unpackr } from 'msgpackr';
import { rootLogger, type Logger } from '../../core/index.js';

export const TELEOP_PROTOCOL_VERSION = 1;

/** A validated teleop command: absolute joint position targets (+ gripper), physical units. */
export interface TeleopCommand {
  seq: number;
  /** Sender clock, ns. */
  stampNs: number;
  /** Empty for a release. */
  positions: Float64Array;
  device: string;
  /** A deliberate error of the operator's (recovery data): recorded as a perturbation, never imitated. */
  perturbation: boolean;
  /** The operator hands control back to the policy (intervention mode). */
  release: boolean;
  /** Local receive time (performance.now(), ms). */
  receivedMs: number;
}

/**
 * Wire format, v1:
 *   { v: 1, kind: 'joint_targets', seq, stamp_ns, positions: number[], device?, perturbation? }
 *   { v: 1, kind: 'release', seq, stamp_ns, device? }
 */
interface WireCommand {
  v: number;
  kind: string;
  seq: number;
  stamp_ns: number;
  positions?: number[];
  device?: string;
  perturbation?: boolean;
}

const packr = new Packr({ useRecords: false });
const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true, int64AsType: 'number' });

export function encodeTeleopCommand(positions: ArrayLike<number>, seq: number, stampNs: number, device = 'operator', perturbation = false): Buffer {
  const msg: WireCommand = { v: TELEOP_PROTOCOL_VERSION, kind: 'joint_targets', seq, stamp_ns: stampNs, positions: Array.from(positions), device };
  if (perturbation) msg.perturbation = true;
  return packr.pack(msg);
}

export function encodeTeleopRelease(seq: number, stampNs: number, device = 'operator'): Buffer {
  return packr.pack({ v: TELEOP_PROTOCOL_VERSION, kind: 'release', seq, stamp_ns: stampNs, device } satisfies WireCommand);
}

export type DecodeResult = { ok: true; command: Omit<TeleopCommand, 'receivedMs'> } | { ok: false; error: string };

/** Decode and validate one frame. Never throws. */
export function decodeTeleopCommand(frame: Uint8Array, dim: number, limits?: readonly (readonly [number, number])[]): DecodeResult {
  let msg: unknown;
  try {
    msg = unpackr.unpack(frame);
  } catch (err) {
    return { ok: false, error: `not msgpack (${err instanceof Error ? err.message : String(err)})` };
  }
  if (typeof msg !== 'object' || msg === null || Array.isArray(msg)) return { ok: false, error: 'frame is not a map' };
  const m = msg as Partial<WireCommand>;
  if (m.v !== TELEOP_PROTOCOL_VERSION) return { ok: false, error: `field v: expected ${TELEOP_PROTOCOL_VERSION}, got ${String(m.v)}` };
  if (m.kind !== 'joint_targets' && m.kind !== 'release') return { ok: false, error: `field kind: expected 'joint_targets' or 'release', got ${String(m.kind)}` };
  if (!Number.isSafeInteger(m.seq) || (m.seq as number) < 0) return { ok: false, error: 'field seq: expected a non-negative integer' };
  if (typeof m.stamp_ns !== 'number' || !Number.isFinite(m.stamp_ns) || m.stamp_ns < 0) return { ok: false, error: 'field stamp_ns: expected a non-negative number' };
  if (m.device !== undefined && (typeof m.device !== 'string' || m.device.length > 64)) return { ok: false, error: 'field device: expected a short string' };
  if (m.perturbation !== undefined && typeof m.perturbation !== 'boolean') return { ok: false, error: 'field perturbation: expected a boolean' };
  if (m.kind === 'release') return { ok: true, command: { seq: m.seq as number, stampNs: m.stamp_ns, positions: new Float64Array(0), device: m.device ?? 'unknown', perturbation: false, release: true } };
  const p = m.positions;
  if (!Array.isArray(p) || p.length !== dim) return { ok: false, error: `field positions: expected ${dim} numbers, got ${Array.isArray(p) ? p.length : typeof p}` };
  const positions = new Float64Array(dim);
  for (let i = 0; i < dim; i++) {
    const v = p[i];
    if (typeof v !== 'number' || !Number.isFinite(v)) return { ok: false, error: `field positions[${i}]: not a finite number` };
    const lim = limits?.[i];
    // A little slack: devices quantize, the robot clamps; far outside is a broken device.
    if (lim && (v < lim[0] - 0.1 || v > lim[1] + 0.1)) return { ok: false, error: `field positions[${i}]: ${v} outside [${lim[0]}, ${lim[1]}]` };
    positions[i] = v;
  }
  return { ok: true, command: { seq: m.seq as number, stampNs: m.stamp_ns, positions, device: m.device ?? 'unknown', perturbation: m.perturbation ?? false, release: false } };
}

export interface TeleopStats {
  accepted: number;
  rejected: number;
  /** Valid commands dropped because nobody consumed them (queue full). */
  dropped: number;
  lastError: string | undefined;
}

export interface TeleopReceiverOptions {
  /** e.g. ipc:///tmp/vlad-teleop.sock or tcp://127.0.0.1:5557 (tcp://127.0.0.1:* picks a port). */
  endpoint: string;
  dim: number;
  limits?: readonly (readonly [number, number])[];
  logger?: Pick<Logger, 'warn'>;
  /** Commands kept for consumers; older ones are dropped first. */
  queueLength?: number;
}

export class TeleopReceiver {
  private readonly socket = new Pull({ linger: 0 });
  private readonly queue: TeleopCommand[] = [];
  private readonly waiters: { resolve: (c: TeleopCommand) => void; reject: (e: Error) => void; timer?: NodeJS.Timeout }[] = [];
  private readonly lastSeq = new Map<string, number>();
  private readonly counters: TeleopStats = { accepted: 0, rejected: 0, dropped: 0, lastError: undefined };
  private readonly logger: Pick<Logger, 'warn'>;
  private closed = false;
  private loop: Promise<void> | undefined;
  endpoint = '';

  private constructor(private readonly opts: TeleopReceiverOptions) {
    this.logger = opts.logger ?? rootLogger().child({ part: 'teleop' });
  }

  static async bind(opts: TeleopReceiverOptions): Promise<TeleopReceiver> {
    const r = new TeleopReceiver(opts);
    await r.socket.bind(opts.endpoint);
    r.endpoint = r.socket.lastEndpoint ?? opts.endpoint;
    r.loop = r.receiveLoop();
    return r;
  }

  private async receiveLoop(): Promise<void> {
    try {
      for await (const frames of this.socket) {
        const receivedMs = performance.now();
        if (frames.length !== 1) { this.reject(`expected 1 frame, got ${frames.length}`); continue; }
        const res = decodeTeleopCommand(frames[0]!, this.opts.dim, this.opts.limits);
        if (!res.ok) { this.reject(res.error); continue; }
        const last = this.lastSeq.get(res.command.device);
        // seq 0 starts a new stream (the device restarted); otherwise a sequence must move on.
        if (last !== undefined && res.command.seq <= last && res.command.seq !== 0) { this.reject(`seq ${res.command.seq} not after ${last} from ${res.command.device}`); continue; }
        this.lastSeq.set(res.command.device, res.command.seq);
        this.counters.accepted++;
        this.deliver({ ...res.command, receivedMs });
      }
    } catch (err) {
      if (!this.closed) this.logger.warn({ err }, 'teleop receive loop ended');
    }
  }

  private reject(error: string): void {
    this.counters.rejected++;
    this.counters.lastError = error;
    this.logger.warn({ endpoint: this.endpoint, rejected: this.counters.rejected }, `teleop frame rejected: ${error}`);
  }

  private deliver(cmd: TeleopCommand): void {
    const waiter = this.waiters.shift();
    if (waiter) {
      if (waiter.timer) clearTimeout(waiter.timer);
      waiter.resolve(cmd);
      return;
    }
    this.queue.push(cmd);
    if (this.queue.length > (this.opts.queueLength ?? 256)) { this.queue.shift(); this.counters.dropped++; }
  }

  /** The next valid command (in arrival order). */
  next(timeoutMs = 5000): Promise<TeleopCommand> {
    const queued = this.queue.shift();
    if (queued) return Promise.resolve(queued);
    if (this.closed) return Promise.reject(new Error('teleop receiver closed'));
    return new Promise((resolve, reject) => {
      const waiter: (typeof this.waiters)[number] = { resolve, reject };
      waiter.timer = setTimeout(() => {
        const i = this.waiters.indexOf(waiter);
        if (i >= 0) this.waiters.splice(i, 1);
        reject(new Error(`no teleop command on ${this.endpoint} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiters.push(waiter);
    });
  }

  /** Newest command, discarding older queued ones (a live device: latest wins). */
  latest(): TeleopCommand | undefined {
    const last = this.queue.at(-1);
    this.queue.length = 0;
    return last;
  }

  stats(): TeleopStats { return { ...this.counters }; }

  async close(): Promise<void> {
    this.closed = true;
    for (const w of this.waiters.splice(0)) { if (w.timer) clearTimeout(w.timer); w.reject(new Error('teleop receiver closed')); }
    this.socket.close();
    await this.loop;
  }
}

/** What a teleop device (or the scripted operator) uses to stream commands. */
export class TeleopPublisher {
  private readonly socket = new Push({ linger: 0, sendHighWaterMark: 1000 });
  private seq = 0;

  private constructor(readonly device: string) {}

  /** The sequence number of the last frame sent (-1 before the first). */
  get lastSeq(): number { return this.seq - 1; }

  static async connect(endpoint: string, device = 'operator'): Promise<TeleopPublisher> {
    const p = new TeleopPublisher(device);
    p.socket.connect(endpoint);
    return p;
  }

  async send(positions: ArrayLike<number>, stampNs: number, opts: { perturbation?: boolean } = {}): Promise<void> {
    await this.socket.send(encodeTeleopCommand(positions, this.seq++, stampNs, this.device, opts.perturbation ?? false));
  }

  /** Hands control back to the policy (intervention mode). */
  async release(stampNs: number): Promise<void> {
    await this.socket.send(encodeTeleopRelease(this.seq++, stampNs, this.device));
  }

  /** Raw frames, for tools and fault-injection tests. */
  async sendRaw(frame: Uint8Array): Promise<void> { await this.socket.send(frame); }

  close(): void { this.socket.close(); }
}
