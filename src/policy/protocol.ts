// Messages between the main thread (PolicyEngine) and the policy worker. Large arrays travel as
// transferred ArrayBuffers; nothing is serialized to JSON.
import type { Manifest } from '../bundle/index.js';
import type { HwProfile, ProviderChoice } from '../hw/index.js';
import type { PlanRequest, PlanResult, SelfTestReport } from './runner.js';

export interface OpenParams {
  dir: string;
  profile: HwProfile;
  seed: number;
  selfTest: 'serving' | 'all' | 'none';
  warmUpRuns: number;
  /** Overrides the manifest's expert.sampler.noise_scale. */
  noiseScale?: number;
}

export type Request =
  | { id: number; op: 'open'; params: OpenParams }
  | { id: number; op: 'plan'; request: PlanRequest }
  | { id: number; op: 'selfTest'; scope: 'serving' | 'all' }
  | { id: number; op: 'loadAdapter'; slot: string; vector: Float32Array; version: string }
  | { id: number; op: 'activateAdapter'; slot: string }
  | { id: number; op: 'removeAdapter'; slot: string }
  | { id: number; op: 'close' };

export interface OpenResult { manifest: Manifest; provider: ProviderChoice; steps: number; samplerKind: string }

export type ResultOf = {
  open: OpenResult;
  plan: PlanResult;
  selfTest: SelfTestReport;
  loadAdapter: null;
  activateAdapter: null;
  removeAdapter: null;
  close: null;
};

export type { WireError } from '../core/index.js';
