// The safetensors file format (Hugging Face; the spec is the format's README), float32 tensors
// only, which is what LoRA adapters on this robot are:
//   u64 little-endian N | N bytes of JSON header | byte buffer
// The header maps each tensor name to { dtype, shape, data_offsets: [begin, end) } relative to
// the buffer, plus an optional "__metadata__" of string -> string. Written with the header padded
// by spaces to a multiple of 8 bytes (as the reference writer does) and tensors in name order.
// Read strictly: a file that any rule of the spec refuses is refused here, naming the rule, and
// so is a non-finite value (an adapter with a NaN would poison every chunk it served).

/** One float32 tensor, row-major. */
export interface F32Tensor { shape: number[]; data: Float32Array }

export interface SafetensorsContents {
  tensors: Map<string, F32Tensor>;
  metadata: Record<string, string>;
}

/** The largest header the reference reader accepts (100 MB); larger is damage or an attack. */
const MAX_HEADER_BYTES = 100_000_000;
const DTYPE_BYTES: Readonly<Record<string, number>> = { BOOL: 1, U8: 1, I8: 1, F8_E4M3: 1, F8_E5M2: 1, I16: 2, U16: 2, F16: 2, BF16: 2, I32: 4, U32: 4, F32: 4, I64: 8, U64: 8, F64: 8 };

export class SafetensorsError extends Error {
  constructor(readonly file: string, message: string) {
    super(`${file}: ${message}`);
    this.name = 'SafetensorsError';
  }
}

const count = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

export function encodeSafetensors(tensors: ReadonlyMap<string, F32Tensor>, metadata: Record<string, string> = {}): Uint8Array {
  const names = [...tensors.keys()].sort();
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length) header.__metadata__ = metadata;
  let offset = 0;
  for (const name of names) {
    const t = tensors.get(name)!;
    if (name === '__metadata__') throw new Error("a tensor cannot be named '__metadata__'");
    if (count(t.shape) !== t.data.length) throw new Error(`tensor '${name}': shape [${t.shape.join(', ')}] holds ${count(t.shape)} values, data has ${t.data.length}`);
    header[name] = { dtype: 'F32', shape: t.shape, data_offsets: [offset, offset + t.data.byteLength] };
    offset += t.data.byteLength;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - ((Buffer.byteLength(json) + 8) % 8)) % 8);
  const headerBytes = Buffer.from(json, 'utf8');
  const out = new Uint8Array(8 + headerBytes.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerBytes.length), true);
  out.set(headerBytes, 8);
  let at = 8 + headerBytes.length;
  for (const name of names) {
    const d = tensors.get(name)!.data;
    // Float32Array is host-endian; every platform vlad runs on is little-endian, as the format is.
    out.set(new Uint8Array(d.buffer, d.byteOffset, d.byteLength), at);
    at += d.byteLength;
  }
  return out;
}

export function decodeSafetensors(bytes: Uint8Array, file = 'adapter_model.safetensors'): SafetensorsContents {
  const fail = (msg: string): never => { throw new SafetensorsError(file, msg); };
  if (bytes.length < 8) fail(`${bytes.length} bytes: too short for the 8-byte header length`);
  const n = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getBigUint64(0, true);
  if (n > BigInt(MAX_HEADER_BYTES)) fail(`header length ${n} is over the ${MAX_HEADER_BYTES}-byte limit`);
  const headerLen = Number(n);
  if (8 + headerLen > bytes.length) fail(`header length ${headerLen} runs past the end of the file (${bytes.length} bytes): truncated?`);
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + headerLen)));
  } catch (err) {
    fail(`header is not valid UTF-8 JSON (${(err as Error).message})`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) fail('header is not a JSON object');
  const buffer = bytes.subarray(8 + headerLen);
  const metadata: Record<string, string> = {};
  const spans: { name: string; begin: number; end: number; shape: number[] }[] = [];
  for (const [name, raw] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) fail('__metadata__ is not an object');
      for (const [k, v] of Object.entries(raw as Record<string, unknown>)) {
        if (typeof v !== 'string') fail(`__metadata__.${k} is not a string`);
        metadata[k] = v as string;
      }
      continue;
    }
    const e = raw as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (typeof e !== 'object' || e === null) fail(`tensor '${name}': entry is not an object`);
    if (typeof e.dtype !== 'string' || !(e.dtype in DTYPE_BYTES)) fail(`tensor '${name}': unknown dtype ${JSON.stringify(e.dtype)}`);
    if (e.dtype !== 'F32') fail(`tensor '${name}': dtype ${String(e.dtype)}, this reader takes F32 only (save the adapter in float32)`);
    const shape = e.shape;
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) fail(`tensor '${name}': shape ${JSON.stringify(shape)} is not a list of non-negative integers`);
    const offs = e.data_offsets;
    if (!Array.isArray(offs) || offs.length !== 2 || !offs.every((o) => Number.isSafeInteger(o) && o >= 0) || offs[0] > offs[1]) fail(`tensor '${name}': data_offsets ${JSON.stringify(offs)} is not [begin, end] with begin <= end`);
    const [begin, end] = offs as [number, number];
    const want = count(shape as number[]) * 4;
    if (end - begin !== want) fail(`tensor '${name}': data_offsets span ${end - begin} bytes, shape ${JSON.stringify(shape)} F32 needs ${want}`);
    spans.push({ name, begin, end, shape: shape as number[] });
  }
  // The spec: the buffer is indexed entirely, without holes or overlaps.
  spans.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let covered = 0;
  for (const s of spans) {
    if (s.begin !== covered) fail(s.begin < covered ? `tensor '${s.name}' overlaps the tensor before it (begins at ${s.begin}, previous ends at ${covered})` : `a hole in the byte buffer at ${covered}..${s.begin} before tensor '${s.name}'`);
    covered = s.end;
  }
  if (covered !== buffer.length) fail(`the tensors cover ${covered} bytes of a ${buffer.length}-byte buffer: ${covered < buffer.length ? 'trailing bytes' : 'truncated'}`);
  const tensors = new Map<string, F32Tensor>();
  for (const s of spans.sort((a, b) => (a.name < b.name ? -1 : 1))) {
    // A copy (new Uint8Array of a view copies): the data may sit at an offset that is not 4-aligned.
    const data = new Float32Array(new Uint8Array(buffer.subarray(s.begin, s.end)).buffer);
    const bad = data.findIndex((x) => !Number.isFinite(x));
    if (bad >= 0) fail(`tensor '${s.name}': value ${data[bad]} at index ${bad} (NaN and Inf are refused)`);
    tensors.set(s.name, { shape: s.shape, data });
  }
  return { tensors, metadata };
}
