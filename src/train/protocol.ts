// Messages between the Trainer handle (main thread) and the trainer worker.
import type { GateResult } from './gate.js';
import type { StepResult, TrainerParams, TrainerStatus } from './runner.js';
import type { CandidateAdapter } from './state.js';

export type Request =
  | { id: number; op: 'open'; params: TrainerParams }
  | { id: number; op: 'step' }
  | { id: number; op: 'status' }
  | { id: number; op: 'candidate' }
  | { id: number; op: 'setParent'; version: string; lora: Float32Array }
  | { id: number; op: 'gate'; candidate: Float32Array; parent?: Float32Array }
  | { id: number; op: 'trainingLoss'; lora: Float32Array }
  | { id: number; op: 'close' };

export interface ResultOf {
  open: TrainerStatus;
  step: StepResult;
  status: TrainerStatus;
  candidate: CandidateAdapter | null;
  setParent: null;
  gate: GateResult;
  trainingLoss: { windows: number; loss: number };
  close: null;
}
