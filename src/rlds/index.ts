// RLDS (TFDS) episode recording and reading. See README.md "Recorded datasets".
export { openRecorder, Recorder, RecordError } from './recorder.js';
export type { RecorderOptions, EndEpisodeOptions, EpisodeResult, RecorderStats } from './recorder.js';
export { StepDataError, buildFeatures, CONTROL_MODES, recorderSpecFromBundleIO } from './schema.js';
export type { RecorderIOSpec, CameraSpec, ImageEncoding, ControlMode, RecordStep, EpisodeMeta, BundleIO } from './schema.js';
export { openDataset, resolveVersionDir, Dataset } from './reader.js';
export type { OpenDatasetOptions, Episode, EpisodeRef } from './reader.js';
export { EncodedImage, DecodedEpisode, DecodeError } from './decode.js';
export type { Tensor, Value, ValueDict, DecodedImage } from './decode.js';
export { validateDataset } from './validate.js';
export type { ValidationReport } from './validate.js';
export type { RecoveryReport } from './store.js';
export type { Leaf, LeafNode, FeatureNode } from './features.js';
