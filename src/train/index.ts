// train: idle-time learning on the robot. The trainer worker on the bundle's train_step graph,
// the data it learns from, the frozen-prefix cache, the persisted optimizer state and the offline
// gate; adapters on disk in the PEFT format (peft.ts over safetensors.ts); the adapter store with
// lineage; the promoted adapter's online window.
export { Trainer } from './trainer.js';
export type { StepResult, TrainerParams, TrainerStatus } from './runner.js';
export { DEFAULT_TRAINING_CONFIG, TRAINING_CONFIG_SCHEMA, trainingConfig } from './config.js';
export type { TrainingConfig, TrainingConfigInput } from './config.js';
export { windowWeights, targetEnd, targetChunk, takeovers, countByMode } from './windows.js';
export type { StepLabels } from './windows.js';
export { TrainingDataError } from './episodes.js';
export type { EpisodeKey } from './episodes.js';
export { gateDecision } from './gate.js';
export type { GateMetrics, GateResult, GateSet } from './gate.js';
export type { PassLineage, CandidateAdapter, LossSummary } from './state.js';
export { WeightedPool, drawBatch, flowT } from './sampling.js';
export { encodeSafetensors, decodeSafetensors, SafetensorsError, type F32Tensor, type SafetensorsContents } from './safetensors.js';
export { writePeftAdapter, readPeftAdapter, parsePeftAdapter, packToPeft, peftToPack, peftConfig, peftModules, loraKey, PeftError, PEFT_CONFIG_FILE, PEFT_WEIGHTS_FILE, type PeftAdapter, type PeftModule, type LoraSpec } from './peft.js';
export { AdapterStore, type AdapterState, type AdapterStoreEvent, type AdapterRecovery, type BootAdapter } from './adapter-store.js';
export { checkLineageInput, parseLineage, LINEAGE_FILE, type AdapterLineage, type LineageInput, type AdapterEvent, type AdapterEventKind } from './lineage.js';
export { EpisodeHistory, OnlineWindow, summarize, type EpisodeFacts, type EpisodeSummary, type OnlineWindowLimits, type WindowVerdict } from './online-window.js';
