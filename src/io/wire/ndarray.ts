// numpy arrays as the peers put them on the wire, decoded without ever building an object array:
// only numeric dtypes are accepted (never `|O`, never pickle, never void or strings), in little
// endian, C order, with a shape and a byte count that agree and an element count within a limit.
//   GR00T N1.5-N1.7:      { "__ndarray_class__": true, "as_npy": <.npy file bytes> }
//   GR00T main (msgpack-numpy): { b"nd": true, b"type": "<f4", b"kind": b"", b"shape": [..], b"data": bin }
//   openpi:               { b"__ndarray__": true, b"data": bin, b"dtype": "<f4", b"shape": [..] }
// (reference/peer-protocols.md.) Replies use GR00T's release form and openpi's own form.
import { WireError, isMap, type WireMap, type WireValue } from './values.js';

export const DTYPES = {
  '|u1': { name: 'uint8', size: 1, make: (b: ArrayBuffer, o: number, n: number) => new Uint8Array(b, o, n) },
  '|i1': { name: 'int8', size: 1, make: (b: ArrayBuffer, o: number, n: number) => new Int8Array(b, o, n) },
  '|b1': { name: 'bool', size: 1, make: (b: ArrayBuffer, o: number, n: number) => new Uint8Array(b, o, n) },
  '<u2': { name: 'uint16', size: 2, make: (b: ArrayBuffer, o: number, n: number) => new Uint16Array(b, o, n) },
  '<i2': { name: 'int16', size: 2, make: (b: ArrayBuffer, o: number, n: number) => new Int16Array(b, o, n) },
  '<u4': { name: 'uint32', size: 4, make: (b: ArrayBuffer, o: number, n: number) => new Uint32Array(b, o, n) },
  '<i4': { name: 'int32', size: 4, make: (b: ArrayBuffer, o: number, n: number) => new Int32Array(b, o, n) },
  '<i8': { name: 'int64', size: 8, make: (b: ArrayBuffer, o: number, n: number) => new BigInt64Array(b, o, n) },
  '<f4': { name: 'float32', size: 4, make: (b: ArrayBuffer, o: number, n: number) => new Float32Array(b, o, n) },
  '<f8': { name: 'float64', size: 8, make: (b: ArrayBuffer, o: number, n: number) => new Float64Array(b, o, n) },
} as const;
export type DtypeStr = keyof typeof DTYPES;
type Data = Uint8Array | Int8Array | Uint16Array | Int16Array | Uint32Array | Int32Array | BigInt64Array | Float32Array | Float64Array;

export interface NdArray {
  readonly dtype: DtypeStr;
  readonly shape: readonly number[];
  /** Element values, C order (a copy: aligned, owned). */
  readonly data: Data;
}

export interface ArrayLimits { maxElements: number }
export const DEFAULT_ARRAY_LIMITS: ArrayLimits = { maxElements: 16 << 20 };

/** '<f4', 'float32', '=f4' ... to the canonical little-endian form, or a WireError. */
export function canonicalDtype(s: string): DtypeStr {
  const t = s.replace(/^=/, '<').replace(/^\|?(u1|i1|b1)$/, '|$1').replace(/^[<=](u1|i1|b1)$/, '|$1');
  const named: Record<string, DtypeStr> = { uint8: '|u1', int8: '|i1', bool: '|b1', uint16: '<u2', int16: '<i2', uint32: '<u4', int32: '<i4', int64: '<i8', float32: '<f4', float64: '<f8' };
  const d = (named[t] ?? t) as DtypeStr;
  if (d in DTYPES) return d;
  if (/O/.test(s)) throw new WireError(`dtype '${s}' is an object array: refused`);
  if (/^>/.test(s)) throw new WireError(`dtype '${s}' is big-endian: send little-endian`);
  throw new WireError(`dtype '${s.slice(0, 16)}' is not a numeric dtype vlad accepts (${Object.keys(DTYPES).join(' ')})`);
}

function checkShape(shape: unknown, limits: ArrayLimits): number[] {
  if (!Array.isArray(shape) || shape.length > 8) throw new WireError('array shape must be a list of at most 8 sizes');
  let n = 1;
  const out = shape.map((x) => {
    if (typeof x !== 'number' || !Number.isSafeInteger(x) || x < 0) throw new WireError('array shape must hold non-negative integers');
    n *= x;
    if (n > limits.maxElements) throw new WireError(`array of more than ${limits.maxElements} elements refused`);
    return x;
  });
  return out;
}

function build(dtype: DtypeStr, shape: number[], bytes: Uint8Array): NdArray {
  const spec = DTYPES[dtype];
  const count = shape.reduce((a, b) => a * b, 1);
  if (bytes.byteLength !== count * spec.size) throw new WireError(`array data is ${bytes.byteLength} bytes, shape ${JSON.stringify(shape)} of ${dtype} needs ${count * spec.size}`);
  const copy = new Uint8Array(bytes.byteLength);
  copy.set(bytes);
  return { dtype, shape, data: spec.make(copy.buffer, 0, count) };
}

// --- .npy (numpy.lib.format), versions 1-3 ---

const NPY_MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY

/** Parses .npy file bytes (np.save, allow_pickle=False): never unpickles, refuses object dtypes. */
export function decodeNpy(bytes: Uint8Array, limits: ArrayLimits = DEFAULT_ARRAY_LIMITS): NdArray {
  if (bytes.byteLength < 10 || NPY_MAGIC.some((b, i) => bytes[i] !== b)) throw new WireError('as_npy is not a .npy file');
  const major = bytes[6]!;
  if (major < 1 || major > 3) throw new WireError(`.npy version ${major} not supported`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLen = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  const start = major === 1 ? 10 : 12;
  if (headerLen > 65536 || start + headerLen > bytes.byteLength) throw new WireError('.npy header length is wrong');
  const header = new TextDecoder(major === 3 ? 'utf-8' : 'latin1').decode(bytes.subarray(start, start + headerLen));
  const descr = /'descr'\s*:\s*'([^']*)'/.exec(header)?.[1];
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(header)?.[1];
  const shapeText = /'shape'\s*:\s*\(([^)]*)\)/.exec(header)?.[1];
  if (descr === undefined || fortran === undefined || shapeText === undefined) throw new WireError('.npy header is not a numpy array header');
  if (fortran === 'True') throw new WireError('.npy array is in Fortran order: send C order');
  const dims = shapeText.split(',').map((s) => s.trim()).filter(Boolean).map(Number);
  return build(canonicalDtype(descr), checkShape(dims, limits), bytes.subarray(start + headerLen));
}

/** .npy version 1 bytes of an array (what np.save writes: 64-byte aligned header, C order). */
export function encodeNpy(a: NdArray): Uint8Array {
  const shape = a.shape.length === 1 ? `(${a.shape[0]},)` : `(${a.shape.join(', ')})`;
  let header = `{'descr': '${a.dtype}', 'fortran_order': False, 'shape': ${shape}, }`;
  const total = 10 + header.length + 1;
  header += ' '.repeat((64 - (total % 64)) % 64) + '\n';
  const head = new Uint8Array(10 + header.length);
  head.set(NPY_MAGIC, 0);
  head[6] = 1; head[7] = 0;
  new DataView(head.buffer).setUint16(8, header.length, true);
  head.set(new TextEncoder().encode(header), 10);
  const body = new Uint8Array(a.data.buffer, a.data.byteOffset, a.data.byteLength);
  const out = new Uint8Array(head.byteLength + body.byteLength);
  out.set(head, 0);
  out.set(body, head.byteLength);
  return out;
}

// --- the peers' array maps ---

const bytesOf = (v: WireValue | undefined, what: string): Uint8Array => {
  if (!(v instanceof Uint8Array)) throw new WireError(`${what} must be binary`);
  return v;
};

/** Whether a decoded map is one of the array encodings (of either GR00T generation or openpi). */
export function isArrayMap(v: WireValue): v is WireMap {
  return isMap(v) && (v.__ndarray_class__ === true || v.nd === true || v.__ndarray__ === true);
}

/** Decodes any of the three array map forms. */
export function decodeArrayMap(m: WireMap, limits: ArrayLimits = DEFAULT_ARRAY_LIMITS): NdArray {
  if (m.__ndarray_class__ === true) return decodeNpy(bytesOf(m.as_npy, 'as_npy'), limits);
  if (m.nd === true) {
    if (typeof m.type !== 'string') throw new WireError('array type must be a dtype string');
    const kind = m.kind instanceof Uint8Array ? new TextDecoder().decode(m.kind) : m.kind;
    if (kind !== undefined && kind !== '' && kind !== null) throw new WireError(`array kind '${String(kind).slice(0, 8)}' refused (structured or object arrays)`);
    return build(canonicalDtype(m.type), checkShape(m.shape, limits), bytesOf(m.data, 'array data'));
  }
  if (m.__ndarray__ === true) {
    if (typeof m.dtype !== 'string') throw new WireError('array dtype must be a dtype string');
    return build(canonicalDtype(m.dtype), checkShape(m.shape, limits), bytesOf(m.data, 'array data'));
  }
  throw new WireError('not an array');
}

/** GR00T's release form, which both GR00T client generations read. */
export function toGr00tArray(a: NdArray): Record<string, unknown> {
  return { __ndarray_class__: true, as_npy: encodeNpy(a) };
}

/** openpi's form: bin keys, as msgpack-python encodes bytes keys. */
export function toOpenpiArray(a: NdArray): Map<Uint8Array, unknown> {
  return new Map<Uint8Array, unknown>([
    [Buffer.from('__ndarray__'), true],
    [Buffer.from('data'), Buffer.from(a.data.buffer, a.data.byteOffset, a.data.byteLength)],
    [Buffer.from('dtype'), a.dtype],
    [Buffer.from('shape'), [...a.shape]],
  ]);
}

export function float32Array(data: Float32Array, shape: readonly number[]): NdArray {
  return { dtype: '<f4', shape, data };
}

/** An array's values as float64 numbers (images, states), whatever its dtype. */
export function toFloat64(a: NdArray): Float64Array {
  const d = a.data;
  if (d instanceof BigInt64Array) return Float64Array.from(d, (x) => Number(x));
  return Float64Array.from(d as ArrayLike<number>);
}
