// io/wire: the peers' wire formats (msgpack values, numpy arrays, camera images), decoded
// defensively for the peer protocol servers (io/zmq's GR00T service, io/ws's openpi server).
export { decodeFrame, encodeFrame, isMap, WireError, DEFAULT_LIMITS, type WireValue, type WireMap, type DecodeLimits } from './values.js';
export {
  decodeNpy, encodeNpy, decodeArrayMap, isArrayMap, toGr00tArray, toOpenpiArray, float32Array, toFloat64, canonicalDtype,
  DTYPES, DEFAULT_ARRAY_LIMITS, type NdArray, type DtypeStr, type ArrayLimits,
} from './ndarray.js';
export { toCameraImage, type ImageLayout } from './images.js';
export type { PeerPolicy, PeerPolicyIO, PeerInference, PeerCounter } from './policy-port.js';
export { RateLimiter, constantTimeEqual, withTimeout } from './guards.js';
