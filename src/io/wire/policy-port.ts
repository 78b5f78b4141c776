// What a peer protocol server needs of the policy: the bundle's I/O, and one call that turns an
// Observation into a chunk (the daemon answers it through the same PolicyEngine and compute
// scheduler as its control loop, below the loop's own requests).
import type { CameraSpec, Observation } from '../../core/index.js';

export interface PeerPolicyIO {
  readonly model: string;
  readonly cameras: readonly CameraSpec[];
  readonly stateDim: number;
  readonly actionDim: number;
  /** Actions per chunk (H). */
  readonly horizon: number;
  /** Seconds between actions. */
  readonly controlDt: number;
  readonly stateNames?: readonly string[];
  readonly actionNames?: readonly string[];
}

export interface PeerInference {
  /** [H][A], physical units. */
  actions: Float32Array;
  /** Wall time of the inference itself (in the policy worker), ms. */
  inferMs: number;
}

export interface PeerPolicy {
  readonly io: PeerPolicyIO;
  infer(obs: Observation): Promise<PeerInference>;
}

/** Counts what the servers do (the daemon feeds Prometheus with it). */
export type PeerCounter = (server: 'gr00t' | 'openpi', outcome: 'ok' | 'error' | 'refused' | 'unauthorized' | 'rate_limited' | 'timeout') => void;
