// The PolicyEngine as a ChunkPlanner: per-stage timings travel with the chunk for the metrics.
// RTC prefixes go to the worker, which guides sampling with the bundle's expert_vjp graph; a
// bundle without one (or a non-flow expert) plans without guidance, i.e. plain replacement.
import type { ActionChunk, Observation } from '../core/index.js';
import type { ChunkPlanner, PlanOutcome, PlanRequest } from './types.js';

/** The part of PolicyEngine the control loop needs (structural, so tests can pass their own). */
export interface InferenceEngine {
  infer(obs: Observation, opts?: { noiseSeed?: number; candidates?: number; rtc?: { actions: Float32Array; length: number; frozenSteps: number; maxGuidance?: number } }): Promise<{ chunk: ActionChunk; timings: { prefixMs: number; expertStepMs: number[]; energyMs: number; totalMs: number } }>;
}

export function plannerFromEngine(engine: InferenceEngine, opts: { candidates?: number; maxGuidance?: number } = {}): ChunkPlanner {
  return {
    async plan(obs: Observation, request: PlanRequest): Promise<PlanOutcome> {
      const p = request.prefix;
      const rtc = p ? { actions: p.actions, length: p.length, frozenSteps: p.frozenSteps, ...(opts.maxGuidance ? { maxGuidance: opts.maxGuidance } : {}) } : undefined;
      const { chunk, timings } = await engine.infer(obs, { ...(opts.candidates ? { candidates: opts.candidates } : {}), ...(rtc ? { rtc } : {}) });
      const expertMs = timings.expertStepMs.reduce((a, b) => a + b, 0);
      const stageMs: Record<string, number> = { prefix: timings.prefixMs, expert: expertMs, worker_total: timings.totalMs };
      if (timings.energyMs > 0) stageMs.energy = timings.energyMs;
      return { chunk, stageMs };
    },
  };
}

/**
 * Adds the stage `call` to every answer: the wall time of the whole request (main thread to the
 * planner and back). Lockstep runs stop virtual time while a plan is computed, so the loop's own
 * round trip (on its clock) does not show it.
 */
export function timedPlanner(inner: ChunkPlanner): ChunkPlanner {
  return {
    async plan(obs, request): Promise<PlanOutcome> {
      const started = performance.now();
      const result = await inner.plan(obs, request);
      const outcome: PlanOutcome = 'chunk' in result ? result : { chunk: result };
      return { chunk: outcome.chunk, stageMs: { ...outcome.stageMs, call: performance.now() - started } };
    },
  };
}

/**
 * Lockstep (virtual time): holds each planner answer until virtual time reaches its observation
 * time + `delayS` (at least the next control step). Compute time is not counted: the injected
 * delay is the whole delay, so runs are reproducible on any machine.
 */
/**
 * Computes each plan through the compute gate. A lockstep run gates the computation only, not the
 * virtual wait for its delivery (DelayedPlanner), so an answer held for the next virtual tick never
 * keeps the machine from other work (a training step) while nobody steps.
 */
export function gatedPlanner(inner: ChunkPlanner, gate: { control<T>(work: () => Promise<T>): Promise<T> }): ChunkPlanner {
  return { plan: (...args) => gate.control(() => inner.plan(...args)) };
}

export class DelayedPlanner implements ChunkPlanner {
  private readonly held: { dueNs: bigint; result: Promise<ActionChunk | PlanOutcome>; release: (r: Promise<ActionChunk | PlanOutcome>) => void }[] = [];
  constructor(private readonly inner: ChunkPlanner, private readonly delayNs: bigint) {}

  get pending(): number { return this.held.length; }

  plan(...args: Parameters<ChunkPlanner['plan']>): Promise<ActionChunk | PlanOutcome> {
    const result = this.inner.plan(...args);
    result.catch(() => undefined);
    return new Promise((resolve) => { this.held.push({ dueNs: args[0].stampNs + this.delayNs, result, release: resolve }); });
  }

  /** Releases every answer due by `nowNs`, waiting for its computation (virtual time stands still). */
  async deliver(nowNs: bigint): Promise<number> {
    let n = 0;
    while (this.held.length && this.held[0]!.dueNs <= nowNs) {
      const h = this.held.shift()!;
      await h.result.catch(() => undefined);
      h.release(h.result);
      n++;
    }
    if (n) await new Promise<void>((r) => setImmediate(r)); // let the loop's handlers run
    return n;
  }

  async drain(): Promise<void> { await Promise.allSettled(this.held.map((h) => h.result)); }
}

