// ota: everything a model swap needs below the composition root: trust (signatures, expiry,
// hw-profile), anti-rollback state, the A/B bundle store, staged resumable uploads, I/O fit,
// the warm-up comparison and the health window. The daemon composes them with the policy and
// the control loop (daemon/ota.ts).
export { OtaRefusal, REFUSAL_CODES, type RefusalCode } from './errors.js';
export { TrustAnchor, type TrustConfig } from './trust.js';
export { checkIoFits, ioDifferences, adaptersCarryOver } from './fit.js';
export { bundleId, parseBundleId, checkVersion, checkActivation, recordInstalled, readState, withEvent, emptyState, type OtaState, type OtaEvent } from './state.js';
export { BundleStore, type BootChoice } from './store.js';
export { UploadStaging, type UploadLimits, type UploadStatus, type UploadFile } from './upload.js';
export { HealthWindow, type HealthThresholds, type HealthVerdict, type HealthSummary } from './health.js';
export { compareChunks, allFiniteChunk, type ChunkComparison } from './warmup.js';
