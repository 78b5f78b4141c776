// The recorder as the control loop sees it: addStep() checks, copies into the shared step ring and
// publishes with one Atomics.store; it never waits and posts nothing per step (ring.ts). Encoding
// and all file I/O happen in the recorder workers. Cameras run slower than control (30 Hz against
// 100-200 Hz), so a step whose image equals the previous recorded step's is not copied again: it
// is flagged as a repeat and the encoder reuses the previous encoded bytes (each step still stores
// its own image, as RLDS readers expect).
import { EventEmitter } from 'node:events';
import { randomUUID } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { EpisodeHeader } from './episode.js';
import { buildFeatures, checkDatasetName, checkIOSpec, checkStep, StepDataError, type EpisodeMeta, type ImageEncoding, type RecorderIOSpec, type RecordStep } from './schema.js';
import { defaultJournalDir, type RecoveryReport, type StoreOptions } from './store.js';
import type { FromWriter, ToWriter } from './writer-worker.js';
import { VERSION_RE } from './info.js';
import type { FromWorker, ToWorker, WorkerInit } from './recorder-worker.js';
import { controlWords, FLAG_REWARD, F64, I32, I64, repeatFlag, RING, ringLayout, slotViews, type RingLayout, type SlotViews } from './ring.js';
import { CONTROL_MODES } from './schema.js';

export interface RecorderOptions {
  /** TFDS data_dir: the dataset is written to <root>/<name>/<version>/. */
  root: string;
  name: string;
  version?: string;
  spec: RecorderIOSpec;
  /** Default 'jpeg' (quality 95), as most OXE datasets; 'png' is lossless but far heavier. */
  imageEncoding?: ImageEncoding;
  jpegQuality?: number;
  pngCompressionLevel?: number;
  /** Steps in the ring not yet encoded (slots); beyond this, steps are dropped (and counted). */
  maxQueueSteps?: number;
  maxEpisodesPerShard?: number;
  maxShardBytes?: number;
  maxEpisodeBytes?: number;
  journalDir?: string;
  recoverPartial?: boolean;
  /** Images encoded concurrently. Default: half the cores (at least 1). */
  encodeConcurrency?: number;
  /** Nice value for the recorder's worker threads (Linux), so control always wins the CPU. Default 10. */
  workerNice?: number;
  description?: string;
  robot?: string;
  hwProfile?: string;
}

export interface EndEpisodeOptions { success: boolean; truncated?: boolean }
export interface EpisodeResult { episodeId: string; steps: number; droppedSteps: number; shardIndex: number; bytes: number }
export interface RecorderStats {
  /** Steps accepted by addStep (all episodes). */
  steps: number;
  /** Episodes durably written. */
  episodes: number;
  droppedFrames: number;
  /** Camera images that repeated the previous recorded step's frame (not copied, not re-encoded). */
  repeatedImages: number;
  abortedEpisodes: number;
  queueDepth: number;
  maxQueueDepthSeen: number;
  lastError?: string;
}

/** Atomics.waitAsync (Node 16+; not in this TypeScript lib). */
interface AtomicsWaitAsync {
  waitAsync(a: Int32Array, index: number, value: number, timeoutMs?: number): { async: false; value: string } | { async: true; value: Promise<string> };
}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

export class RecordError extends Error {
  constructor(readonly episodeId: string, message: string) { super(`episode ${episodeId}: ${message}`); }
}

interface ActiveEpisode { id: string; serial: number; instruction: string; accepted: number; dropped: number; error?: Error }

/**
 * Events: 'episode-aborted' (episodeId, error) when bad step data, disk full or an I/O error
 * ends an episode early; the dataset stays valid and other episodes are unaffected.
 */
export class Recorder extends EventEmitter {
  private active?: ActiveEpisode;
  private readonly ring: RingLayout;
  private readonly words: Int32Array;
  private readonly slots: SlotViews[];
  /** Steps published (a plain counter; the shared word holds it modulo 2^32). */
  private written = 0;
  private episodeSerial = 0;
  /** The image last copied into the ring per camera, to detect repeated frames. */
  private readonly lastImages: Uint8Array[];
  private lastImagesValid = false;
  private readonly strings = new Map<string, number>();
  private readonly pendingEnds = new Map<string, { resolve: (r: EpisodeResult) => void; reject: (e: Error) => void; ep: ActiveEpisode }>();
  private closed = false;
  private closing?: Promise<void>;
  private workerError?: Error;
  private counters = { steps: 0, episodes: 0, droppedFrames: 0, repeatedImages: 0, abortedEpisodes: 0, maxQueueDepthSeen: 0 };
  private lastError?: string;

  /** @internal use openRecorder() */
  constructor(
    private readonly worker: Worker,
    private readonly writer: Worker,
    private readonly opts: RecorderOptions,
    readonly recovery: RecoveryReport,
    readonly datasetDir: string,
    ring: RingLayout,
  ) {
    super();
    this.ring = ring;
    this.words = controlWords(ring);
    this.slots = slotViews(ring);
    this.lastImages = ring.cameras.map((c) => new Uint8Array(c.bytes));
    worker.on('message', (m: FromWorker) => this.onWorkerMessage(m));
    writer.on('message', (m: FromWriter) => this.onWriterMessage(m));
    for (const [w, name] of [[worker, 'encoder'], [writer, 'writer']] as const) {
      w.on('error', (e) => this.onWorkerDeath(new Error(`${name}: ${e.message}`)));
      w.on('exit', (code) => { if (!this.closing) this.onWorkerDeath(new Error(`recorder ${name} worker exited (code ${code})`)); });
    }
  }

  get maxQueueSteps(): number { return this.ring.slots; }

  /**
   * Resolves once addStep has room. For producers that run faster than real time (offline
   * collection): awaiting this before each step trades speed for zero drops. The control path
   * never awaits it.
   */
  async whenWritable(): Promise<void> {
    for (;;) {
      if (this.inFlight < this.ring.slots || this.workerError || this.closed) return;
      // The encoder notifies READ when it frees slots.
      const r = Atomics.load(this.words, RING.READ);
      if ((((this.written | 0) - r) | 0) < this.ring.slots) return;
      const w = (Atomics as unknown as AtomicsWaitAsync).waitAsync(this.words, RING.READ, r, 50);
      if (w.async) await w.value;
    }
  }

  /** Steps in the ring that the encoder has not finished with. */
  private get inFlight(): number { return ((this.written | 0) - Atomics.load(this.words, RING.READ)) | 0; }

  /** Id of a string in the encoder's table; a new one is sent (in order with the ring) first. */
  private stringId(s: string): number {
    let id = this.strings.get(s);
    if (id === undefined) {
      id = this.strings.size;
      this.strings.set(s, id);
      this.post({ t: 'string', id, value: s });
    }
    return id;
  }

  beginEpisode(meta: EpisodeMeta): string {
    this.assertOpen();
    if (this.active) throw new Error(`episode ${this.active.id} is still recording; end or abort it first`);
    if (typeof meta?.instruction !== 'string' || meta.instruction.trim() === '') {
      throw new StepDataError('beginEpisode: instruction must be a non-empty string (OpenVLA drops unlabeled episodes)');
    }
    const id = meta.episodeId ?? randomUUID();
    if (!/^[\w.-]{1,128}$/.test(id)) throw new StepDataError(`beginEpisode: episodeId '${id}' must be 1-128 of [A-Za-z0-9_.-]`);
    const header: EpisodeHeader = {
      episodeId: id, instruction: meta.instruction, robot: meta.robot ?? this.opts.robot ?? '',
      hwProfile: meta.hwProfile ?? this.opts.hwProfile ?? '', startTime: (meta.startTime ?? new Date()).toISOString(),
    };
    this.active = { id, serial: ++this.episodeSerial, instruction: meta.instruction, accepted: 0, dropped: 0 };
    this.lastImagesValid = false; // an episode's first step always carries its images
    this.post({ t: 'begin', header, serial: this.active.serial });
    // The usual strings go now, so that the episode's first step posts nothing either.
    this.stringId(meta.instruction);
    this.stringId('');
    return id;
  }

  /**
   * Queues one step; never blocks. Returns false when the step is dropped (queue full: counted)
   * or refused (bad data: the episode is aborted and 'episode-aborted' is emitted).
   */
  addStep(step: RecordStep): boolean {
    const ep = this.active;
    if (!ep) throw new Error('addStep: no episode is recording (call beginEpisode first)');
    if (ep.error || this.workerError) return false;
    try {
      checkStep(this.opts.spec, step);
    } catch (e) {
      this.abortActive(e as Error);
      return false;
    }
    const depth = this.inFlight;
    if (depth >= this.ring.slots) {
      ep.dropped++;
      this.counters.droppedFrames++;
      return false;
    }
    // Strings first: their messages must be queued before the step that names them is published.
    const instruction = this.stringId(step.instruction ?? ep.instruction);
    const modelVersion = this.stringId(step.modelVersion ?? '');
    const adapterVersion = this.stringId(step.adapterVersion ?? '');
    const v = this.slots[this.written % this.ring.slots]!;
    let flags = 0;
    const cams = this.opts.spec.cameras;
    for (let i = 0; i < cams.length; i++) {
      const img = step.images[cams[i]!.name]!;
      const last = this.lastImages[i]!;
      if (this.lastImagesValid && Buffer.compare(img, last) === 0) {
        flags |= repeatFlag(i);
        this.counters.repeatedImages++;
      } else {
        v.images[i]!.set(img);
        last.set(img);
      }
    }
    this.lastImagesValid = true;
    v.state.set(step.state);
    v.action.set(step.action);
    if (step.reward !== undefined) { flags |= FLAG_REWARD; v.f64[F64.REWARD] = step.reward; }
    v.f64[F64.DISCOUNT] = step.discount ?? 1;
    v.f64[F64.DELAY] = step.inferenceDelaySteps ?? 0;
    v.i64[I64.NOISE_SEED] = typeof step.noiseSeed === 'bigint' ? step.noiseSeed : BigInt(step.noiseSeed ?? 0);
    v.i64[I64.STAMP_NS] = step.stampNs ?? 0n;
    v.i32[I32.EPISODE] = ep.serial;
    v.i32[I32.MODE] = CONTROL_MODES.indexOf(step.mode);
    v.i32[I32.INSTRUCTION] = instruction;
    v.i32[I32.MODEL_VERSION] = modelVersion;
    v.i32[I32.ADAPTER_VERSION] = adapterVersion;
    v.i32[I32.FLAGS] = flags;
    this.written++;
    Atomics.store(this.words, RING.WRITE, this.written | 0); // publishes the slot
    if (depth + 1 > this.counters.maxQueueDepthSeen) this.counters.maxQueueDepthSeen = depth + 1;
    ep.accepted++;
    this.counters.steps++;
    return true;
  }

  /** Ends the episode; resolves once it is durably (fsync) in the open shard. */
  endEpisode(opts: EndEpisodeOptions): Promise<EpisodeResult> {
    const ep = this.active;
    if (!ep) return Promise.reject(new Error('endEpisode: no episode is recording'));
    this.active = undefined;
    if (ep.error) {
      this.post({ t: 'abort', ep: ep.id, reason: ep.error.message });
      return Promise.reject(ep.error);
    }
    if (this.workerError) return Promise.reject(this.workerError);
    return new Promise((resolve, reject) => {
      this.pendingEnds.set(ep.id, { resolve, reject, ep });
      this.post({ t: 'end', ep: ep.id, success: Boolean(opts?.success), truncated: Boolean(opts?.truncated), droppedSteps: ep.dropped });
    });
  }

  /** Discards the episode being recorded. */
  abortEpisode(reason = 'aborted by caller'): void {
    const ep = this.active;
    if (!ep) return;
    this.active = undefined;
    if (!ep.error) this.post({ t: 'abort', ep: ep.id, reason });
  }

  stats(): RecorderStats {
    return { ...this.counters, queueDepth: this.inFlight, ...(this.lastError ? { lastError: this.lastError } : {}) };
  }

  /** Ends a recording episode as truncated (it is kept), closes the open shard, stops the worker. */
  close(): Promise<void> {
    if (this.closing) return this.closing;
    this.closing = (async () => {
      if (this.active && !this.workerError) {
        if (this.active.accepted > 0 && !this.active.error) await this.endEpisode({ success: false, truncated: true }).catch(() => undefined);
        else this.abortEpisode('recorder closed');
      }
      if (this.workerError) {
        this.closed = true;
        await Promise.all([this.worker.terminate(), this.writer.terminate()]);
        return;
      }
      const encoderDone = new Promise<void>((resolve) => { this.once('_encoderClosed', resolve); });
      this.post({ t: 'close' });
      await encoderDone;
      const writerDone = new Promise<string | undefined>((resolve) => { this.once('_writerClosed', resolve); });
      this.toWriter({ t: 'close' });
      const err = await writerDone;
      this.closed = true;
      if (err) throw new Error(`closing dataset: ${err}`);
    })();
    return this.closing;
  }

  private assertOpen(): void {
    if (this.closing || this.closed) throw new Error('recorder is closed');
    if (this.workerError) throw this.workerError;
  }

  /** Control messages carry the ring position they were sent at; the encoder handles each in order with the steps. */
  private post(m: DistributiveOmit<ToWorker, 'seq'>): void {
    this.worker.postMessage({ ...m, seq: this.written | 0 });
  }

  private toWriter(m: ToWriter): void {
    this.writer.postMessage(m);
  }

  private abortActive(err: Error): void {
    const ep = this.active!;
    ep.error = new RecordError(ep.id, err.message);
    this.counters.abortedEpisodes++;
    this.lastError = ep.error.message;
    this.post({ t: 'abort', ep: ep.id, reason: err.message });
    this.emit('episode-aborted', ep.id, ep.error);
  }

  private onWorkerMessage(m: FromWorker): void {
    switch (m.t) {
      case 'failed': {
        this.lastError = `episode ${m.ep}: ${m.message}`;
        const ep = this.active?.id === m.ep ? this.active : this.pendingEnds.get(m.ep)?.ep;
        if (ep && !ep.error) ep.error = new RecordError(m.ep, m.message);
        this.counters.abortedEpisodes++;
        this.emit('episode-aborted', m.ep, new RecordError(m.ep, m.message));
        return;
      }
      case 'journaled': {
        if (m.ok) { this.toWriter({ t: 'finish', ep: m.ep, success: m.success, truncated: m.truncated, droppedSteps: m.droppedSteps }); return; }
        this.settleEnd(m.ep, m);
        return;
      }
      case 'closed': this.emit('_encoderClosed'); return;
      default: return;
    }
  }

  private onWriterMessage(m: FromWriter): void {
    if (m.t === 'ended') this.settleEnd(m.ep, m);
    else if (m.t === 'closed') this.emit('_writerClosed', m.error);
  }

  private settleEnd(ep: string, m: { ok: true; shardIndex: number; steps: number; bytes: number } | { ok: false; message: string }): void {
    const p = this.pendingEnds.get(ep);
    this.pendingEnds.delete(ep);
    if (!p) return;
    if (m.ok) {
      this.counters.episodes++;
      p.resolve({ episodeId: ep, steps: m.steps, droppedSteps: p.ep.dropped, shardIndex: m.shardIndex, bytes: m.bytes });
    } else {
      if (!p.ep.error) { this.counters.abortedEpisodes++; this.emit('episode-aborted', ep, new RecordError(ep, m.message)); }
      this.lastError = `episode ${ep}: ${m.message}`;
      p.reject(new RecordError(ep, m.message));
    }
  }

  private onWorkerDeath(e: Error): void {
    if (this.workerError) return;
    this.workerError = new Error(`recorder worker failed: ${e.message}`);
    this.lastError = this.workerError.message;
    for (const p of this.pendingEnds.values()) p.reject(this.workerError);
    this.pendingEnds.clear();
    this.emit('_encoderClosed');
    this.emit('_writerClosed', this.workerError.message);
  }
}

/** Numeric options, checked here: a bad one would otherwise surface as a worker failing to start. */
function checkLimits(opts: RecorderOptions): void {
  const ranges: [keyof RecorderOptions, number, number][] = [
    ['maxQueueSteps', 1, 1 << 20], ['maxEpisodesPerShard', 1, 2 ** 31], ['maxShardBytes', 1, Number.MAX_SAFE_INTEGER],
    ['maxEpisodeBytes', 1, 2 ** 31 - 1], ['encodeConcurrency', 1, 1024], ['jpegQuality', 1, 100], ['pngCompressionLevel', 0, 9],
  ];
  for (const [k, min, max] of ranges) {
    const v = opts[k];
    if (v !== undefined && !(Number.isInteger(v) && (v as number) >= min && (v as number) <= max)) throw new StepDataError(`${k} is ${String(v)}; expected an integer in [${min}, ${max}]`);
  }
}

/**
 * Starts the recorder workers, creates or reopens the dataset and recovers what a crash left.
 * Refuses (rejects) a setup it cannot record into: the error names the directory or feature and
 * the reason, the workers are stopped, and whatever this call created is removed again.
 */
export async function openRecorder(opts: RecorderOptions): Promise<Recorder> {
  checkDatasetName(opts.name);
  checkIOSpec(opts.spec);
  const version = opts.version ?? '1.0.0';
  if (!VERSION_RE.test(version)) throw new StepDataError(`version '${version}' must be x.y.z`);
  const encoding = opts.imageEncoding ?? 'jpeg'; // PNG costs ~2x the CPU and ~6x the bytes at 224x224
  if (encoding !== 'png' && encoding !== 'jpeg') throw new StepDataError(`imageEncoding '${String(encoding)}' must be png or jpeg`);
  checkLimits(opts);
  const journalDir = opts.journalDir ?? defaultJournalDir(opts.root, opts.name, version);
  const nice = opts.workerNice ?? 10;
  const store: StoreOptions = {
    root: opts.root, name: opts.name, version, features: buildFeatures(opts.spec, encoding), journalDir,
    ...(opts.maxEpisodesPerShard !== undefined ? { maxEpisodesPerShard: opts.maxEpisodesPerShard } : {}),
    ...(opts.maxShardBytes !== undefined ? { maxShardBytes: opts.maxShardBytes } : {}),
    ...(opts.recoverPartial !== undefined ? { recoverPartial: opts.recoverPartial } : {}),
    ...(opts.description !== undefined ? { description: opts.description } : {}),
  };
  const init: WorkerInit = {
    journalDir,
    nice,
    imageEncoding: encoding,
    jpegQuality: opts.jpegQuality ?? 95,
    pngCompressionLevel: opts.pngCompressionLevel ?? 3,
    maxEpisodeBytes: opts.maxEpisodeBytes ?? 1_800_000_000,
    encodeConcurrency: opts.encodeConcurrency ?? Math.max(1, Math.floor(availableParallelism() / 2)),
    ring: ringLayout(opts.spec.cameras, opts.spec.stateDim, opts.spec.actionDim, opts.maxQueueSteps ?? 32),
  };
  // Both start at once. The writer recovers the dataset before it answers; the encoder writes no
  // journal before the first beginEpisode, which can only come after both are ready.
  const writer = new Worker(new URL('./writer-worker.js', import.meta.url), { workerData: { store, nice } });
  const worker = new Worker(new URL('./recorder-worker.js', import.meta.url), { workerData: init });
  const started = <T>(w: Worker, name: string, pick: (m: { t: string }) => T | Error | undefined) => new Promise<T>((resolve, reject) => {
    const onMsg = (m: { t: string }) => {
      const r = pick(m);
      if (r === undefined) return;
      cleanup();
      if (r instanceof Error) reject(r); else resolve(r);
    };
    const onErr = (e: Error) => { cleanup(); reject(new Error(`recorder ${name} failed to start: ${e.message}`)); };
    const onExit = (code: number) => { cleanup(); reject(new Error(`recorder ${name} exited at start (code ${code})`)); };
    const cleanup = () => { w.off('message', onMsg); w.off('error', onErr); w.off('exit', onExit); };
    w.on('message', onMsg);
    w.on('error', onErr);
    w.on('exit', onExit);
  });
  // Both are waited for, even once one has failed: the writer must not be stopped halfway through
  // creating the dataset, or the refusal would leave directories behind.
  const [opened, encoder] = await Promise.allSettled([
    started<RecoveryReport>(writer, 'writer', (m) => {
      const wm = m as FromWriter;
      if (wm.t === 'ready') return wm.recovery;
      // The writer has already taken back what its failed open created.
      if (wm.t === 'fatal') return new Error(`cannot open dataset ${opts.root}/${opts.name}/${version}: ${wm.message}`);
      return undefined;
    }),
    started<true>(worker, 'encoder', (m) => (m.t === 'ready' ? true : undefined)),
  ]);
  if (opened.status === 'fulfilled' && encoder.status === 'fulfilled') {
    return new Recorder(worker, writer, opts, opened.value, `${opts.root}/${opts.name}/${version}`, init.ring);
  }
  if (opened.status === 'fulfilled') await abandonOpen(writer);
  await Promise.all([writer.terminate(), worker.terminate()]);
  throw opened.status === 'rejected' ? opened.reason : (encoder as PromiseRejectedResult).reason;
}

/** Asks a writer that opened the dataset to undo that open (the encoder failed to start). */
function abandonOpen(writer: Worker): Promise<void> {
  return new Promise((resolve) => {
    const done = () => { writer.off('message', onMsg); writer.off('error', done); writer.off('exit', done); resolve(); };
    const onMsg = (m: FromWriter) => { if (m.t === 'closed') done(); };
    writer.on('message', onMsg);
    writer.on('error', done);
    writer.on('exit', done);
    writer.postMessage({ t: 'abandon' } satisfies ToWriter);
  });
}
