// The encoder worker: image encoding (sharp, on libuv threads) and step journaling. Finished
// journals go to the writer worker. Nothing here runs on the control loop's thread.
import { parentPort, receiveMessageOnPort, workerData } from 'node:worker_threads';
import { open, rm, type FileHandle } from 'node:fs/promises';
import sharp from 'sharp';
import PQueue from 'p-queue';
import { encodeExample } from './example.js';
import { headerFeatures, stepFeatures, type EpisodeHeader } from './episode.js';
import { ioError, journalPath } from './store.js';
import { renice, reniceThreadsNamed } from './nice.js';
import { frameRecord } from './tfrecord.js';
import type { ControlMode, ImageEncoding } from './schema.js';
import { controlWords, F64, FLAG_REWARD, I32, I64, repeatFlag, RING, slotViews, type RingLayout } from './ring.js';
import { CONTROL_MODES } from './schema.js';

export interface WorkerInit {
  journalDir: string;
  nice: number;
  imageEncoding: ImageEncoding;
  jpegQuality: number;
  pngCompressionLevel: number;
  /** An episode Example above this is refused (protobuf messages must stay below 2 GiB). */
  maxEpisodeBytes: number;
  /** Images encoded at once; fewer busy threads leave a core to the control loop. */
  encodeConcurrency: number;
  /** Step slots shared with the caller's thread (ring.ts); slots are released in order once their images are encoded. */
  ring: RingLayout;
  /** How often the ring is polled while idle / while steps are coming, ms. */
  pollIdleMs?: number;
  pollBusyMs?: number;
}

/** `seq`: the ring's write sequence when the message was sent; it is handled after the steps before it. */
export type ToWorker =
  | { t: 'begin'; header: EpisodeHeader; serial: number; seq: number }
  | { t: 'string'; id: number; value: string; seq: number }
  | { t: 'end'; ep: string; success: boolean; truncated: boolean; droppedSteps: number; seq: number }
  | { t: 'abort'; ep: string; reason: string; seq: number }
  | { t: 'close'; seq: number };

export type FromWorker =
  | { t: 'ready' }
  | { t: 'failed'; ep: string; message: string }
  /** The journal is complete and synced; the writer may turn it into a record. */
  | { t: 'journaled'; ep: string; ok: true; success: boolean; truncated: boolean; droppedSteps: number }
  | { t: 'journaled'; ep: string; ok: false; message: string }
  | { t: 'closed' };

interface EpisodeState {
  header: EpisodeHeader;
  steps: number;
  journal?: FileHandle;
  failed?: Error;
  bytes: number;
  lastSync: number;
}

const port = parentPort!;
const init = workerData as WorkerInit;
const post = (m: FromWorker) => port.postMessage(m);
const episodes = new Map<string, EpisodeState>();
let chain: Promise<unknown> = Promise.resolve();
const pathOf = (ep: string) => journalPath(init.journalDir, ep);
renice(init.nice);
setInterval(() => reniceThreadsNamed('libvips worker', init.nice), 2000).unref();

function fail(st: EpisodeState, e: unknown): void {
  if (st.failed) return;
  st.failed = e instanceof Error ? e : new Error(String(e));
  post({ t: 'failed', ep: st.header.episodeId, message: st.failed.message });
}

async function dropJournal(st: EpisodeState): Promise<void> {
  await st.journal?.close().catch(() => undefined);
  st.journal = undefined;
  await rm(pathOf(st.header.episodeId), { force: true }).catch(() => undefined);
}

const ring = init.ring;
const words = controlWords(ring);
const views = slotViews(ring);
const encodeQueue = new PQueue({ concurrency: init.encodeConcurrency });
const strings: string[] = [];
/** Episode serial (from the ring) -> state; the serial of the steps' episode. */
const bySerial = new Map<number, EpisodeState>();
/** Ring position: next step to take, and steps handed back so far. */
let taken = 0;
let released = 0;
/** Per ring slot: still being read by the encoder. */
const busy = new Uint8Array(ring.slots);
/** The previous step's encoded images per camera (a repeated frame reuses them). */
let previousImages: Promise<Buffer>[] = [];

function encodeImage(slot: number, c: RingLayout['cameras'][number]): Promise<Buffer> {
  const input = Buffer.from(ring.sab, ring.base + slot * ring.slotBytes + c.offset, c.bytes);
  const img = sharp(input, { raw: { width: c.width, height: c.height, channels: 3 } });
  return (init.imageEncoding === 'png' ? img.png({ compressionLevel: init.pngCompressionLevel }) : img.jpeg({ quality: init.jpegQuality })).toBuffer();
}

/** Hands slots back in ring order once nothing reads them any more. */
function releaseDone(): void {
  const before = released;
  while (released < taken && busy[released % ring.slots] === 0) released++;
  if (released !== before) {
    Atomics.store(words, RING.READ, released | 0);
    Atomics.notify(words, RING.READ);
  }
}

function takeStep(): void {
  const slot = taken % ring.slots;
  const v = views[slot]!;
  taken++;
  const st = bySerial.get(v.i32[I32.EPISODE]!);
  if (!st || st.failed) { previousImages = []; releaseDone(); return; }
  const flags = v.i32[I32.FLAGS]!;
  const state = Float32Array.from(v.state);
  const action = Float32Array.from(v.action);
  const reward = flags & FLAG_REWARD ? v.f64[F64.REWARD]! : undefined;
  const meta = {
    instruction: strings[v.i32[I32.INSTRUCTION]!]!, discount: v.f64[F64.DISCOUNT]!, mode: CONTROL_MODES[v.i32[I32.MODE]!]! as ControlMode,
    modelVersion: strings[v.i32[I32.MODEL_VERSION]!]!, adapterVersion: strings[v.i32[I32.ADAPTER_VERSION]!]!,
    noiseSeed: v.i64[I64.NOISE_SEED]!, inferenceDelaySteps: v.f64[F64.DELAY]!, stampNs: v.i64[I64.STAMP_NS]!,
  };
  // Encoding starts now, concurrently; the slot is free once sharp is done reading it. A repeated
  // frame reuses the previous step's encoding (the producer only flags a repeat after a full step).
  busy[slot] = 1;
  const images = ring.cameras.map((c, i) => (flags & repeatFlag(i) && previousImages[i] ? previousImages[i]! : encodeQueue.add(() => encodeImage(slot, c)) as Promise<Buffer>));
  previousImages = images;
  const encoded = Promise.all(images);
  encoded.catch(() => undefined).finally(() => { busy[slot] = 0; releaseDone(); });
  // Journaling keeps step order.
  chain = chain.then(async () => {
    try {
      if (st.failed) return;
      const imgs = await encoded.catch((e) => { throw new Error(`image encoding failed: ${(e as Error).message}`); });
      const f = stepFeatures({
        encodedImages: ring.cameras.map((c, i) => [c.name, imgs[i]!]), state, action,
        ...(reward !== undefined ? { reward } : {}), ...meta,
      });
      const rec = frameRecord(encodeExample(f));
      st.bytes += rec.length;
      if (st.bytes > init.maxEpisodeBytes) throw new Error(`episode exceeds ${init.maxEpisodeBytes} bytes; end episodes sooner or use jpeg`);
      try {
        await st.journal!.write(rec);
        if (Date.now() - st.lastSync > 1000) { await st.journal!.datasync(); st.lastSync = Date.now(); }
      } catch (e) { throw ioError(`cannot journal step to ${pathOf(st.header.episodeId)}`, e); }
      st.steps++;
    } catch (e) {
      fail(st, e);
      await dropJournal(st);
    }
  });
}

/** Takes the published steps up to ring position `upTo` (a 32-bit sequence). */
function takeUpTo(upTo: number): void {
  while (((upTo - (taken | 0)) | 0) > 0) takeStep();
}

function onMessage(m: ToWorker): void {
  takeUpTo(m.seq);
  switch (m.t) {
    case 'string': strings[m.id] = m.value; return;
    case 'begin': {
      const st: EpisodeState = { header: m.header, steps: 0, bytes: 0, lastSync: Date.now() };
      episodes.set(m.header.episodeId, st);
      bySerial.set(m.serial, st);
      chain = chain.then(async () => {
        const file = pathOf(m.header.episodeId);
        try {
          st.journal = await open(file, 'w');
          await st.journal.write(frameRecord(encodeExample(headerFeatures(m.header))));
        } catch (e) {
          fail(st, ioError(`cannot start journal ${file}`, e));
          await st.journal?.close().catch(() => undefined);
          st.journal = undefined;
        }
      });
      return;
    }
    case 'abort': {
      const st = episodes.get(m.ep);
      forgetSerial(st);
      chain = chain.then(async () => {
        if (!st) return;
        episodes.delete(m.ep);
        await dropJournal(st);
      });
      return;
    }
    case 'end': {
      const st = episodes.get(m.ep);
      forgetSerial(st);
      chain = chain.then(async () => {
        if (!st) { post({ t: 'journaled', ep: m.ep, ok: false, message: `unknown episode ${m.ep}` }); return; }
        episodes.delete(m.ep);
        if (!st.failed && st.steps === 0) fail(st, new Error('episode has no steps; RLDS consumers drop empty episodes, so it is not written'));
        if (st.failed) {
          await dropJournal(st);
          post({ t: 'journaled', ep: m.ep, ok: false, message: st.failed.message });
          return;
        }
        try {
          await st.journal!.datasync();
          await st.journal!.close();
          st.journal = undefined;
          post({ t: 'journaled', ep: m.ep, ok: true, success: m.success, truncated: m.truncated, droppedSteps: m.droppedSteps });
        } catch (e) {
          await dropJournal(st);
          post({ t: 'journaled', ep: m.ep, ok: false, message: ioError(`cannot sync journal ${pathOf(m.ep)}`, e).message });
        }
      });
      return;
    }
    case 'close':
      closing = true;
      chain = chain.then(async () => {
        for (const st of episodes.values()) await dropJournal(st);
        post({ t: 'closed' });
        port.close();
      });
      return;
  }
}

function forgetSerial(st: EpisodeState | undefined): void {
  for (const [serial, s] of bySerial) if (s === st) bySerial.delete(serial);
}

// The port is drained by polling, in step with the ring: a message sent before step k was
// published is queued before the consumer can see step k, so "messages first, then the ring up to
// what was published before the messages were drained" keeps the producer's order.
let closing = false;
function pump(): void {
  for (;;) {
    const published = Atomics.load(words, RING.WRITE);
    let msg;
    while (!closing && (msg = receiveMessageOnPort(port))) onMessage(msg.message as ToWorker);
    if (closing) return;
    takeUpTo(published);
    if (Atomics.load(words, RING.WRITE) === published) break;
  }
  const idle = episodes.size === 0;
  setTimeout(pump, idle ? init.pollIdleMs ?? 20 : init.pollBusyMs ?? 4);
}

// The first encode initializes libvips (threads, caches): done here, not on the first step.
const c0 = ring.cameras[0];
if (c0) {
  const blank = sharp(Buffer.alloc(c0.bytes), { raw: { width: c0.width, height: c0.height, channels: 3 } });
  await (init.imageEncoding === 'png' ? blank.png() : blank.jpeg()).toBuffer().catch(() => undefined);
}
post({ t: 'ready' });
pump();
