// The step ring shared by the recorder (caller's thread, the producer) and its encoder worker (the
// consumer): a single-producer single-consumer queue in one SharedArrayBuffer. The producer copies
// a step (images, state, action and its scalar fields) into slot `write % slots` and publishes it
// with one Atomics.store of the write sequence; the consumer polls, encodes, and hands slots back
// in order by storing the read sequence. No message per step in either direction, so the control
// thread neither serializes nor wakes for the recorder; the number of slots is the queue bound.

/** Int32 control words at the start of the buffer. */
export const RING = {
  /** Steps published by the producer (slot = seq % slots). */
  WRITE: 0,
  /** Steps the consumer is done with (their slots are free again). */
  READ: 1,
  WORDS: 16,
} as const;

/** Per-slot scalar fields (Float64 area). */
export const F64 = { REWARD: 0, DISCOUNT: 1, DELAY: 2, COUNT: 3 } as const;
/** Per-slot BigInt64 fields. */
export const I64 = { NOISE_SEED: 0, STAMP_NS: 1, COUNT: 2 } as const;
/** Per-slot Int32 fields. String fields are ids in the string table sent by message. */
export const I32 = { EPISODE: 0, MODE: 1, INSTRUCTION: 2, MODEL_VERSION: 3, ADAPTER_VERSION: 4, FLAGS: 5, COUNT: 8 } as const;
/** FLAGS bit 0: the step has a reward; bit 1 + c: camera c repeats the previous step's frame. */
export const FLAG_REWARD = 1;
export const repeatFlag = (camera: number): number => 1 << (camera + 1);

export interface RingLayout {
  sab: SharedArrayBuffer;
  slots: number;
  slotBytes: number;
  /** Byte offset of slot 0 (after the control words). */
  base: number;
  /** Byte offset within a slot and size of each camera image, then state and action (float32). */
  cameras: { name: string; width: number; height: number; offset: number; bytes: number }[];
  stateOffset: number;
  stateDim: number;
  actionOffset: number;
  actionDim: number;
  f64Offset: number;
  i64Offset: number;
  i32Offset: number;
}

export function ringLayout(cameras: { name: string; width: number; height: number }[], stateDim: number, actionDim: number, slots: number): RingLayout {
  if (!(Number.isInteger(slots) && slots >= 1 && slots <= 1 << 20)) throw new Error(`recorder queue: ${slots} slots (1..${1 << 20})`);
  if (cameras.length > 29) throw new Error(`recorder: ${cameras.length} cameras, at most 29`);
  let off = 0;
  const f64Offset = off; off += F64.COUNT * 8;
  const i64Offset = off; off += I64.COUNT * 8;
  const i32Offset = off; off += I32.COUNT * 4;
  const stateOffset = off; off += stateDim * 4;
  const actionOffset = off; off += actionDim * 4;
  off = Math.ceil(off / 64) * 64;
  const cams = cameras.map((c) => {
    const bytes = c.width * c.height * 3;
    const r = { name: c.name, width: c.width, height: c.height, offset: off, bytes };
    off += Math.ceil(bytes / 64) * 64;
    return r;
  });
  const slotBytes = Math.ceil(off / 64) * 64;
  const base = 64;
  return { sab: new SharedArrayBuffer(base + slotBytes * slots), slots, slotBytes, base, cameras: cams, stateOffset, stateDim, actionOffset, actionDim, f64Offset, i64Offset, i32Offset };
}

/** Typed views of one slot (both sides build them once). */
export interface SlotViews {
  images: Uint8Array[];
  state: Float32Array;
  action: Float32Array;
  f64: Float64Array;
  i64: BigInt64Array;
  i32: Int32Array;
}

export function slotViews(r: RingLayout): SlotViews[] {
  return Array.from({ length: r.slots }, (_, i) => {
    const at = r.base + i * r.slotBytes;
    return {
      images: r.cameras.map((c) => new Uint8Array(r.sab, at + c.offset, c.bytes)),
      state: new Float32Array(r.sab, at + r.stateOffset, r.stateDim),
      action: new Float32Array(r.sab, at + r.actionOffset, r.actionDim),
      f64: new Float64Array(r.sab, at + r.f64Offset, F64.COUNT),
      i64: new BigInt64Array(r.sab, at + r.i64Offset, I64.COUNT),
      i32: new Int32Array(r.sab, at + r.i32Offset, I32.COUNT),
    };
  });
}

export function controlWords(r: RingLayout): Int32Array { return new Int32Array(r.sab, 0, RING.WORDS); }
