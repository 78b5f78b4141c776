// Frames from peers' clients, decoded defensively: msgpack into plain values (maps with string
// keys, whether the peer sent them as str or as bin, as Python's msgpack does for bytes keys),
// with limits on size, depth and node count, and errors that say what was wrong in a few words.
import { Packr, Unpackr } from 'msgpackr';

/** A decoded msgpack value. Binary data stays a Uint8Array; maps become plain objects. */
export type WireValue = null | boolean | number | bigint | string | Uint8Array | WireValue[] | { [key: string]: WireValue };
export type WireMap = { [key: string]: WireValue };

export class WireError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WireError';
  }
}

export interface DecodeLimits {
  /** Largest frame accepted, bytes. */
  maxBytes: number;
  /** Deepest nesting of maps and arrays. */
  maxDepth: number;
  /** Most maps, arrays and values in one frame. */
  maxNodes: number;
}

export const DEFAULT_LIMITS: DecodeLimits = { maxBytes: 64 << 20, maxDepth: 16, maxNodes: 100_000 };

// Maps as Map (keys may be bin), 64-bit integers as number when safe (msgpack-python sends ints).
const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: false, int64AsType: 'number' });
const packr = new Packr({ useRecords: false, encodeUndefinedAsNil: true });

const textDecoder = new TextDecoder('utf-8', { fatal: true });

/** Decodes one msgpack frame into a plain value, or throws a WireError saying why not. */
export function decodeFrame(frame: Uint8Array, limits: DecodeLimits = DEFAULT_LIMITS): WireValue {
  if (frame.byteLength > limits.maxBytes) throw new WireError(`message of ${frame.byteLength} bytes is over the ${limits.maxBytes}-byte limit`);
  if (frame.byteLength === 0) throw new WireError('empty message');
  let raw: unknown;
  try {
    raw = unpackr.unpack(frame);
  } catch (err) {
    throw new WireError(err instanceof RangeError ? 'message nested too deeply' : 'not a msgpack message');
  }
  const budget = { nodes: limits.maxNodes };
  return plain(raw, 0, limits, budget);
}

function plain(v: unknown, depth: number, limits: DecodeLimits, budget: { nodes: number }): WireValue {
  if (--budget.nodes < 0) throw new WireError(`message has more than ${limits.maxNodes} values`);
  if (v === null || v === undefined) return null;
  switch (typeof v) {
    case 'boolean': case 'string': case 'bigint': return v;
    case 'number': return v;
    default: break;
  }
  if (v instanceof Uint8Array) return v;
  if (depth >= limits.maxDepth) throw new WireError(`message nested deeper than ${limits.maxDepth}`);
  if (Array.isArray(v)) return v.map((x) => plain(x, depth + 1, limits, budget));
  if (v instanceof Map) {
    const out: WireMap = Object.create(null) as WireMap;
    for (const [k, x] of v) {
      let key: string;
      if (typeof k === 'string') key = k;
      else if (k instanceof Uint8Array) {
        try { key = textDecoder.decode(k); } catch { throw new WireError('a map key is not text'); }
      } else throw new WireError('a map key is not text');
      out[key] = plain(x, depth + 1, limits, budget);
    }
    return out;
  }
  throw new WireError(`unsupported msgpack value (${Object.prototype.toString.call(v).slice(8, -1)})`);
}

export function isMap(v: WireValue | undefined): v is WireMap {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array);
}

/** Encodes a reply. Maps built as `Map` keep their key types (bin keys for openpi's arrays). */
export function encodeFrame(value: unknown): Buffer {
  return packr.pack(value);
}
