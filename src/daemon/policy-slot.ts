// The live policy as the control loop sees it: one ChunkPlanner whose engine can be replaced
// between two plans. A swap is one assignment on the main thread, so it lands between two control
// ticks; a plan already in flight finishes on the engine it started on (whose worker stays up
// until the health window closes), and the next plan comes from the new engine.
import type { ActionChunk, Observation } from '../core/index.js';
import { plannerFromEngine, type ChunkPlanner, type PlanOutcome, type PlanRequest } from '../control/index.js';
import type { PolicyEngine } from '../policy/index.js';
import { allFiniteChunk } from '../ota/index.js';

export interface PlanReport { model: string; ms: number; finite: boolean }

export class PolicySlot implements ChunkPlanner {
  private planner: ChunkPlanner;
  /** The newest plan of the active engine: what warm-up compares a shadow model against. */
  last: { obs: Observation; chunk: ActionChunk; model: string } | undefined;
  onPlan: ((r: PlanReport) => void) | undefined;

  constructor(private current: PolicyEngine, private readonly opts: { candidates?: number } = {}) {
    this.planner = plannerFromEngine(current, opts);
  }

  get engine(): PolicyEngine { return this.current; }

  async plan(obs: Observation, request: PlanRequest): Promise<ActionChunk | PlanOutcome> {
    const engine = this.current;
    const started = performance.now();
    const result = await this.planner.plan(obs, request);
    const chunk = 'chunk' in result ? result.chunk : result;
    const model = engine.modelVersion;
    if (engine === this.current) this.last = { obs, chunk, model };
    this.onPlan?.({ model, ms: performance.now() - started, finite: allFiniteChunk(chunk.actions) });
    return result;
  }

  /** Makes `next` answer from the next plan on; returns the engine it replaced. */
  swap(next: PolicyEngine): PolicyEngine {
    const previous = this.current;
    this.current = next;
    this.planner = plannerFromEngine(next, this.opts);
    this.last = undefined;
    return previous;
  }
}
