// Over-the-air swaps, composed: the store and trust of src/ota with the daemon's live policy.
//   upload (or a path on disk) -> verify (signature, expiry, hw-profile, version, I/O, hashes)
//   -> install (one rename into the store) -> shadow engine (its own worker; golden self-test)
//   -> warm-up on live observations (compared with the active model) -> wait for the episode's
//   end (unless forced) -> swap between two plans -> health window -> commit, or roll back.
// One operation at a time (a queue); every stage is logged once with its duration, counted in
// metrics and published on telemetry. A refusal changes nothing.
import { createReadStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import PQueue from 'p-queue';
import semver from 'semver';
import { readManifest, type Manifest } from '../bundle/index.js';
import { percentile, type Clock, type Logger, type Observation } from '../core/index.js';
import type { OtaMetrics } from '../metrics/index.js';
import {
  BundleStore, HealthWindow, OtaRefusal, TrustAnchor, UploadStaging, bundleId, checkActivation, checkIoFits, checkVersion, compareChunks, withEvent, type BootChoice, type HealthSummary, type OtaState, type UploadStatus,
} from '../ota/index.js';
import type { PolicyEngine } from '../policy/index.js';
import type { OtaParams } from './params.js';
import type { PolicySlot, PlanReport } from './policy-slot.js';

/** What the manager needs of the daemon (narrow, so the daemon's internals stay its own). */
export interface OtaHost {
  readonly log: Logger;
  readonly clock: Clock;
  readonly hwProfile: string;
  readonly metrics: OtaMetrics;
  /** The live slot (undefined while the policy part is down). */
  slot(): PolicySlot | undefined;
  /** Opens a bundle in a new policy worker with the daemon's engine options (self-test included). */
  openEngine(dir: string): Promise<PolicyEngine>;
  /** The robot's current observation, when the loop runs. */
  observation(): Observation | undefined;
  /** Runs inference work in the scheduler's lane below control. */
  background<T>(work: () => Promise<T>): Promise<T>;
  episodeOpen(): boolean;
  episodeEnded(): Promise<unknown>;
  /** The p95 latency a model must stay under, ms. */
  latencyBudgetMs(m: Manifest): number;
  /** Every stage and outcome, for telemetry. */
  publish(event: Record<string, unknown>): void;
  /** The configured (shipped) bundle's directory. */
  readonly configuredDir: string;
}

export interface ActivateOptions {
  /** Swap during an episode instead of waiting for its end. */
  force?: boolean;
  /** Allow a version not newer than the newest installed, if it has run here before. */
  rollback?: boolean;
}

export interface SwapReport {
  bundle: string;
  previous: string;
  stages_ms: Record<string, number>;
  warm_up: { runs: number; latency_p50_ms: number; latency_max_ms: number; vs_active: { mean_abs: number; max_abs: number } | null; note?: string };
  adapters: { outcome: 'kept' | 'parked' | 'none'; files: number };
}

interface Trial {
  bundle: string;
  previousBundle: string | null;
  previous: PolicyEngine;
  next: PolicyEngine;
  window: HealthWindow;
  settled: Promise<'committed' | 'rolled_back'>;
  settle: (o: 'committed' | 'rolled_back') => void;
}

/** What an activation swaps in: a verified upload still in staging, or a bundle in the store. */
type Source = { kind: 'staged'; dir: string; manifest: Manifest; uploadId: string } | { kind: 'installed'; id: string };

const ms = (t0: number) => Math.round((performance.now() - t0) * 10) / 10;

export class OtaManager {
  private store: BundleStore | undefined;
  private staging: UploadStaging | undefined;
  readonly trust: TrustAnchor;
  private readonly queue = new PQueue({ concurrency: 1 });
  private readonly uploads = new PQueue({ concurrency: 1 });
  private running: string | null = null;
  private stage: { bundle: string; stage: string; since: number } | null = null;
  private trial: Trial | undefined;
  private lastReport: SwapReport | undefined;
  private lastOutcome: Record<string, unknown> | undefined;
  private readonly clampRing = new Uint8Array(500);
  private clampTicks = 0;
  private clampedThisTick = false;
  /** name@version of the configured (shipped) bundle, once it has run. */
  private configuredId: string | undefined;

  constructor(private readonly host: OtaHost, readonly params: OtaParams) {
    this.trust = new TrustAnchor({ keys: params.trusted_keys, threshold: params.threshold, hwProfile: host.hwProfile });
  }

  get enabled(): boolean { return this.params.dir !== ''; }
  /** Where the store files a bundle's adapters (undefined while the store is closed or OTA is off). */
  adaptersDir(bundle: string): string | undefined { return this.store?.adaptersDir(bundle); }
  get runningBundle(): string | null { return this.running; }
  get inTrial(): boolean { return this.trial !== undefined; }

  /** Opens the store and picks the bundle to run: called when the policy part starts. */
  async boot(): Promise<BootChoice> {
    if (!this.enabled) return { dir: this.host.configuredDir, bundle: null, notes: [] };
    this.store ??= await BundleStore.open(resolve(this.params.dir));
    this.staging ??= new UploadStaging(this.store.stagingDir, { maxBundleBytes: this.params.max_bundle_mb * 2 ** 20, maxChunkBytes: 512 * 1024 });
    this.configuredId ??= bundleId(await readManifest(this.host.configuredDir));
    const choice = await this.store.boot(this.host.configuredDir);
    for (const note of choice.notes) this.host.log.warn({ part: 'ota' }, note);
    this.running = choice.bundle;
    return choice;
  }

  /** The bundle now running has run here: record it (anti-rollback covers the configured bundle too). */
  async recordRunning(m: Manifest): Promise<void> {
    const store = this.store;
    if (!store) return;
    const id = bundleId(m);
    let s = store.state;
    const highest = s.highest[m.name];
    if (!highest || semver.gt(m.version, highest)) s = { ...s, highest: { ...s.highest, [m.name]: m.version } };
    if (!s.ran.includes(id)) s = { ...s, ran: [...s.ran, id] };
    if (s !== store.state) await store.setState(withEvent(s, 'ran', id));
  }

  private need(): { store: BundleStore; staging: UploadStaging } {
    if (!this.store || !this.staging) throw new OtaRefusal('disabled', this.enabled ? 'the bundle store opens with the policy: configure the node first' : 'over-the-air swaps are off: set ota.dir (and ota.trusted_keys)');
    return { store: this.store, staging: this.staging };
  }

  /** Signature, expiry, hw-profile, version and I/O: everything decidable from the manifest alone. */
  private admit(m: Manifest, o: ActivateOptions = {}): void {
    const { store } = this.need();
    this.trust.check(m, Date.now());
    if (!o.rollback) checkVersion(store.state, m, false);
    const active = this.host.slot()?.engine.manifest;
    if (active) checkIoFits(m, active);
  }

  private refused(err: unknown, bundle: string | undefined): never {
    if (err instanceof OtaRefusal) {
      this.host.metrics.outcome(`refused_${err.code}`);
      this.host.log.warn({ part: 'ota', bundle, code: err.code }, `refused: ${err.message}`);
      this.lastOutcome = { bundle: bundle ?? null, outcome: 'refused', code: err.code, reason: err.message, at: new Date().toISOString() };
      this.host.publish({ event: 'refused', bundle: bundle ?? null, code: err.code, reason: err.message });
    }
    throw err;
  }

  // --- delivery ---

  uploadBegin(manifestText: string): Promise<UploadStatus> {
    return this.uploads.add(async () => {
      const { staging } = this.need();
      try {
        return await staging.begin(manifestText, (m) => this.admit(m));
      } catch (err) {
        return this.refused(err, undefined);
      }
    });
  }

  uploadChunk(id: string, file: string, offset: number, data: Uint8Array): Promise<{ have: number; done: boolean }> {
    return this.uploads.add(() => this.need().staging.chunk(id, file, offset, data));
  }

  /** Gives up an upload (the client's request, or an install from disk that was refused): its staged files are deleted; false when there was none. */
  uploadAbort(id: string): Promise<boolean> {
    return this.uploads.add(async () => {
      const { staging } = this.need();
      if (!(await staging.pending()).includes(id)) return false;
      await staging.abort(id);
      this.host.log.info({ part: 'ota', upload: id }, 'upload given up: its staged files are deleted');
      return true;
    });
  }

  uploadStatus(id: string): Promise<UploadStatus> { return this.uploads.add(() => this.need().staging.status(id)); }

  /**
   * Completes an upload: every file checked from disk, then either installed (after the golden
   * self-test) or, with `activate`, taken through the whole swap; the promise settles when the
   * bundle is installed, or swapped in, or refused. Only a bundle that passed its checks enters the
   * store: a refused one is deleted from staging, and the store's state is untouched.
   */
  async uploadFinish(id: string, o: ActivateOptions & { activate?: boolean } = {}): Promise<{ bundle: string; done: Promise<SwapReport | string> }> {
    const t0 = performance.now();
    const { dir, manifest } = await this.uploads.add(() => this.need().staging.finish(id)).catch(async (err: unknown) => {
      if (err instanceof OtaRefusal && err.code === 'hash') await this.need().staging.abort(id);
      return this.refused(err, undefined);
    });
    this.stageDone(bundleId(manifest), 'upload', t0);
    const src: Source = { kind: 'staged', dir, manifest, uploadId: id };
    const done = o.activate ? this.enqueue(src, o) : this.queue.add(() => this.installOnly(src, o));
    done.catch(() => undefined);
    return { bundle: bundleId(manifest), done };
  }

  /** A bundle already on the robot's disk: copied through the same staged, hashed path as an upload. */
  async installPath(path: string, o: ActivateOptions & { activate?: boolean } = {}): Promise<{ bundle: string; done: Promise<SwapReport | string> }> {
    const dir = resolve(path);
    let text: string;
    try {
      text = await readFile(join(dir, 'manifest.json'), 'utf8');
    } catch (err) {
      throw new OtaRefusal('manifest', `no bundle at ${dir} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
    }
    const st = await this.uploadBegin(text);
    for (const f of st.files) {
      let offset = f.have;
      if (f.done) continue;
      for await (const part of createReadStream(join(dir, f.name), { start: offset, highWaterMark: 256 * 1024 })) {
        const r = await this.uploadChunk(st.upload_id, f.name, offset, part as Buffer).catch(async (err: unknown) => {
          await this.uploadAbort(st.upload_id); // a file on disk will not read differently next time
          return this.refused(err, st.bundle);
        });
        offset = r.have;
      }
    }
    return this.uploadFinish(st.upload_id, o);
  }

  /** Install without a swap: checks, the golden self-test in a throwaway worker, then into the store. */
  private async installOnly(src: Extract<Source, { kind: 'staged' }>, o: ActivateOptions): Promise<string> {
    const label = bundleId(src.manifest);
    try {
      let t = performance.now();
      this.admit(src.manifest, o); // again: time passed, and the version may have moved
      this.stageDone(label, 'verify', t);
      t = performance.now();
      const engine = await this.host.openEngine(src.dir).catch((err: unknown) => { throw new OtaRefusal('self_test', `${label}: did not load or failed its golden self-test: ${(err as Error).message}`); });
      await engine.close();
      this.stageDone(label, 'load_self_test', t);
      const id = await this.need().store.commitStaged(src.dir, src.manifest);
      this.host.metrics.outcome('installed');
      this.host.publish({ event: 'installed', bundle: id });
      this.lastOutcome = { bundle: id, outcome: 'installed', at: new Date().toISOString() };
      return id;
    } catch (err) {
      await this.need().staging.abort(src.uploadId);
      return this.refused(err, label);
    }
  }

  // --- activation ---

  /** Queues a swap to an installed bundle (or "configured"); the promise settles when it is swapped in (or refused). */
  activate(id: string, o: ActivateOptions = {}): Promise<SwapReport> { return this.enqueue({ kind: 'installed', id }, o); }

  /** Back to the last known good bundle (or, with none recorded, the configured one). */
  rollback(): Promise<SwapReport> {
    const { store } = this.need();
    if (this.trial) return this.queue.add(async () => { await this.endTrial('failed', 'rollback requested by the operator'); return this.lastReport!; });
    const s = store.state;
    const ranBefore = s.ran.filter((id) => id !== (this.running ?? this.configuredId));
    const target = s.last_good !== null && s.last_good !== this.running ? s.last_good : ranBefore[ranBefore.length - 1];
    if (target === undefined) throw new OtaRefusal('not_installed', `nothing to roll back to: ${this.running ?? 'the configured bundle'} is the only one that has run`);
    return this.enqueue({ kind: 'installed', id: target === this.configuredId ? 'configured' : target }, { rollback: true, force: true });
  }

  private enqueue(src: Source, o: ActivateOptions): Promise<SwapReport> {
    const p = this.queue.add(() => this.runActivation(src, o));
    p.catch(() => undefined);
    return p;
  }

  private async runActivation(src: Source, o: ActivateOptions): Promise<SwapReport> {
    const { store, staging } = this.need();
    const slot = this.host.slot();
    const staged = src.kind === 'staged' ? src : undefined;
    const id = src.kind === 'staged' ? bundleId(src.manifest) : src.id;
    const target = id === 'configured' ? null : id;
    const label = target ?? 'configured';
    const stages: Record<string, number> = {};
    let shadow: PolicyEngine | undefined;
    try {
      if (!slot) throw new OtaRefusal('busy', 'the policy is not running (configure the node first)');
      if (this.trial) throw new OtaRefusal('busy', `${this.trial.bundle} is still in its health window`);
      if (target === this.running) throw new OtaRefusal('busy', `${label} is already running`);
      let t = performance.now();
      const dir = staged ? staged.dir : target === null ? this.host.configuredDir : store.bundleDir(target);
      if (!staged && target !== null && !(await store.isInstalled(target))) throw new OtaRefusal('not_installed', `${target} is not installed (installed: ${(await store.installed()).join(', ') || 'none'})`);
      const manifest = staged ? staged.manifest : target === null ? await readManifest(dir) : await store.verifyInstalled(target).catch((err: unknown) => { throw new OtaRefusal('hash', `${target}: ${(err as Error).message}`); });
      if (staged) {
        this.admit(manifest, o);
      } else if (target !== null) {
        // An explicit rollback to a bundle that ran here is trusted as it was; anything else is checked now.
        if (!(o.rollback && store.state.ran.includes(target))) this.trust.check(manifest, Date.now());
        checkActivation(store.state, manifest, o.rollback ?? false);
      }
      checkIoFits(manifest, slot.engine.manifest);
      stages.verify = this.stageDone(label, 'verify', t);

      t = performance.now();
      this.setStage(label, 'load');
      shadow = await this.host.openEngine(dir).catch((err: unknown) => { throw new OtaRefusal('self_test', `${label}: the shadow policy did not load or failed its golden self-test: ${(err as Error).message}`); });
      stages.load_self_test = this.stageDone(label, 'load_self_test', t);

      t = performance.now();
      this.setStage(label, 'warm_up');
      const warm = await this.warmUp(shadow, slot, manifest);
      stages.warm_up = this.stageDone(label, 'warm_up', t);

      if (this.host.episodeOpen() && !o.force) {
        t = performance.now();
        this.setStage(label, 'wait_episode');
        this.host.log.info({ part: 'ota', bundle: label }, 'waiting for the episode to end before the swap (force to swap now)');
        while (this.host.episodeOpen()) await this.host.episodeEnded();
        stages.wait_episode = this.stageDone(label, 'wait_episode', t);
      }

      if (staged) {
        await store.commitStaged(staged.dir, manifest);
        this.host.metrics.outcome('installed');
      }

      t = performance.now();
      const previousBundle = this.running;
      const previousManifest = slot.engine.manifest;
      await store.setState(withEvent({ ...store.state, active: target, trial: { bundle: label, since: new Date().toISOString() } }, 'swap', label));
      const previous = slot.swap(shadow); // between two plans: the next chunk is the new model's
      this.running = target;
      const next = shadow;
      shadow = undefined;
      stages.swap = this.stageDone(label, 'swap', t);
      const adapters = await store.carryAdapters(previousBundle, previousManifest, label, manifest);
      if (adapters.outcome !== 'none') this.host.log.info({ part: 'ota', adapters: adapters.outcome, files: adapters.files }, `adapters ${adapters.outcome === 'kept' ? 'kept (same expert and LoRA layout)' : 'parked (the expert or LoRA layout changed)'}`);
      this.host.metrics.outcome('swapped');
      this.startTrial(label, previousBundle, previous, next, manifest);
      const report: SwapReport = { bundle: label, previous: previousBundle ?? 'configured', stages_ms: stages, warm_up: warm, adapters };
      this.lastReport = report;
      this.host.publish({ event: 'swapped', ...report });
      return report;
    } catch (err) {
      await shadow?.close().catch(() => undefined);
      if (staged && !(await store.isInstalled(label))) await staging.abort(staged.uploadId);
      this.stage = null;
      return this.refused(err, label);
    }
  }

  /** The shadow plans on live observations; its chunks are compared with the active model's. */
  private async warmUp(shadow: PolicyEngine, slot: PolicySlot, m: Manifest): Promise<SwapReport['warm_up']> {
    const budget = this.host.latencyBudgetMs(m);
    const latencies: number[] = [];
    const diffs: { mean_abs: number; max_abs: number }[] = [];
    let note: string | undefined;
    for (let i = 0; i < this.params.warmup_runs; i++) {
      const recent = slot.last;
      const obs = recent?.obs ?? this.host.observation();
      if (!obs) { note = 'no live observation (the loop is not running): warm-up was the self-test only'; break; }
      const t = performance.now();
      const r = await this.host.background(() => shadow.infer(obs));
      const took = performance.now() - t;
      latencies.push(took);
      // Far over budget after the first (initialising) run: no need for more evidence.
      if (i > 0 && took > 3 * budget) throw new OtaRefusal('too_slow', `${bundleId(m)}: warm-up inference took ${took.toFixed(1)} ms, 3x over the ${budget.toFixed(1)} ms budget (the queue left when a re-plan is asked; ota.health.latency_budget_ms)`);
      const activeChunk = recent?.chunk ?? (await this.host.background(() => slot.engine.infer(obs))).chunk;
      const c = compareChunks(r.chunk.actions, activeChunk.actions);
      if (!c.finite) throw new OtaRefusal('non_finite', `${bundleId(m)}: warm-up chunk ${i + 1} has NaN/Inf`);
      diffs.push({ mean_abs: c.mean_abs, max_abs: c.max_abs });
    }
    // The first run pays for lazy initialisation: judge speed on the rest when there are any.
    const judged = latencies.length > 1 ? latencies.slice(1) : latencies;
    const p50 = judged.length ? percentile(judged, 50) : 0;
    if (judged.length && p50 > budget) throw new OtaRefusal('too_slow', `${bundleId(m)}: warm-up inference p50 ${p50.toFixed(1)} ms, the budget is ${budget.toFixed(1)} ms (the queue left when a re-plan is asked; ota.health.latency_budget_ms)`);
    const round = (x: number) => Math.round(x * 1e4) / 1e4;
    return {
      runs: latencies.length, latency_p50_ms: Math.round(p50 * 10) / 10, latency_max_ms: Math.round(Math.max(0, ...latencies) * 10) / 10,
      vs_active: diffs.length ? { mean_abs: round(diffs.reduce((a, d) => a + d.mean_abs, 0) / diffs.length), max_abs: round(Math.max(...diffs.map((d) => d.max_abs))) } : null,
      ...(note ? { note } : {}),
    };
  }

  // --- health window ---

  private startTrial(bundle: string, previousBundle: string | null, previous: PolicyEngine, next: PolicyEngine, m: Manifest): void {
    const h = this.params.health;
    const window = new HealthWindow(bundle, {
      chunks: h.chunks, seconds: h.seconds, maxNonFinite: h.max_non_finite, maxClampRise: h.max_clamp_rise, baselineClampRate: this.clampRate(),
      latencyBudgetMs: this.host.latencyBudgetMs(m), maxWatchdogEvents: h.max_watchdog_events,
    }, this.nowS());
    let settle!: (o: 'committed' | 'rolled_back') => void;
    const settled = new Promise<'committed' | 'rolled_back'>((r) => { settle = r; });
    this.trial = { bundle, previousBundle, previous, next, window, settled, settle };
    this.stage = { bundle, stage: 'health', since: performance.now() };
    this.host.metrics.trial.set(1);
  }

  /** The trial's outcome, once the health window decides. */
  trialSettled(): Promise<'committed' | 'rolled_back'> | undefined { return this.trial?.settled; }

  private nowS(): number { return Number(this.host.clock.nowNs()) / 1e9; }

  /** Plans by any engine: the trial counts the new model's. */
  onPlan(r: PlanReport): void {
    const trial = this.trial;
    if (!trial || r.model !== trial.next.modelVersion) return;
    trial.window.plan(r.ms, r.finite);
    this.judge();
  }

  onTick(): void {
    this.clampRing[this.clampTicks++ % this.clampRing.length] = this.clampedThisTick ? 1 : 0;
    this.clampedThisTick = false;
    if (!this.trial) return;
    this.trial.window.tick();
    this.judge();
  }

  /** The fraction of recent ticks with a clamp (the running model's baseline before a swap). */
  private clampRate(): number {
    const n = Math.min(this.clampTicks, this.clampRing.length);
    let c = 0;
    for (let i = 0; i < n; i++) c += this.clampRing[i]!;
    return n ? c / n : 0;
  }

  /** The LoopStats observer's view (clamps, watchdog faults, invalid chunks). */
  readonly observer = {
    clamp: (rule: string) => { this.clampedThisTick = true; this.trial?.window.clamp(rule === 'nonfinite'); },
    watchdogEvent: (e: string) => this.trial?.window.watchdogEvent(e),
    invalidChunk: () => this.trial?.window.invalidChunk(),
  };

  private judge(): void {
    const trial = this.trial;
    if (!trial) return;
    const v = trial.window.evaluate(this.nowS());
    if (v.state === 'pending') return;
    // Roll back at once (an assignment between two ticks); the bookkeeping follows in the queue.
    if (v.state === 'failed') this.host.slot()?.swap(trial.previous);
    void this.queue.add(() => this.endTrial(v.state, v.state === 'failed' ? v.reason : undefined, v.summary)).catch((err: unknown) => this.host.log.error({ part: 'ota', err }, 'health window bookkeeping failed'));
  }

  private async endTrial(verdict: 'passed' | 'failed', reason?: string, summary?: HealthSummary): Promise<void> {
    const trial = this.trial;
    if (!trial) return;
    this.trial = undefined;
    this.host.metrics.trial.set(0);
    const store = this.need().store;
    const health = summary ?? trial.window.summary(this.nowS());
    const since = this.stage?.stage === 'health' ? this.stage.since : performance.now();
    if (verdict === 'passed') {
      const s = store.state;
      await store.setState(withEvent({ ...s, active: s.active, last_good: s.active, trial: null, ran: s.ran.includes(trial.bundle) || trial.bundle === 'configured' ? s.ran : [...s.ran, trial.bundle] }, 'committed', trial.bundle));
      await trial.previous.close().catch(() => undefined);
      this.stageDone(trial.bundle, 'health', since);
      this.host.metrics.outcome('committed');
      this.host.log.info({ part: 'ota', bundle: trial.bundle, health }, `${trial.bundle} passed its health window: committed as the last known good bundle`);
      this.lastOutcome = { bundle: trial.bundle, outcome: 'committed', health, at: new Date().toISOString() };
      this.host.publish({ event: 'committed', bundle: trial.bundle, health });
      const pruned = await store.prune(this.params.keep).catch(() => [] as string[]);
      if (pruned.length) this.host.log.info({ part: 'ota', pruned }, `removed ${pruned.length} old bundle(s) from the store`);
      trial.settle('committed');
      return;
    }
    if (this.host.slot()?.engine === trial.next) this.host.slot()?.swap(trial.previous);
    this.running = trial.previousBundle;
    const s = store.state;
    await store.setState(withEvent({ ...s, active: trial.previousBundle, trial: null }, 'rollback', trial.bundle, reason));
    await trial.next.close().catch(() => undefined);
    this.stageDone(trial.bundle, 'health', since);
    this.host.metrics.outcome('rolled_back');
    this.host.log.warn({ part: 'ota', bundle: trial.bundle, back_to: trial.previousBundle ?? 'configured', health }, `rolled back ${trial.bundle}: ${reason}`);
    this.lastOutcome = { bundle: trial.bundle, outcome: 'rolled_back', reason, back_to: trial.previousBundle ?? 'configured', health, at: new Date().toISOString() };
    this.host.publish({ event: 'rolled_back', bundle: trial.bundle, reason, back_to: trial.previousBundle ?? 'configured', health });
    trial.settle('rolled_back');
  }

  /** Closes the engines a trial holds (the daemon closes the live one). */
  async close(): Promise<void> {
    const trial = this.trial;
    this.trial = undefined;
    if (trial) {
      const live = this.host.slot()?.engine;
      await (live === trial.next ? trial.previous : trial.next).close().catch(() => undefined);
      trial.settle('rolled_back');
    }
    this.stage = null;
  }

  // --- reporting ---

  private setStage(bundle: string, stage: string): void {
    this.stage = { bundle, stage, since: performance.now() };
    this.host.publish({ event: 'stage', bundle, stage });
  }

  private stageDone(bundle: string, stage: string, t0: number): number {
    const d = ms(t0);
    this.host.metrics.stage(stage, d / 1000);
    this.host.log.info({ part: 'ota', bundle, stage, ms: d }, `${bundle}: ${stage} ${d} ms`);
    this.host.publish({ event: 'stage_done', bundle, stage, ms: d });
    if (this.stage?.stage === stage) this.stage = null;
    return d;
  }

  status(): Record<string, unknown> {
    const s = this.store?.state;
    return {
      enabled: this.enabled,
      running: this.running ?? 'configured',
      trusted_keys: this.trust.keyIds,
      threshold: this.trust.threshold,
      stage: this.stage ? { bundle: this.stage.bundle, stage: this.stage.stage, for_s: Math.round(performance.now() - this.stage.since) / 1000 } : null,
      health: this.trial ? { bundle: this.trial.bundle, ...this.trial.window.summary(this.nowS()), window: { chunks: this.params.health.chunks, seconds: this.params.health.seconds } } : null,
      state: s ? { active: s.active ?? 'configured', last_good: s.last_good ?? 'configured', trial: s.trial } : null,
      last_swap: this.lastReport ?? null,
      last_outcome: this.lastOutcome ?? null,
      queued: this.queue.size + this.queue.pending,
    };
  }

  async list(): Promise<{ bundles: { bundle: string; active: boolean; last_good: boolean; ran: boolean }[]; history: OtaState['history']; uploads: string[] }> {
    const { store, staging } = this.need();
    const s = store.state;
    const ids = await store.installed();
    return {
      bundles: ids.map((b) => ({ bundle: b, active: (s.active ?? null) === b, last_good: s.last_good === b, ran: s.ran.includes(b) })),
      history: s.history.slice(-20),
      uploads: await staging.pending(),
    };
  }
}
