// What the trainer learns from and how: one validated TrainingConfig with documented defaults.
// The hw-profile's `training:` section (idle_after_s, step_budget_ms, max_steps_per_pass) and the
// daemon's params fill it; everything else has a default here. snake_case, as in the YAML files.
import { compileSchema, validateConfig } from '../core/index.js';

export interface TrainingConfig {
  /** No episode and no operator for this long (s) before the daemon lets the trainer run (hw-profile). */
  idle_after_s: number;
  /** What one training unit may take (ms); the daemon's preemption granularity (hw-profile). */
  step_budget_ms: number;
  /** Train steps per pass; a pass then yields one candidate adapter (hw-profile). */
  max_steps_per_pass: number;
  /** AdamW learning rate, reached after `warmup_steps` of linear warm-up within each pass. */
  lr: number;
  warmup_steps: number;
  /** Seeds every batch, noise and t: a pass is a function of (seed, pass, step) and its data. */
  seed: number;
  /** Sampling weight of a window by who commanded its first step. 0 = never a window start. */
  weights: { intervention: number; teleop: number; policy: number };
  /**
   * Policy steps this long (s) before an operator takeover are not imitated: they are what the
   * operator had to correct (HG-DAgger). Policy steps of failed or truncated episodes never are.
   */
  pre_takeover_s: number;
  /** Share of each batch drawn from earlier episodes (before the cursor), so nothing learnt is forgotten. */
  replay_fraction: number;
  /** Every k-th step may start a window (1 = every step); k > 1 trades data for prefix-cache size. */
  window_stride: number;
  /** Episode i of a dataset is held out for the gate (never trained on) when i % holdout_every == holdout_every - 1; 0 = none. */
  holdout_every: number;
  /** Persist the optimizer state, cursor and progress every this many train steps (and at pass end). */
  checkpoint_every: number;
  /** Prefix outputs are computed and cached this many recorded steps per unit of work. */
  cache_segment_steps: number;
  /** ORT intra-op threads of the trainer's sessions (1 leaves the other core to control). */
  threads: number;
  gate: {
    /** Held-out windows per set and adapter (a multiple of the batch is used). */
    max_windows: number;
    /** The candidate's loss on held-out correction windows must be below parent x (1 - min_improvement). */
    min_improvement: number;
    /** The candidate's loss on held-out successful episodes without interventions may exceed parent x (1 + max_regression). */
    max_regression: number;
  };
}

export const DEFAULT_TRAINING_CONFIG: TrainingConfig = {
  idle_after_s: 30,
  step_budget_ms: 20,
  max_steps_per_pass: 200,
  lr: 3e-4,
  warmup_steps: 10,
  seed: 0,
  weights: { intervention: 4, teleop: 2, policy: 1 },
  pre_takeover_s: 1.0,
  replay_fraction: 0.3,
  window_stride: 1,
  holdout_every: 5,
  checkpoint_every: 10,
  cache_segment_steps: 16,
  threads: 1,
  gate: { max_windows: 64, min_improvement: 0, max_regression: 0.05 },
};

const num = (min: number, extra: Record<string, unknown> = {}) => ({ type: 'number', minimum: min, ...extra });
const int = (min: number) => ({ type: 'integer', minimum: min });
/** The JSON schema of a TrainingConfig (the daemon's params file reuses its properties). */
export const TRAINING_CONFIG_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  properties: {
    idle_after_s: num(0), step_budget_ms: { type: 'number', exclusiveMinimum: 0 }, max_steps_per_pass: int(1),
    lr: { type: 'number', exclusiveMinimum: 0, maximum: 1 }, warmup_steps: int(0), seed: int(0),
    weights: { type: 'object', additionalProperties: false, properties: { intervention: num(0), teleop: num(0), policy: num(0) } },
    pre_takeover_s: num(0), replay_fraction: num(0, { maximum: 1 }), window_stride: int(1), holdout_every: int(0),
    checkpoint_every: int(1), cache_segment_steps: int(1), threads: int(1),
    gate: { type: 'object', additionalProperties: false, properties: { max_windows: int(8), min_improvement: num(0, { maximum: 1 }), max_regression: num(0) } },
  },
};
const validate = compileSchema(TRAINING_CONFIG_SCHEMA);

export type TrainingConfigInput = Partial<Omit<TrainingConfig, 'weights' | 'gate'>> & { weights?: Partial<TrainingConfig['weights']>; gate?: Partial<TrainingConfig['gate']> };

/** Defaults merged with `input`; a wrong field throws a ConfigError naming `source` and the field. */
export function trainingConfig(input: TrainingConfigInput = {}, source = 'training config'): TrainingConfig {
  validateConfig(validate, input, source);
  const d = DEFAULT_TRAINING_CONFIG;
  return { ...d, ...input, weights: { ...d.weights, ...input.weights }, gate: { ...d.gate, ...input.gate } };
}
