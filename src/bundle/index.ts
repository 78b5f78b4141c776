export { parseManifest, canonicalManifest, BundleError, EXPERT_KINDS, GRAPH_NAMES, SCHEMA_VERSION, MANIFEST_SCHEMA, dtypeBytes } from './manifest.js';
export type { Manifest, ExpertKind, GraphName, GraphSpec, TensorSpec, TensorDtype, IoSpec, CameraSpec, SamplerSpec, LoraEntry, GoldenTensor, GoldenCase } from './manifest.js';
export { readBundle, readManifest, verifyHashes, sha256File, goldenTensor, typedView } from './files.js';
export type { BundleContents, NormStats, NormStatsFile, TypedTensorData } from './files.js';
export { checkGraphIo, maxRelativeError, allFinite } from './graph-check.js';
export { generateSigningKey, signManifest, validSignatures, signaturesOf, keyIdOf, publicKeyObject, publicKeyOfPrivate } from './signing.js';
export type { SigningKeyPair } from './signing.js';
export type { BundleSignature } from './manifest.js';
