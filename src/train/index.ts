// train: idle-time learning (issue 18). The trainer worker on the bundle's train_step graph, the
// data it learns from, the frozen-prefix cache, the persisted optimizer state, the offline gate.
export { Trainer } from './trainer.js';
export type { StepResult, TrainerParams, TrainerStatus } from './runner.js';
export { DEFAULT_TRAINING_CONFIG, trainingConfig } from './config.js';
export type { TrainingConfig, TrainingConfigInput } from './config.js';
export { windowWeights, targetEnd, targetChunk, takeovers, countByMode } from './windows.js';
export type { StepLabels } from './windows.js';
export { TrainingDataError } from './episodes.js';
export type { EpisodeKey } from './episodes.js';
export { gateDecision } from './gate.js';
export type { GateMetrics, GateResult, GateSet } from './gate.js';
export type { AdapterLineage, CandidateAdapter, LossSummary } from './state.js';
export { WeightedPool, drawBatch, flowT } from './sampling.js';
