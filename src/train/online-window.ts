// The online health window of a promoted adapter: the next episodes in which the policy acted are
// compared with the same facts of the adapter it replaced (its recent episodes). Non-finite chunks
// roll back at once; otherwise, after `episodes` episodes, a success rate that fell, an intervention
// rate or a clamp rate that rose by more than the limits rolls back, and anything else commits.
// The intervention rate is also compared task by task: an adapter that helps two tasks and breaks a
// third can keep the overall rate flat (measured: pick and place better, touch taken over 4 times
// in 5), so each task the window and the baseline both saw often enough is judged on its own.
// Episodes of the operator alone (teleop) say nothing about the adapter and are not counted.

/** What one finished episode says about the adapter that planned it. */
export interface EpisodeFacts {
  /** What was asked: the simulated scene's task, else the instruction (a robot's tasks are its instructions). */
  task: string;
  success: boolean;
  /** Cut short without an outcome: counts for rates, not for success. */
  truncated: boolean;
  steps: number;
  /** Steps commanded by the policy. */
  policySteps: number;
  /** Steps an operator took over (intervention mode). */
  interventionSteps: number;
  /** Ticks the safety filter clamped. */
  clampedTicks: number;
  /** Chunks with NaN or Inf. */
  nonFinite: number;
}

export interface OnlineWindowLimits {
  /** Episodes (with the policy acting) before a verdict. */
  episodes: number;
  /** Largest fall in success rate allowed (0-1). */
  maxSuccessDrop: number;
  /** Largest rise in the share of policy-or-operator steps the operator took (0-1). */
  maxInterventionRise: number;
  /** Largest rise in the share of clamped ticks (0-1). */
  maxClampRise: number;
  maxNonFinite: number;
  /** Largest rise in one task's operator share (0-1), judged where the window and the baseline each hold `minTaskEpisodes` of it. */
  maxTaskInterventionRise: number;
  minTaskEpisodes: number;
}

export interface EpisodeSummary {
  episodes: number;
  /** Of the episodes with an outcome; null when none had one. */
  successRate: number | null;
  interventionRate: number;
  clampRate: number;
  nonFinite: number;
}

export type WindowVerdict = { outcome: 'committed'; summary: EpisodeSummary } | { outcome: 'rolled_back'; reason: string; summary: EpisodeSummary };

export function summarize(facts: readonly EpisodeFacts[]): EpisodeSummary {
  const judged = facts.filter((f) => !f.truncated);
  const acted = facts.reduce((n, f) => n + f.policySteps + f.interventionSteps, 0);
  const steps = facts.reduce((n, f) => n + f.steps, 0);
  return {
    episodes: facts.length,
    successRate: judged.length ? judged.filter((f) => f.success).length / judged.length : null,
    interventionRate: acted ? facts.reduce((n, f) => n + f.interventionSteps, 0) / acted : 0,
    clampRate: steps ? facts.reduce((n, f) => n + f.clampedTicks, 0) / steps : 0,
    nonFinite: facts.reduce((n, f) => n + f.nonFinite, 0),
  };
}

const pct = (x: number) => `${(x * 100).toFixed(1)}%`;

/** The facts grouped by task. */
export function byTask(facts: readonly EpisodeFacts[]): Map<string, EpisodeFacts[]> {
  const out = new Map<string, EpisodeFacts[]>();
  for (const f of facts) {
    const same = out.get(f.task);
    if (same) same.push(f); else out.set(f.task, [f]);
  }
  return out;
}

/** The recent episodes of the adapter that serves now: a promotion's baseline. */
export class EpisodeHistory {
  private readonly facts: EpisodeFacts[] = [];
  // 30: about ten a task for a robot that cycles through three, so a task's rate means something.
  constructor(private readonly keep = 30) {}
  add(f: EpisodeFacts): void {
    if (f.policySteps + f.interventionSteps === 0) return;
    this.facts.push(f);
    if (this.facts.length > this.keep) this.facts.shift();
  }
  clear(): void { this.facts.length = 0; }
  /** A copy of the episodes kept, oldest first. */
  episodes(): EpisodeFacts[] { return [...this.facts]; }
  get size(): number { return this.facts.length; }
}

export class OnlineWindow {
  private readonly facts: EpisodeFacts[] = [];
  /** The replaced adapter's figures (null: no episodes, only the absolute limits apply). */
  readonly baseline: EpisodeSummary | null;
  private readonly baselineByTask: Map<string, EpisodeFacts[]>;

  /** baselineEpisodes: the replaced adapter's recent episodes (none: only the absolute limits apply). */
  constructor(readonly limits: OnlineWindowLimits, baselineEpisodes: readonly EpisodeFacts[]) {
    if (!(limits.episodes >= 1)) throw new RangeError(`online window: episodes must be >= 1 (got ${limits.episodes})`);
    if (!(limits.minTaskEpisodes >= 1)) throw new RangeError(`online window: minTaskEpisodes must be >= 1 (got ${limits.minTaskEpisodes})`);
    const acting = baselineEpisodes.filter((f) => f.policySteps + f.interventionSteps > 0);
    this.baseline = acting.length ? summarize(acting) : null;
    this.baselineByTask = byTask(acting);
  }

  get counted(): number { return this.facts.length; }

  /** Adds an episode; a verdict once one is due, else undefined. */
  add(f: EpisodeFacts): WindowVerdict | undefined {
    if (f.policySteps + f.interventionSteps === 0) return undefined;
    this.facts.push(f);
    const now = summarize(this.facts);
    if (now.nonFinite > this.limits.maxNonFinite) return { outcome: 'rolled_back', reason: `${now.nonFinite} non-finite chunk(s) (at most ${this.limits.maxNonFinite} allowed)`, summary: now };
    if (this.facts.length < this.limits.episodes) return undefined;
    const b = this.baseline;
    if (b && b.episodes > 0) {
      if (b.successRate !== null && now.successRate !== null && b.successRate - now.successRate > this.limits.maxSuccessDrop) {
        return { outcome: 'rolled_back', reason: `success fell from ${pct(b.successRate)} to ${pct(now.successRate)} (a fall of at most ${pct(this.limits.maxSuccessDrop)} allowed)`, summary: now };
      }
      if (now.interventionRate - b.interventionRate > this.limits.maxInterventionRise) {
        return { outcome: 'rolled_back', reason: `the operator took ${pct(now.interventionRate)} of the steps, ${pct(b.interventionRate)} before (a rise of at most ${pct(this.limits.maxInterventionRise)} allowed)`, summary: now };
      }
      if (now.clampRate - b.clampRate > this.limits.maxClampRise) {
        return { outcome: 'rolled_back', reason: `the safety filter clamped ${pct(now.clampRate)} of ticks, ${pct(b.clampRate)} before (a rise of at most ${pct(this.limits.maxClampRise)} allowed)`, summary: now };
      }
      for (const [task, facts] of byTask(this.facts)) {
        const before = this.baselineByTask.get(task) ?? [];
        if (facts.length < this.limits.minTaskEpisodes || before.length < this.limits.minTaskEpisodes) continue;
        const was = summarize(before).interventionRate, is = summarize(facts).interventionRate;
        if (is - was > this.limits.maxTaskInterventionRise) {
          return { outcome: 'rolled_back', reason: `${task}: the operator took ${pct(is)} of the steps over ${facts.length} episodes, ${pct(was)} over ${before.length} before (a rise of at most ${pct(this.limits.maxTaskInterventionRise)} a task allowed)`, summary: now };
        }
      }
    }
    return { outcome: 'committed', summary: now };
  }
}
