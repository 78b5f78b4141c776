// The observation store: the newest sample of every input stream, with each stream's health as
// openpilot's SubMaster keeps it (cereal/services.py): `alive` (its newest sample is younger than
// the stream's staleness limit) and `freqOk` (its measured rate is near the declared one). The
// table of streams is declared by the daemon; the store polls the robot driver every control tick
// (reads are cached by the driver, so this is cheap) and the watchdog asks it, per consumer,
// whether the streams that consumer needs are alive: not one global age.
import type { CameraImage, CameraFrame, JointState, Observation, ObservationSource } from '../core/index.js';

/** Who reads a stream: the policy (observations), the operator path, or a plain hold. */
export type StreamConsumer = 'policy' | 'operator' | 'hold';

export interface StreamSpec {
  /** e.g. joint_states, camera/scene, teleop. */
  readonly name: string;
  readonly source: 'joint_states' | 'camera' | 'teleop';
  /** For camera streams: the camera's name. */
  readonly camera?: string;
  /** Expected rate, Hz (freq_ok compares the measured rate with it). */
  readonly rateHz: number;
  /** A sample older than this is stale: the stream is not alive. */
  readonly maxAgeS: number;
  /** The consumers that cannot act without this stream. */
  readonly requiredBy: readonly StreamConsumer[];
}

export interface StreamStatus {
  readonly name: string;
  readonly alive: boolean;
  readonly freqOk: boolean;
  /** Measured over the last samples, Hz (0 before two samples). */
  readonly rateHz: number;
  /** Age of the newest sample, s (Infinity before the first). */
  readonly ageS: number;
  readonly samples: number;
}

/** One operator command as the control loop sees it (from the teleop receiver). */
export interface OperatorCommand {
  /** Increases with every command. */
  readonly seq: number;
  /** Arrival time on the loop's clock, ns. */
  readonly stampNs: bigint;
  readonly positions: Float64Array;
  /** A deliberate error (recovery data): recorded as `perturbation`. */
  readonly perturbation: boolean;
  /** The operator hands control back (intervention mode). */
  readonly release?: boolean;
}

export interface OperatorInput { latest(): OperatorCommand | undefined }

/** The robot side the store reads (a RobotDriver). */
export interface StreamDriver {
  readState(): JointState | undefined;
  readFrame(): CameraFrame | undefined;
}

/** A rate window: the stamps of the last samples. freq_ok needs a few of them. */
const WINDOW = 16;
const FREQ_TOLERANCE = { low: 0.8, high: 1.25 };

class StreamTracker {
  private readonly stamps = new Array<bigint>(WINDOW).fill(0n);
  private n = 0;
  lastNs: bigint | undefined;

  constructor(readonly spec: StreamSpec) {}

  /** Records a sample if `stampNs` is new; true when it was. */
  observe(stampNs: bigint | undefined): boolean {
    if (stampNs === undefined || stampNs === this.lastNs) return false;
    this.lastNs = stampNs;
    this.stamps[this.n % WINDOW] = stampNs;
    this.n++;
    return true;
  }

  reset(): void { this.n = 0; this.lastNs = undefined; }

  rateHz(): number {
    const k = Math.min(this.n, WINDOW);
    if (k < 2) return 0;
    const first = this.stamps[(this.n - k) % WINDOW]!, last = this.stamps[(this.n - 1) % WINDOW]!;
    return last > first ? ((k - 1) * 1e9) / Number(last - first) : 0;
  }

  ageS(nowNs: bigint): number { return this.lastNs === undefined ? Infinity : Number(nowNs - this.lastNs) / 1e9; }
  alive(nowNs: bigint): boolean { return this.lastNs !== undefined && nowNs - this.lastNs <= BigInt(Math.round(this.spec.maxAgeS * 1e9)); }

  status(nowNs: bigint): StreamStatus {
    const rateHz = this.rateHz();
    const alive = this.alive(nowNs);
    const freqOk = alive && this.n >= 3 && rateHz >= FREQ_TOLERANCE.low * this.spec.rateHz && rateHz <= FREQ_TOLERANCE.high * this.spec.rateHz;
    return { name: this.spec.name, alive, freqOk, rateHz: Math.round(rateHz * 10) / 10, ageS: this.ageS(nowNs), samples: this.n };
  }
}

export class ObservationStore implements ObservationSource {
  private readonly trackers: StreamTracker[];
  private readonly byConsumer: Record<StreamConsumer, StreamTracker[]>;
  private readonly stateTracker: StreamTracker | undefined;
  private readonly teleopTracker: StreamTracker | undefined;
  private instructionText = '';
  private frame: CameraFrame | undefined;
  private state: JointState | undefined;
  private operatorCmd: OperatorCommand | undefined;
  private assembled: Observation | undefined;
  private assembledFrameSeq = -1;
  private lastPollNs = 0n;
  /** Optional rewrite of each assembled observation (input probes such as blanked cameras). */
  transform: ((obs: Observation) => Observation) | undefined;

  constructor(private readonly driver: StreamDriver, readonly streams: readonly StreamSpec[], private readonly operatorInput?: OperatorInput) {
    const names = new Set<string>();
    for (const s of streams) {
      if (names.has(s.name)) throw new Error(`streams table: '${s.name}' listed twice`);
      names.add(s.name);
      if (!(s.rateHz > 0) || !(s.maxAgeS > 0)) throw new Error(`streams table: '${s.name}' needs rateHz > 0 and maxAgeS > 0`);
      if (s.source === 'camera' && !s.camera) throw new Error(`streams table: camera stream '${s.name}' names no camera`);
    }
    this.trackers = streams.map((s) => new StreamTracker(s));
    this.byConsumer = { policy: [], operator: [], hold: [] };
    for (const t of this.trackers) for (const c of t.spec.requiredBy) this.byConsumer[c].push(t);
    this.stateTracker = this.trackers.find((t) => t.spec.source === 'joint_states');
    this.teleopTracker = this.trackers.find((t) => t.spec.source === 'teleop');
  }

  get instruction(): string { return this.instructionText; }
  setInstruction(text: string): void {
    this.instructionText = text;
    this.assembledFrameSeq = -1;
  }

  /** Reads every stream's newest sample (once per control tick). */
  poll(nowNs: bigint): void {
    this.lastPollNs = nowNs;
    this.state = this.driver.readState();
    this.frame = this.driver.readFrame();
    this.operatorCmd = this.operatorInput?.latest();
    for (const t of this.trackers) {
      switch (t.spec.source) {
        case 'joint_states': t.observe(this.state?.stampNs); break;
        case 'camera': t.observe(this.frame?.images[t.spec.camera!] ? this.frame.stampNs : undefined); break;
        case 'teleop': t.observe(this.operatorCmd?.stampNs); break;
      }
    }
  }

  /** Forgets every stream's history (a simulated scene was reset: its clock may restart). */
  reset(): void {
    for (const t of this.trackers) t.reset();
    this.assembled = undefined;
    this.assembledFrameSeq = -1;
  }

  /** The first stream `consumer` needs that is not alive, or undefined when all are. */
  staleFor(consumer: StreamConsumer, nowNs: bigint = this.lastPollNs): string | undefined {
    for (const t of this.byConsumer[consumer]) if (!t.alive(nowNs)) return t.spec.name;
    return undefined;
  }

  /** Newest operator command (undefined without an operator input). */
  operator(): OperatorCommand | undefined { return this.operatorCmd; }

  /** The newest frame and joint state as an Observation (the policy's input). */
  latest(): Observation | undefined {
    const f = this.frame;
    if (!f) return undefined;
    if (f.seq === this.assembledFrameSeq && this.assembled) return this.assembled;
    const state = f.state ?? (this.state ? Float32Array.from(this.state.positions) : undefined);
    if (!state) return undefined;
    const staleness: Record<string, number> = {};
    for (const t of this.trackers) if (t.spec.source !== 'teleop') staleness[t.spec.name] = t.ageS(this.lastPollNs);
    let obs: Observation = { stampNs: f.stampNs, images: f.images as Record<string, CameraImage>, state, instruction: this.instructionText, staleness };
    if (this.transform) obs = this.transform(obs);
    this.assembled = obs;
    this.assembledFrameSeq = f.seq;
    return obs;
  }

  /** Every stream's health now (status, telemetry, metrics). */
  status(nowNs: bigint = this.lastPollNs): StreamStatus[] { return this.trackers.map((t) => t.status(nowNs)); }

  get hasTeleopStream(): boolean { return this.teleopTracker !== undefined; }
  get hasStateStream(): boolean { return this.stateTracker !== undefined; }
}
