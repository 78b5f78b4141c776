// Trainer: the main thread's handle on the trainer worker. Each step() is one short unit of work
// (plan a pass, cache one segment of prefix outputs, or one train step), so the daemon can run it
// through the scheduler's training lane and let control work go first between steps.
import { rootLogger, WorkerRpc } from '../core/index.js';
import type { GateResult } from './gate.js';
import type { CandidateAdapter } from './state.js';
import type { Request, ResultOf } from './protocol.js';
import type { StepResult, TrainerParams, TrainerStatus } from './runner.js';

export class Trainer {
  private constructor(private readonly rpc: WorkerRpc<Request, ResultOf>, private lastStatus: TrainerStatus) {}

  static async open(params: TrainerParams, log: (line: string) => void = (line) => rootLogger().child({ part: 'train' }).info(line)): Promise<Trainer> {
    const rpc = new WorkerRpc<Request, ResultOf>(new URL('./worker.js', import.meta.url), { name: 'trainer worker', log });
    try {
      const parent = params.parent ? { ...params.parent, lora: Float32Array.from(params.parent.lora) } : undefined;
      const status = await rpc.call<'open'>({ op: 'open', params: { ...params, ...(parent ? { parent } : {}) } });
      return new Trainer(rpc, status);
    } catch (err) {
      await rpc.terminate();
      throw err;
    }
  }

  /** Runs one unit of work; the last train step of a pass brings the pass's candidate adapter. */
  async step(): Promise<StepResult> { return this.rpc.call<'step'>({ op: 'step' }); }

  async status(): Promise<TrainerStatus> { this.lastStatus = await this.rpc.call<'status'>({ op: 'status' }); return this.lastStatus; }

  /** The last finished pass's candidate, kept on disk until the next pass starts (so a restart before the gate loses nothing). */
  candidate(): Promise<CandidateAdapter | null> { return this.rpc.call<'candidate'>({ op: 'candidate' }); }

  /** The adapter the next pass starts from (after a promotion); persisted. The vector is copied. */
  setParent(version: string, lora: Float32Array): Promise<null> {
    const copy = Float32Array.from(lora);
    return this.rpc.call<'setParent'>({ op: 'setParent', version, lora: copy }, [copy.buffer as ArrayBuffer]);
  }

  /** The offline gate: the candidate against its parent (the trainer's parent unless given) on held-out episodes. */
  gate(candidate: Float32Array, parent?: Float32Array): Promise<GateResult> {
    return this.rpc.call<'gate'>({ op: 'gate', candidate: Float32Array.from(candidate), ...(parent ? { parent: Float32Array.from(parent) } : {}) });
  }

  /** Mean flow loss of an adapter on the windows trained from (not held out), at fixed noise and t. */
  trainingLoss(lora: Float32Array): Promise<{ windows: number; loss: number }> {
    return this.rpc.call<'trainingLoss'>({ op: 'trainingLoss', lora: Float32Array.from(lora) });
  }

  async close(): Promise<void> {
    if (this.rpc.alive) {
      try { await this.rpc.call<'close'>({ op: 'close' }); } catch { /* the worker is going away regardless */ }
    }
    await this.rpc.terminate();
  }
}
