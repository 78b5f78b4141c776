// The offline gate: a candidate adapter may serve only if, on held-out recorded windows (never
// trained on) at fixed seeded noise and t, its flow loss beats its parent's on the newest
// operator corrections and does not regress beyond a margin on successful episodes without
// interventions (the conditions learnt before). The decision is a pure function of the figures.
import { allFinite } from '../bundle/index.js';
import type { TrainingConfig } from './config.js';

export interface GateSet {
  /** Held-out windows evaluated (each adapter sees the same windows, noise and t). */
  windows: number;
  episodes: number;
  parentLoss: number;
  candidateLoss: number;
}

export interface GateMetrics {
  /** Windows at intervention steps of the newest held-out episodes with interventions: should improve. */
  corrections: GateSet;
  /** Windows of held-out successful episodes without interventions: must not regress. */
  retention: GateSet;
}

export interface GateResult { accepted: boolean; reasons: string[]; metrics: GateMetrics | null }

const pct = (candidate: number, parent: number) => `${(((candidate - parent) / parent) * 100).toFixed(1)}%`;

export function gateDecision(candidate: Float32Array, metrics: GateMetrics | null, cfg: TrainingConfig['gate']): GateResult {
  if (!allFinite(candidate)) return { accepted: false, reasons: ['the candidate adapter contains NaN or Inf'], metrics };
  if (!metrics) return { accepted: false, reasons: ['no held-out windows to judge the candidate on'], metrics };
  const reasons: string[] = [];
  let accepted = true;
  const { corrections: c, retention: r } = metrics;
  for (const [name, s] of [['corrections', c], ['retention', r]] as const) {
    if (s.windows > 0 && !(Number.isFinite(s.candidateLoss) && Number.isFinite(s.parentLoss))) {
      return { accepted: false, reasons: [`${name}: loss is not finite (candidate ${s.candidateLoss}, parent ${s.parentLoss})`], metrics };
    }
  }
  if (c.windows === 0) {
    accepted = false;
    reasons.push('no held-out intervention windows: improvement cannot be shown');
  } else if (c.candidateLoss < c.parentLoss * (1 - cfg.min_improvement)) {
    reasons.push(`corrections: loss ${c.candidateLoss.toFixed(4)} vs parent ${c.parentLoss.toFixed(4)} (${pct(c.candidateLoss, c.parentLoss)}) on ${c.windows} windows of ${c.episodes} episodes: improved`);
  } else {
    accepted = false;
    reasons.push(`corrections: loss ${c.candidateLoss.toFixed(4)} vs parent ${c.parentLoss.toFixed(4)} (${pct(c.candidateLoss, c.parentLoss)}): not below parent x ${(1 - cfg.min_improvement).toFixed(3)}`);
  }
  if (r.windows === 0) {
    reasons.push('retention: no held-out successful episodes without interventions, regression not checked');
  } else if (r.candidateLoss <= r.parentLoss * (1 + cfg.max_regression)) {
    reasons.push(`retention: loss ${r.candidateLoss.toFixed(4)} vs parent ${r.parentLoss.toFixed(4)} (${pct(r.candidateLoss, r.parentLoss)}) on ${r.windows} windows: within +${(cfg.max_regression * 100).toFixed(1)}%`);
  } else {
    accepted = false;
    reasons.push(`retention: loss ${r.candidateLoss.toFixed(4)} vs parent ${r.parentLoss.toFixed(4)} (${pct(r.candidateLoss, r.parentLoss)}): regresses more than +${(cfg.max_regression * 100).toFixed(1)}%`);
  }
  return { accepted, reasons, metrics };
}
