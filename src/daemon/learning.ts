// Idle-time learning, composed: src/train's trainer and adapter store with the daemon's live policy.
//   idle (no episode and no operator for training.idle_after_s) -> a pass: one unit of work at a
//   time on the scheduler's training lane (control and recording go first between units; an episode
//   or an operator stops the pass at the next unit, its state is on disk and the next idle spell
//   resumes it) -> candidate adapter -> offline gate on held-out episodes -> filed with its lineage
//   -> promoted: the policy worker's adapter slot, effective from the next plan -> online window
//   over the next episodes (success, interventions, clamps, non-finite chunks) against the adapter
//   it replaced -> kept as the last known good, or rolled back to it, saying why.
// One pass or adapter operation at a time. Every pass, gate, promotion and verdict is logged,
// counted in metrics and published on telemetry (topic `training`).
import { join } from 'node:path';
import type { Logger } from '../core/index.js';
import type { TrainingMetrics } from '../metrics/index.js';
import type { PolicyEngine } from '../policy/index.js';
import type { TrainingRunResult, TrainingStepContext } from '../sched/index.js';
import { AdapterStore, EpisodeHistory, OnlineWindow, Trainer, type CandidateAdapter, type EpisodeFacts, type GateResult, type TrainingConfigInput, type WindowVerdict } from '../train/index.js';
import type { TrainingParams } from './params.js';
import type { EpisodeOutcome } from './episodes.js';
import type { PlanReport } from './policy-slot.js';

/** The trainer's configuration from the daemon's training params, 0s filled from the hw-profile's training section. */
export function trainingConfigInput(p: TrainingParams, hw: LearningHost['profile']): TrainingConfigInput {
  return {
    idle_after_s: p.idle_after_s > 0 ? p.idle_after_s : hw.idle_after_s,
    step_budget_ms: p.step_budget_ms > 0 ? p.step_budget_ms : hw.step_budget_ms,
    max_steps_per_pass: p.max_steps_per_pass > 0 ? p.max_steps_per_pass : hw.max_steps_per_pass,
    lr: p.lr, warmup_steps: p.warmup_steps, seed: p.seed, weights: p.weights, pre_takeover_s: p.pre_takeover_s,
    replay_fraction: p.replay_fraction, window_stride: p.window_stride, holdout_every: p.holdout_every, gate: p.gate,
  };
}

/** What the manager needs of the daemon (narrow, so the daemon's internals stay its own). */
export interface LearningHost {
  readonly log: Logger;
  readonly metrics: TrainingMetrics;
  /** The hw-profile's training section (idle_after_s, step_budget_ms, max_steps_per_pass). */
  readonly profile: { idle_after_s: number; step_budget_ms: number; max_steps_per_pass: number };
  /** The serving policy (undefined while the policy part is down). */
  engine(): PolicyEngine | undefined;
  /** Where a bundle's adapters are filed (the OTA store's, so swaps carry or park them) and where its trainer keeps state. */
  dirs(bundleId: string): { adapters: string; trainer: string } | undefined;
  /** The RLDS dataset folders learnt from (the recorder's). */
  datasetDirs(): string[];
  /** An episode runs, or an operator commands: no training now. */
  busy(): boolean;
  runTraining(step: (ctx: TrainingStepContext) => Promise<boolean>, opts?: { signal?: AbortSignal }): Promise<TrainingRunResult>;
  publish(event: Record<string, unknown>): void;
  /** Why this run does not learn at all (an in-process evaluation, say); absent: it does if the params allow. */
  readonly notHere?: string;
}

export type LearningState = 'off' | 'waiting' | 'training' | 'gating' | 'trial' | 'paused';

interface Bound {
  bundle: string;
  /** Where its trainer keeps state. */
  trainerDir: string;
  engine: PolicyEngine;
  store: AdapterStore;
  trainer: Trainer | undefined;
}

interface PassProgress { pass: number; kind: string; step: number; of: number; loss: number | null; startedMs: number; trainSteps: number }

interface Trial { id: string; previous: string | null; window: OnlineWindow }

/** The last pass: its candidate and the gate's verdict (telemetry `pass_done`), or why it failed. */
export type LastPass =
  | { adapter: string; pass: number; steps: number; loss_first: number; loss_last: number; gate: 'passed' | 'refused'; reasons: string[]; gate_ms: number }
  | { outcome: 'failed'; error: string };

/** `train.status` (ops RPC, `vlad ctl train status`, the daemon's status). */
export type LearningStatus = {
  state: LearningState;
  reason: string | null;
  bundle: string | null;
  idle_after_s: number;
  idle_for_s: number;
  pass: { id: number; stage: string; step: number; steps: number; loss: number | null; steps_per_s: number | null } | null;
  last_pass: LastPass | null;
  adapter: { active: string; last_good: string } | null;
  trial: { adapter: string; counted: number; episodes: number } | null;
  preempt_ms: { n: number; max: number; last: number } | null;
  counts: Record<'passes' | 'gate_refused' | 'promoted' | 'committed' | 'rolled_back' | 'preempted', number>;
};

/** One adapter of `adapter.list`. */
export type AdapterListing = {
  id: string; parent: string | null; steps: number; created_at: string; base_bundle: string; gate: boolean | null;
  /** Its PEFT directory: what `vlad sim --adapter` (or any PEFT loader) reads. */
  dir: string;
  active: boolean; last_good: boolean; status: string | null; metrics: Record<string, number>;
};

const ADAPTER_SLOTS = ['learnt-a', 'learnt-b'] as const;
const round = (x: number, d = 4) => Math.round(x * 10 ** d) / 10 ** d;

export class LearningManager {
  private bound: Bound | undefined;
  private binding: Promise<void> = Promise.resolve();
  private timer: NodeJS.Timeout | undefined;
  private paused = false;
  private offReason: string | null = null;
  private running: Promise<void> | undefined;
  private lastBusyMs = performance.now();
  /** Nothing new to learn from: wait for an episode to end before asking the trainer again. */
  private drained: string | null = null;
  private progress: PassProgress | null = null;
  private lastPass: LastPass | null = null;
  private trial: Trial | undefined;
  private settling: Promise<void> | undefined;
  private readonly history = new EpisodeHistory();
  private slotTurn = 0;
  private preemptAtMs: number | null = null;
  private readonly preemptMs: number[] = [];
  private readonly counts = { passes: 0, gate_refused: 0, promoted: 0, committed: 0, rolled_back: 0, preempted: 0 };
  // The open episode's facts the loop reports tick by tick.
  private clampedThisTick = false;
  private clampedTicks = 0;
  private nonFinite = 0;

  constructor(private readonly host: LearningHost, readonly params: TrainingParams) {}

  private get idleAfterS(): number { return this.params.idle_after_s > 0 ? this.params.idle_after_s : this.host.profile.idle_after_s; }

  // --- binding to the serving bundle ---

  /**
   * The policy part opened `engine` (at configure, or an over-the-air swap put it in): file
   * adapters under its bundle, serve its last known good adapter, train on it from now on.
   */
  bind(engine: PolicyEngine): Promise<void> {
    const next = this.binding.then(() => this.doBind(engine));
    this.binding = next.catch(() => undefined);
    return next;
  }

  private async doBind(engine: PolicyEngine): Promise<void> {
    if (this.bound?.engine === engine) return;
    await this.unbind();
    const bundle = engine.modelVersion;
    const m = engine.manifest;
    if (!m.lora) return this.off(`bundle ${bundle} declares no LoRA layout`);
    const dirs = this.host.dirs(bundle);
    if (!dirs) return this.off(this.host.notHere ?? 'no directory for adapters (training.dir, ota.dir and record.dir are empty)');
    const store = await AdapterStore.open(dirs.adapters, m);
    for (const note of store.recovery.notes) this.host.log.warn({ part: 'learning' }, note);
    const boot = await store.boot();
    if (boot.id && boot.vector) {
      const slot = this.nextSlot();
      await engine.loadAdapter(slot, boot.vector, boot.id);
      await engine.activateAdapter(slot);
    }
    this.bound = { bundle, trainerDir: dirs.trainer, engine, store, trainer: undefined };
    this.history.clear();
    // Serving the last good adapter needs only the store; training needs all of this too.
    this.offReason = this.host.notHere ?? (!this.params.enabled ? 'training.enabled is false'
      : !m.graphs.train_step || !m.graphs.loss ? `bundle ${bundle} has no train_step/loss graphs (nothing to train on the robot)`
        : this.host.datasetDirs().length === 0 ? 'no recorder (record.dir is empty): nothing to learn from' : null);
    this.host.log.info({ part: 'learning', bundle, adapter: boot.id ?? 'base', adapters: store.list().length, idle_after_s: this.idleAfterS }, `learning bound to ${bundle}: serving adapter ${boot.id ?? 'base'}${this.offReason ? `; training off: ${this.offReason}` : ''}`);
    this.timer ??= setInterval(() => this.poll(), 250);
    this.timer.unref();
  }

  private off(reason: string): void {
    this.offReason = reason;
    this.host.log.info({ part: 'learning' }, `learning off: ${reason}`);
  }

  /** The policy part is closing (cleanup, a swap's old engine): stop training on it. */
  async unbind(): Promise<void> {
    const b = this.bound;
    if (!b) return;
    this.bound = undefined;
    await this.running;
    await this.settling;
    this.trial = undefined;
    await b.trainer?.close();
  }

  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.binding;
    await this.unbind();
  }

  private nextSlot(): string { return ADAPTER_SLOTS[this.slotTurn++ % ADAPTER_SLOTS.length]!; }

  // --- idle detection and passes ---

  private poll(): void {
    const b = this.bound;
    if (!b || this.offReason) return;
    // An over-the-air swap replaced the engine: rebind (adapters carried or parked by the store).
    if (b.engine !== this.host.engine() && this.host.engine()) { this.bind(this.host.engine()!).catch((err: unknown) => this.host.log.error({ err, part: 'learning' }, 'learning: rebinding failed')); return; }
    if (this.host.busy()) { this.noteBusy(); return; }
    if (this.running || this.paused || this.trial || this.drained) return;
    if (performance.now() - this.lastBusyMs >= this.idleAfterS * 1000) this.startPass();
  }

  /** Starts a pass now if none runs (ops `train.now`: no idle wait; still never during an episode). */
  startPass(): { started: boolean; reason?: string } {
    const b = this.bound;
    if (!b) return { started: false, reason: 'no policy is serving' };
    if (this.offReason) return { started: false, reason: this.offReason };
    if (this.running) return { started: false, reason: 'a pass is running' };
    if (this.trial) return { started: false, reason: `adapter ${this.trial.id} is in its health window` };
    if (this.host.busy()) return { started: false, reason: 'an episode runs or an operator commands' };
    this.drained = null;
    this.running = this.runPass(b).catch((err: unknown) => {
      this.counts.passes++;
      this.host.metrics.pass('failed');
      this.lastPass = { outcome: 'failed', error: (err as Error).message };
      this.host.log.error({ err, part: 'learning' }, 'training pass failed');
      this.host.publish({ event: 'pass_failed', error: (err as Error).message });
    }).finally(() => { this.running = undefined; this.progress = null; });
    return { started: true };
  }

  private stopWanted(): boolean {
    if (this.host.busy()) this.noteBusy();
    return this.paused || this.host.busy() || this.bound === undefined;
  }

  /** The robot has work (an episode starts, an operator commands): a running pass stands down at its next unit. */
  noteBusy(): void {
    this.lastBusyMs = performance.now();
    if (this.running && this.preemptAtMs === null) this.preemptAtMs = performance.now();
  }

  private async runPass(b: Bound): Promise<void> {
    b.trainer ??= await Trainer.open({
      bundleDir: b.engine.dir, stateDir: b.trainerDir, datasetDirs: this.host.datasetDirs(), config: trainingConfigInput(this.params, this.host.profile),
      ...(await this.parentFor(b)),
    }, (line) => this.host.log.info({ part: 'learning' }, line));
    const trainer = b.trainer;
    let candidate: CandidateAdapter | undefined;
    let idleReason: string | undefined;
    const started = performance.now();
    const result = await this.host.runTraining(async () => {
      if (this.stopWanted()) return false;
      const t0 = performance.now();
      const s = await trainer.step();
      if (s.kind === 'idle') { idleReason = s.reason ?? 'nothing new to learn from'; return false; }
      this.progress = { pass: s.pass, kind: s.kind, step: s.step, of: s.of, loss: s.loss ?? null, startedMs: this.progress?.startedMs ?? started, trainSteps: (this.progress?.trainSteps ?? 0) + (s.kind === 'train' ? 1 : 0) };
      if (s.kind === 'train') {
        this.host.metrics.step(s.loss ?? NaN, (performance.now() - t0) / 1000, s.step / s.of);
        if (s.step % 25 === 0 || s.step === s.of) {
          this.host.log.info({ part: 'learning', pass: s.pass, step: s.step, of: s.of, loss: s.loss }, `training pass ${s.pass}: step ${s.step}/${s.of}, loss ${s.loss?.toFixed(4)}`);
          this.host.publish({ event: 'progress', pass: s.pass, step: s.step, of: s.of, loss: s.loss });
        }
      }
      if (s.candidate) { candidate = s.candidate; return false; }
      return true;
    });
    if (this.preemptAtMs !== null) {
      // From the first sight of an episode or operator to the pass standing down: at most one unit.
      const ms = performance.now() - this.preemptAtMs;
      this.preemptAtMs = null;
      this.counts.preempted++;
      this.preemptMs.push(ms);
      if (this.preemptMs.length > 100) this.preemptMs.shift();
      this.host.log.info({ part: 'learning', preempt_ms: round(ms, 1), units: result.steps }, `training stood down for the robot's work within ${ms.toFixed(1)} ms (its state is saved; the next idle spell resumes it)`);
    }
    if (idleReason) { this.drained = idleReason; return; }
    if (!candidate) return;
    await this.judge(b, candidate);
  }

  private async parentFor(b: Bound): Promise<{ parent?: { version: string; lora: Float32Array } }> {
    const id = b.store.state.active;
    return id ? { parent: { version: id, lora: await b.store.load(id) } } : {};
  }

  /** Gate the pass's candidate, file it with its lineage, promote it if the gate passed. */
  private async judge(b: Bound, c: CandidateAdapter): Promise<void> {
    const trainer = b.trainer!;
    const t0 = performance.now();
    const gate: GateResult = await trainer.gate(c.lora);
    const l = c.lineage;
    const parent = b.store.state.active;
    const id = await b.store.add(c.lora, {
      parent,
      data: { episodes: [...l.episodes.fresh, ...l.episodes.replay].map((e) => e.episodeId), mode_counts: l.sampledByMode },
      steps: l.steps,
      metrics: Object.fromEntries(Object.entries({ loss_first: l.loss.first, loss_last: l.loss.last, loss_min: l.loss.min, loss_mean: l.loss.mean, lr: l.lr, pass: l.pass, seed: l.seed }).filter(([, x]) => Number.isFinite(x))),
      gate: { passed: gate.accepted, results: gateResults(gate) },
    });
    const gateMs = Math.round(performance.now() - t0);
    this.counts.passes++;
    this.lastPass = { adapter: id, pass: l.pass, steps: l.steps, loss_first: round(l.loss.first), loss_last: round(l.loss.last), gate: gate.accepted ? 'passed' : 'refused', reasons: gate.reasons, gate_ms: gateMs };
    this.host.log.info({ part: 'learning', adapter: id, gate: gate.accepted, reasons: gate.reasons, gate_ms: gateMs }, `pass ${l.pass} -> adapter ${id}: gate ${gate.accepted ? 'passed' : 'refused'} (${gate.reasons.join('; ')})`);
    this.host.publish({ event: 'pass_done', ...this.lastPass });
    if (!gate.accepted) {
      this.counts.gate_refused++;
      this.host.metrics.pass('gate_refused');
      return;
    }
    this.host.metrics.pass('gate_passed');
    await this.promote(b, id, 'gate passed');
  }

  /** Serves adapter `id` from the next plan on, then judges it over the next episodes. */
  private async promote(b: Bound, id: string, why: string): Promise<void> {
    const vector = await b.store.load(id);
    const previous = b.store.state.active;
    const slot = this.nextSlot();
    await b.engine.loadAdapter(slot, vector, id);
    await b.store.activate(id);
    // One message to the worker: it lands between two plans, the control loop never waits for it.
    await b.engine.activateAdapter(slot);
    const h = this.params.health;
    this.trial = {
      id, previous,
      window: new OnlineWindow({
        episodes: h.episodes, maxSuccessDrop: h.max_success_drop, maxInterventionRise: h.max_intervention_rise, maxClampRise: h.max_clamp_rise, maxNonFinite: h.max_non_finite,
        maxTaskInterventionRise: h.max_task_intervention_rise, minTaskEpisodes: h.min_task_episodes,
      }, this.history.episodes()),
    };
    this.counts.promoted++;
    this.host.metrics.adapter('promoted');
    this.host.log.info({ part: 'learning', adapter: id, previous: previous ?? 'base', baseline: this.trial.window.baseline }, `adapter ${id} serves (${why}); its health window is the next ${h.episodes} episodes with the policy acting`);
    this.host.publish({ event: 'promoted', adapter: id, previous: previous ?? 'base' });
  }

  // --- what the loop and the episodes report ---

  /** The safety filter clamped this tick (LoopStats observer). */
  readonly observer = {
    clamp: () => { this.clampedThisTick = true; },
    watchdogEvent: () => undefined,
    // A non-finite chunk is counted once, from the plan itself (onPlan), not again when the loop drops it.
    invalidChunk: () => undefined,
  };

  /** Every control tick (the loop's tap), with whether an episode is open. */
  onTick(episodeOpen: boolean): void {
    if (episodeOpen && this.clampedThisTick) this.clampedTicks++;
    this.clampedThisTick = false;
  }

  onPlan(r: PlanReport): void { if (!r.finite) this.nonFinite++; }

  /** An episode ended: new data for the next pass; a fact for the serving adapter's record or its health window. */
  async onEpisodeEnd(o: EpisodeOutcome): Promise<void> {
    const facts: EpisodeFacts = {
      task: o.scene?.task ?? o.instruction, success: o.success, truncated: o.truncated, steps: o.steps, policySteps: o.sources.policy ?? 0, interventionSteps: o.sources.intervention ?? 0,
      clampedTicks: this.clampedTicks, nonFinite: this.nonFinite,
    };
    this.clampedTicks = 0;
    this.nonFinite = 0;
    this.drained = null;
    this.lastBusyMs = performance.now();
    const b = this.bound;
    if (!b) return;
    const trial = this.trial;
    if (!trial) { this.history.add(facts); return; }
    if (this.settling) return; // its verdict is being filed
    const verdict = trial.window.add(facts);
    if (!verdict) return;
    // The trial stays visible until the store has the verdict: nothing reads a half-settled state.
    this.settling = this.settle(b, trial, verdict).finally(() => { this.trial = undefined; this.settling = undefined; });
    await this.settling;
  }

  private async settle(b: Bound, trial: Trial, v: WindowVerdict): Promise<void> {
    const s = v.summary;
    const facts = { episodes: s.episodes, success_rate: s.successRate, intervention_rate: round(s.interventionRate), clamp_rate: round(s.clampRate), non_finite: s.nonFinite };
    if (v.outcome === 'committed') {
      await b.store.markGood(trial.id);
      await b.trainer?.setParent(trial.id, await b.store.load(trial.id));
      this.counts.committed++;
      this.host.metrics.adapter('committed');
      this.host.log.info({ part: 'learning', adapter: trial.id, ...facts }, `adapter ${trial.id} passed its health window: it is the last known good`);
      this.host.publish({ event: 'committed', adapter: trial.id, ...facts });
      return;
    }
    const back = await b.store.rollback(v.reason);
    await this.serve(b, back);
    this.counts.rolled_back++;
    this.host.metrics.adapter('rolled_back');
    this.host.log.warn({ part: 'learning', adapter: trial.id, back: back ?? 'base', reason: v.reason, ...facts }, `adapter ${trial.id} rolled back to ${back ?? 'base'}: ${v.reason}`);
    this.host.publish({ event: 'rolled_back', adapter: trial.id, to: back ?? 'base', reason: v.reason, ...facts });
  }

  /** Points the policy at adapter `id` (null: the base). */
  private async serve(b: Bound, id: string | null): Promise<void> {
    if (id === null) { await b.engine.activateAdapter('base'); return; }
    const slot = this.nextSlot();
    await b.engine.loadAdapter(slot, await b.store.load(id), id);
    await b.engine.activateAdapter(slot);
  }

  // --- ops ---

  pause(): { paused: true } { this.paused = true; return { paused: true }; }
  resume(): { paused: false } { this.paused = false; this.lastBusyMs = Math.min(this.lastBusyMs, performance.now()); return { paused: false }; }

  /** An operator chose the adapter (or 'base'): it serves at once, and (unless base) goes through the health window. */
  async activate(id: string): Promise<{ adapter: string }> {
    const b = this.requireBound();
    if (this.running) throw new LearningRefusal('a training pass is running: `vlad ctl train pause` and wait for it to stand down, or try again after it');
    this.trial = undefined;
    if (id === 'base') {
      await b.store.activate(null);
      await this.serve(b, null);
      this.host.metrics.adapter('activated');
      this.host.log.info({ part: 'learning' }, 'adapter base serves (operator)');
      return { adapter: 'base' };
    }
    try { b.store.get(id); } catch (err) { throw new LearningRefusal(`${(err as Error).message} (vlad ctl adapter list)`); }
    await this.promote(b, id, 'operator');
    return { adapter: id };
  }

  /** Back to the last known good adapter now (ends a health window early). */
  async rollback(): Promise<{ adapter: string }> {
    const b = this.requireBound();
    const active = b.store.state.active;
    if (active === null) throw new LearningRefusal('the base serves: nothing to roll back');
    const trial = this.trial;
    this.trial = undefined;
    const back = await b.store.rollback(trial ? 'operator ended the health window' : 'operator rollback');
    await this.serve(b, back);
    this.counts.rolled_back++;
    this.host.metrics.adapter('rolled_back');
    this.host.log.warn({ part: 'learning', adapter: active, back: back ?? 'base' }, `adapter ${active} rolled back to ${back ?? 'base'} (operator)`);
    this.host.publish({ event: 'rolled_back', adapter: active, to: back ?? 'base', reason: 'operator' });
    return { adapter: back ?? 'base' };
  }

  list(): { bundle: string | null; adapters: AdapterListing[] } {
    const b = this.bound;
    if (!b) return { bundle: null, adapters: [] };
    const s = b.store.state;
    return {
      bundle: b.bundle,
      adapters: b.store.list().map((a) => ({
        id: a.id, parent: a.parent, steps: a.steps, created_at: a.created_at, base_bundle: a.base_bundle, gate: a.gate?.passed ?? null,
        dir: join(b.store.dir, a.id), active: s.active === a.id, last_good: s.last_good === a.id, status: a.history.at(-1)?.event ?? null, metrics: a.metrics,
      })),
    };
  }

  status(): LearningStatus {
    const b = this.bound;
    const p = this.progress;
    const state: LearningState = !b || this.offReason ? 'off' : this.paused ? 'paused' : this.running ? (p ? 'training' : 'gating') : this.trial ? 'trial' : 'waiting';
    const elapsedS = p ? (performance.now() - p.startedMs) / 1000 : 0;
    const preempt = [...this.preemptMs].sort((x, y) => x - y);
    return {
      state,
      reason: this.offReason ?? this.drained,
      bundle: b?.bundle ?? null,
      idle_after_s: this.idleAfterS,
      idle_for_s: this.host.busy() ? 0 : round((performance.now() - this.lastBusyMs) / 1000, 1),
      pass: p ? { id: p.pass, stage: p.kind, step: p.step, steps: p.of, loss: p.loss, steps_per_s: elapsedS > 0 ? round(p.trainSteps / elapsedS, 2) : null } : null,
      last_pass: this.lastPass,
      adapter: b ? { active: b.store.state.active ?? 'base', last_good: b.store.state.last_good ?? 'base' } : null,
      trial: this.trial ? { adapter: this.trial.id, counted: this.trial.window.counted, episodes: this.trial.window.limits.episodes } : null,
      preempt_ms: preempt.length ? { n: preempt.length, max: round(preempt.at(-1)!, 1), last: round(this.preemptMs.at(-1)!, 1) } : null,
      counts: this.counts,
    };
  }

  private requireBound(): Bound {
    if (!this.bound) throw new LearningRefusal(this.offReason ? `learning is off: ${this.offReason}` : 'no policy is serving (configure first)');
    return this.bound;
  }

  /** Where the trainer keeps its state for a bundle, under a learning directory. */
  static trainerDir(root: string, bundleId: string): string { return join(root, 'trainer', bundleId); }
}

export class LearningRefusal extends Error {
  readonly code = 'refused';
  constructor(message: string) {
    super(message);
    this.name = 'LearningRefusal';
  }
}

function gateResults(g: GateResult): Record<string, number | string | boolean> {
  const out: Record<string, number | string | boolean> = { reasons: g.reasons.join('; ') };
  if (g.metrics) {
    for (const [set, s] of Object.entries(g.metrics)) {
      out[`${set}.windows`] = s.windows;
      // A set without windows has no loss: said in words, as JSON has no NaN.
      out[`${set}.parent_loss`] = Number.isFinite(s.parentLoss) ? s.parentLoss : 'none';
      out[`${set}.candidate_loss`] = Number.isFinite(s.candidateLoss) ? s.candidateLoss : 'none';
    }
  }
  return out;
}
