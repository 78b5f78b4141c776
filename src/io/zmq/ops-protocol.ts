// The ops RPC wire protocol, v1: one msgpack frame each way.
//   request: { v: 1, id, method, params? }       id: non-negative integer or string <= 64 chars
//   reply:   { v: 1, id, ok: true, result }  |  { v: 1, id, ok: false, error: { code, message } }
// A request the server cannot read an id from is answered with id: null.
import { Packr, Unpackr } from 'msgpackr';

export const OPS_PROTOCOL_VERSION = 1;

export const OPS_ERROR_CODES = ['bad_frame', 'bad_version', 'bad_request', 'unknown_method', 'bad_params', 'refused', 'internal'] as const;
export type OpsErrorCode = (typeof OPS_ERROR_CODES)[number];

export type OpsRequestId = number | string;

export interface OpsRequest {
  v: number;
  id: OpsRequestId;
  method: string;
  params?: Record<string, unknown>;
}

export type OpsReply =
  | { v: number; id: OpsRequestId | null; ok: true; result: unknown }
  | { v: number; id: OpsRequestId | null; ok: false; error: { code: string; message: string } };

/** What a method handler throws to answer with a specific code (usually 'refused'). */
export class OpsError extends Error {
  constructor(readonly code: OpsErrorCode, message: string) {
    super(message);
    this.name = 'OpsError';
  }
}

export const MAX_ID_LENGTH = 64;

export function isValidRequestId(id: unknown): id is OpsRequestId {
  return (typeof id === 'number' && Number.isSafeInteger(id) && id >= 0) || (typeof id === 'string' && id.length <= MAX_ID_LENGTH);
}

// undefined becomes nil so non-JS clients (Python's msgpack) can read every reply.
export const opsPackr = new Packr({ useRecords: false, encodeUndefinedAsNil: true });
export const opsUnpackr = new Unpackr({ useRecords: false, mapsAsObjects: true, int64AsType: 'number' });

/** A msgpack map decoded as a plain object (not an array, Date, typed array or msgpackr's 0xC1 token object). */
export function isPlainMap(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null) return false;
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}
