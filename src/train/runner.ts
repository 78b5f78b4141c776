// TrainerRunner: the trainer worker's inside. Owns the ORT sessions (prefix, train_step, loss), the
// data pipeline over the recorded datasets, the prefix cache and the persisted state. Every call
// of step() is one short unit of work: read a few new episodes, plan a pass, cache prefix outputs
// (each about step_budget_ms), or run exactly one train step. It runs inside the worker only:
// session.run blocks its thread.
import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import ort from 'onnxruntime-node';
import { allFinite, readBundle, type BundleContents, type Manifest } from '../bundle/index.js';
import type { ControlMode } from '../core/index.js';
import { gaussianNoise, InstructionTokenizer, Normalizer } from '../policy/index.js';
import type { Dataset, Episode } from '../rlds/index.js';
import { trainingConfig, type TrainingConfig, type TrainingConfigInput } from './config.js';
import { openTrainingDataset, prefixInput, recordedEpisode, trainingEpisode, type EpisodeKey, type TrainingEpisode } from './episodes.js';
import { gateDecision, type GateMetrics, type GateResult, type GateSet } from './gate.js';
import { PrefixCache, prefixIdentity } from './prefix-cache.js';
import { drawBatch, drawSeed, flowT, uniforms, WeightedPool } from './sampling.js';
import { freshState, loadState, saveState, summarizeLosses, type CandidateAdapter, type PassState, type TrainerState } from './state.js';
import { countByMode, targetChunk, targetEnd } from './windows.js';

export interface TrainerParams {
  bundleDir: string;
  /** Holds the trainer's state file and (unless cacheDir is given) the prefix cache. */
  stateDir: string;
  cacheDir?: string;
  datasetDirs: string[];
  config?: TrainingConfigInput;
  /** Run the worker thread at SCHED_IDLE (default true): it then gets the CPU only when nothing else wants it. */
  idlePriority?: boolean;
  /** The adapter passes start from (default: the bundle's base, no adapter). Ignored when a state exists. */
  parent?: { version: string; lora: Float32Array };
}

/** One unit of work's outcome. `candidate` comes with the last train step of a pass. */
export interface StepResult {
  kind: 'idle' | 'scan' | 'start' | 'cache' | 'train';
  pass: number;
  /** train: train steps done in this pass; cache: segments cached so far; scan: episodes read. */
  step: number;
  /** train: max_steps_per_pass; cache: segments this pass needs; scan: episodes to read. */
  of: number;
  loss?: number;
  lr?: number;
  reason?: string;
  candidate?: CandidateAdapter;
}

export interface TrainerStatus { identity: string; parent: string; passesDone: number; cursor: Record<string, number>; pass: { index: number; step: number; of: number; fresh: number; replay: number } | null; hasCandidate: boolean }

interface Window { ep: TrainingEpisode; t: number; end: number; weight: number }

/** A segment of an episode's window starts whose prefix outputs are cached together. */
interface Segment { ep: TrainingEpisode; steps: number[] }

export class TrainerRunner {
  private readonly episodes = new Map<string, TrainingEpisode[]>();
  private readonly datasets = new Map<string, Dataset>();
  private pools: { fresh: WeightedPool<Window>; replay: WeightedPool<Window> } | null = null;
  private segments: Segment[] = [];
  private segmentOf = new Map<string, { seg: Segment; pos: number }>();
  private nextSegment = 0;
  /** Episode counts per dataset that the current round of reading goes up to. */
  private scanTarget: Map<string, number> | null = null;
  /** The segment being filled, a few prefix runs per unit of work; lost (and redone) on a crash. */
  private filling: { seg: Segment; episode: Episode; kv: Float32Array; mask: Float32Array; done: number } | null = null;

  private constructor(
    private readonly bundle: BundleContents,
    readonly config: TrainingConfig,
    private readonly sessions: { prefix: ort.InferenceSession; trainStep: ort.InferenceSession; loss: ort.InferenceSession },
    private readonly cache: PrefixCache,
    private readonly stateDir: string,
    private readonly datasetDirs: string[],
    private state: TrainerState,
    private readonly stateNorm: Normalizer,
    private readonly actionNorm: Normalizer,
    private readonly tokenizer: InstructionTokenizer,
  ) {}

  private get kvSize(): number { return this.cache.kvSize; }
  private get maskSize(): number { return this.cache.maskSize; }

  get m(): Manifest { return this.bundle.manifest; }
  private get batch(): number { return this.m.training?.batch ?? 8; }

  static async open(p: TrainerParams): Promise<TrainerRunner> {
    const config = trainingConfig(p.config ?? {});
    const bundle = await readBundle(p.bundleDir);
    const m = bundle.manifest;
    if (!m.graphs.train_step || !m.graphs.loss) throw new Error(`bundle ${m.name}@${m.version}: no train_step and loss graphs: it cannot be fine-tuned on the robot`);
    const identity = prefixIdentity(m);
    await mkdir(p.stateDir, { recursive: true });
    let state = await loadState(p.stateDir);
    if (state && state.identity !== identity) throw new Error(`${join(p.stateDir, 'trainer-state.msgpack')}: trained on ${state.identity}, the bundle is ${identity}: give another state folder for this bundle`);
    state ??= freshState(identity, p.parent ?? { version: 'base', lora: new Float32Array(m.lora.size) });
    if (state.parent.lora.length !== m.lora.size) throw new Error(`parent adapter ${state.parent.version}: ${state.parent.lora.length} values, bundle ${m.name} LoRA size is ${m.lora.size}`);
    const opts: ort.InferenceSession.SessionOptions = { executionProviders: ['cpu'], intraOpNumThreads: config.threads, interOpNumThreads: 1, executionMode: 'sequential', graphOptimizationLevel: 'all' };
    const open = (file: string) => ort.InferenceSession.create(join(p.bundleDir, file), opts);
    const sessions = { prefix: await open(m.graphs.prefix.file), trainStep: await open(m.graphs.train_step.file), loss: await open(m.graphs.loss.file) };
    const size = (name: string) => (m.graphs.prefix.outputs.find((o) => o.name === name)?.shape as number[] | undefined)?.reduce((a, b) => a * b, 1) ?? 0;
    const cache = await PrefixCache.open(p.cacheDir ?? join(p.stateDir, 'prefix-cache'), identity, size('prefix_kv'), size('prefix_mask'));
    const runner = new TrainerRunner(
      bundle, config, sessions, cache, p.stateDir, p.datasetDirs.map((d) => resolve(d)), state,
      new Normalizer(m.normalization.mode, bundle.normStats.state), new Normalizer(m.normalization.mode, bundle.normStats.actions),
      new InstructionTokenizer(bundle.tokenizerJson, m.tokenizer.max_tokens, m.tokenizer.pad_id),
    );
    if (state.pass) await runner.preparePass(state.pass);
    return runner;
  }

  status(): TrainerStatus {
    const s = this.state;
    return {
      identity: s.identity, parent: s.parent.version, passesDone: s.passesDone, cursor: { ...s.cursor }, hasCandidate: s.candidate !== null,
      pass: s.pass ? { index: s.pass.index, step: s.pass.step, of: this.config.max_steps_per_pass, fresh: s.pass.fresh.length, replay: s.pass.replay.length } : null,
    };
  }

  get candidate(): CandidateAdapter | null { return this.state.candidate; }

  /** The adapter the next pass starts from (after a promotion). A running pass keeps its own. */
  async setParent(version: string, lora: Float32Array): Promise<void> {
    if (lora.length !== this.m.lora.size) throw new Error(`adapter ${version}: ${lora.length} values, bundle LoRA size is ${this.m.lora.size}`);
    if (!allFinite(lora)) throw new Error(`adapter ${version}: contains NaN or Inf`);
    this.state.parent = { version, lora: Float32Array.from(lora) };
    await saveState(this.stateDir, this.state);
  }

  // --- data ---

  private readOptions() {
    const io = this.m.io;
    return { actionNorm: this.actionNorm, actionDim: io.action_dim, horizon: io.chunk_length, controlDt: io.control_dt, config: this.config };
  }

  /**
   * Reads the episodes recorded since the last look, until `deadline` (at least one); true once
   * every dataset is read up to the episode count it had when this round of reading began.
   */
  private async scanEpisodes(deadline = Infinity): Promise<boolean> {
    if (!this.scanTarget) {
      this.scanTarget = new Map();
      for (const dir of this.datasetDirs) {
        this.datasets.delete(dir); // its index may have grown
        this.scanTarget.set(dir, (await (await this.dataset(dir)).episodeIndex()).length);
      }
    }
    for (const [dir, n] of this.scanTarget) {
      const have = this.episodes.get(dir) ?? [];
      this.episodes.set(dir, have);
      while (have.length < n) {
        have.push(trainingEpisode(await (await this.dataset(dir)).episode(have.length), { dataset: dir, index: have.length }, this.readOptions()));
        if (performance.now() >= deadline && (have.length < n || [...this.scanTarget].some(([d, m]) => (this.episodes.get(d)?.length ?? 0) < m))) return false;
      }
    }
    this.scanTarget = null;
    return true;
  }

  private async refreshEpisodes(): Promise<void> {
    await this.scanEpisodes();
  }

  private get episodesRead(): number { return [...this.episodes.values()].reduce((n, e) => n + e.length, 0); }

  private async dataset(dir: string): Promise<Dataset> {
    let ds = this.datasets.get(dir);
    if (!ds) { ds = await openTrainingDataset(dir); this.datasets.set(dir, ds); }
    return ds;
  }

  private episodeOf(key: EpisodeKey): TrainingEpisode {
    const ep = this.episodes.get(key.dataset)?.[key.index];
    if (!ep || ep.episodeId !== key.episodeId || ep.numSteps !== key.numSteps) throw new Error(`${key.dataset} episode ${key.index}: not the episode ${key.episodeId} the pass was planned with: the dataset changed under the trainer`);
    return ep;
  }

  private windowsOf(eps: readonly TrainingEpisode[]): Window[] {
    const H = this.m.io.chunk_length;
    const out: Window[] = [];
    for (const ep of eps) ep.weights.forEach((w, t) => { if (w > 0) out.push({ ep, t, end: targetEnd(ep.modes, t, H), weight: w }); });
    return out;
  }

  private startsOf(ep: TrainingEpisode): number[] {
    const s: number[] = [];
    ep.weights.forEach((w, t) => { if (w > 0) s.push(t); });
    return s;
  }

  /** Pools and cache segments of a planned (or resumed) pass. */
  private async preparePass(pass: PassState): Promise<void> {
    if (this.episodes.size === 0) await this.refreshEpisodes();
    const fresh = pass.fresh.map((k) => this.episodeOf(k));
    const replay = pass.replay.map((k) => this.episodeOf(k));
    this.pools = { fresh: new WeightedPool(this.windowsOf(fresh), (w) => w.weight), replay: new WeightedPool(this.windowsOf(replay), (w) => w.weight) };
    this.segments = [];
    this.segmentOf.clear();
    for (const ep of [...fresh, ...replay]) this.addSegments(ep, this.startsOf(ep));
    this.nextSegment = 0;
    this.filling = null;
  }

  private addSegments(ep: TrainingEpisode, starts: number[]): void {
    const S = this.config.cache_segment_steps;
    for (let i = 0; i < starts.length; i += S) {
      const seg = { ep, steps: starts.slice(i, i + S) };
      this.segments.push(seg);
      seg.steps.forEach((t, pos) => this.segmentOf.set(`${ep.dataset}#${ep.index}#${t}`, { seg, pos }));
    }
  }

  /** Plans the next pass: episodes new since the cursor, and earlier successful ones to replay. */
  private async planPass(): Promise<PassState | string> {
    const s = this.state;
    const fresh: TrainingEpisode[] = [], replay: TrainingEpisode[] = [];
    const cursorAfter: Record<string, number> = {};
    for (const dir of this.datasetDirs) {
      const eps = this.episodes.get(dir)!;
      const from = s.cursor[dir] ?? 0;
      cursorAfter[dir] = eps.length;
      for (const ep of eps) {
        if (ep.heldOut || !ep.weights.some((w) => w > 0)) continue;
        if (ep.index >= from) fresh.push(ep);
        else if (ep.success) replay.push(ep);
      }
    }
    if (fresh.length === 0) {
      s.cursor = cursorAfter; // nothing in them to learn from: do not look at them again
      return 'no new episodes with windows to learn from';
    }
    const key = (e: TrainingEpisode): EpisodeKey => ({ dataset: e.dataset, index: e.index, episodeId: e.episodeId, numSteps: e.numSteps });
    const parent = s.parent.lora;
    const { seed, lr, warmup_steps: warmupSteps } = this.config;
    const lora = this.initialLora(parent, seed, s.passesDone);
    const n = lora.length;
    return {
      index: s.passesDone, parent: s.parent.version, seed, lr, warmupSteps, fresh: fresh.map(key), replay: replay.map(key), cursorAfter,
      step: 0, losses: [], sampledByMode: {}, lora, m: new Float32Array(n), v: new Float32Array(n), adamStep: 0,
    };
  }

  /**
   * The pass's starting LoRA: the parent's, with every all-zero A matrix drawn as PEFT does
   * (uniform +-1/sqrt(fan_in)) while B stays zero, so the start serves exactly the parent's chunk
   * and yet has a gradient (with A = B = 0 both gradients vanish).
   */
  private initialLora(parent: Float32Array, seed: number, pass: number): Float32Array {
    const lora = Float32Array.from(parent);
    const u = uniforms(drawSeed(seed, pass, 0, 7));
    for (const e of this.m.lora.layout) {
      if (!e.name.endsWith('.A')) continue;
      const size = e.shape.reduce((a, b) => a * b, 1);
      const block = lora.subarray(e.offset, e.offset + size);
      if (block.some((x) => x !== 0)) continue;
      const bound = 1 / Math.sqrt(e.shape[1]!);
      for (let i = 0; i < size; i++) block[i] = (2 * u() - 1) * bound;
    }
    return lora;
  }

  // --- the units of work ---

  async step(): Promise<StepResult> {
    const s = this.state;
    if (!s.pass) {
      // Read new episodes a few at a time (each unit about step_budget_ms), then plan.
      if (!(await this.scanEpisodes(performance.now() + this.config.step_budget_ms))) {
        return { kind: 'scan', pass: s.passesDone, step: this.episodesRead, of: [...this.scanTarget!.values()].reduce((a, b) => a + b, 0) };
      }
      const planned = await this.planPass();
      if (typeof planned === 'string') {
        await saveState(this.stateDir, s);
        return { kind: 'idle', pass: s.passesDone, step: 0, of: 0, reason: planned };
      }
      s.pass = planned;
      s.candidate = null;
      await this.preparePass(planned);
      await saveState(this.stateDir, s);
      return { kind: 'start', pass: planned.index, step: 0, of: this.config.max_steps_per_pass };
    }
    const pass = s.pass;
    // Cache prefix outputs not on disk yet, for about step_budget_ms per unit of work.
    while (this.nextSegment < this.segments.length) {
      const seg = this.segments[this.nextSegment]!;
      if (!this.filling && (await this.cache.has(seg.ep, seg.steps))) { this.nextSegment++; continue; }
      if (await this.fillSegment(seg, performance.now() + this.config.step_budget_ms)) this.nextSegment++;
      return { kind: 'cache', pass: pass.index, step: this.nextSegment, of: this.segments.length };
    }
    return this.trainStep(pass);
  }

  /** Runs the prefix on the segment's next steps until `deadline` (at least one); true once the segment is on disk. */
  private async fillSegment(seg: Segment, deadline = Infinity): Promise<boolean> {
    if (this.filling?.seg !== seg) {
      const episode = await recordedEpisode(await this.dataset(seg.ep.dataset), seg.ep);
      this.filling = { seg, episode, kv: new Float32Array(seg.steps.length * this.kvSize), mask: new Float32Array(seg.steps.length * this.maskSize), done: 0 };
    }
    const f = this.filling;
    const io = this.m.io;
    const c0 = io.cameras[0]!;
    const pixels = io.cameras.reduce((n, c) => n + c.height * c.width * 3, 0);
    do {
      const t = seg.steps[f.done]!;
      const input = await prefixInput(f.episode, t, io.cameras.map((c) => c.name), io.state_dim);
      if (input.images.length !== pixels) throw new Error(`episode ${seg.ep.episodeId} step ${t}: images are ${input.images.length} bytes, the bundle's cameras need ${pixels}`);
      const out = await this.sessions.prefix.run({
        images: new ort.Tensor('uint8', input.images, [1, io.cameras.length, c0.height, c0.width, 3]),
        tokens: new ort.Tensor('int64', this.tokenizer.encode(input.instruction), [1, this.m.tokenizer.max_tokens]),
        state: new ort.Tensor('float32', this.stateNorm.normalize(input.state), [1, io.state_dim]),
      });
      f.kv.set(out.prefix_kv!.data as Float32Array, f.done * this.kvSize);
      f.mask.set(out.prefix_mask!.data as Float32Array, f.done * this.maskSize);
      f.done++;
    } while (f.done < seg.steps.length && performance.now() < deadline);
    if (f.done < seg.steps.length) return false;
    await this.cache.write(seg.ep, seg.steps, f.kv, f.mask);
    this.filling = null;
    return true;
  }

  /** Batch tensors for windows: prefix_kv [L, 2, B, P, D] interleaves each step's [L, 2, 1, P, D]. */
  private batchFeeds(windows: readonly Window[], noise: Float32Array, t: Float32Array, lookup: (w: Window) => { seg: Segment; pos: number }): Record<string, ort.Tensor> {
    const B = windows.length;
    const { chunk_length: H, action_dim: A } = this.m.io;
    const kvShape = this.m.graphs.prefix.outputs.find((o) => o.name === 'prefix_kv')!.shape as number[];
    const blocks = kvShape[0]! * kvShape[1]!;
    const rows = this.kvSize / blocks;
    const kv = new Float32Array(B * this.kvSize);
    const mask = new Float32Array(B * this.maskSize);
    const one = new Float32Array(this.kvSize);
    const actions = new Float32Array(B * H * A);
    windows.forEach((w, b) => {
      const { seg, pos } = lookup(w);
      this.cache.read(seg.ep, seg.steps, pos, one, 0, mask, b * this.maskSize);
      for (let k = 0; k < blocks; k++) kv.set(one.subarray(k * rows, (k + 1) * rows), (k * B + b) * rows);
      targetChunk(w.ep.actions, A, w.t, w.end, H, actions, b * H * A);
    });
    return {
      prefix_kv: new ort.Tensor('float32', kv, [kvShape[0]!, kvShape[1]!, B, kvShape[3]!, kvShape[4]!]),
      prefix_mask: new ort.Tensor('float32', mask, [B, this.maskSize]),
      actions: new ort.Tensor('float32', actions, [B, H, A]),
      noise: new ort.Tensor('float32', noise, [B, H, A]),
      t: new ort.Tensor('float32', t, [B]),
    };
  }

  private async trainStep(pass: PassState): Promise<StepResult> {
    const cfg = this.config;
    const { chunk_length: H, action_dim: A } = this.m.io;
    const draw = drawBatch(this.pools!.fresh, this.pools!.replay, cfg.replay_fraction, this.batch, H * A, drawSeed(pass.seed, pass.index, pass.step + 1, 0));
    const feeds = this.batchFeeds(draw.windows, draw.noise, draw.t, (w) => this.segmentOf.get(`${w.ep.dataset}#${w.ep.index}#${w.t}`)!);
    const lr = pass.lr * Math.min(1, (pass.step + 1) / Math.max(1, pass.warmupSteps));
    const n = pass.lora.length;
    const out = await this.sessions.trainStep.run({
      ...feeds,
      lora: new ort.Tensor('float32', pass.lora, [n]), m: new ort.Tensor('float32', pass.m, [n]), v: new ort.Tensor('float32', pass.v, [n]),
      step: new ort.Tensor('float32', Float32Array.of(pass.adamStep), [1]), lr: new ort.Tensor('float32', Float32Array.of(lr), [1]),
    });
    const loss = (out.loss!.data as Float32Array)[0]!;
    const lora = out.lora_out!.data as Float32Array;
    if (!Number.isFinite(loss) || !allFinite(lora)) {
      this.state.pass = null; // a diverged pass yields nothing; its episodes come again next pass
      await saveState(this.stateDir, this.state);
      throw new Error(`pass ${pass.index} step ${pass.step + 1}: loss ${loss}${allFinite(lora) ? '' : ', LoRA not finite'}: the pass is abandoned (lower training.lr?)`);
    }
    pass.lora = Float32Array.from(lora);
    pass.m = Float32Array.from(out.m_out!.data as Float32Array);
    pass.v = Float32Array.from(out.v_out!.data as Float32Array);
    pass.adamStep = (out.step_out!.data as Float32Array)[0]!;
    pass.step++;
    pass.losses.push(loss);
    for (const w of draw.windows) { const mode = w.ep.modes[w.t]!; pass.sampledByMode[mode] = (pass.sampledByMode[mode] ?? 0) + 1; }
    const result: StepResult = { kind: 'train', pass: pass.index, step: pass.step, of: cfg.max_steps_per_pass, loss, lr };
    if (pass.step >= cfg.max_steps_per_pass) result.candidate = await this.finishPass(pass);
    else if (pass.step % cfg.checkpoint_every === 0) await saveState(this.stateDir, this.state);
    return result;
  }

  private async finishPass(pass: PassState): Promise<CandidateAdapter> {
    const s = this.state;
    const windowsByMode: Partial<Record<ControlMode, number>> = {};
    for (const key of [...pass.fresh, ...pass.replay]) {
      const ep = this.episodeOf(key);
      for (const [mode, c] of Object.entries(countByMode(ep.modes, ep.weights))) windowsByMode[mode as ControlMode] = (windowsByMode[mode as ControlMode] ?? 0) + c;
    }
    const candidate: CandidateAdapter = {
      lora: Float32Array.from(pass.lora),
      lineage: {
        parent: pass.parent, bundle: s.identity, pass: pass.index, seed: pass.seed, steps: pass.step, lr: pass.lr,
        episodes: { fresh: pass.fresh, replay: pass.replay }, windowsByMode, sampledByMode: pass.sampledByMode,
        loss: summarizeLosses(pass.losses), finishedAt: new Date().toISOString(),
      },
    };
    s.candidate = candidate;
    s.cursor = { ...s.cursor, ...pass.cursorAfter };
    s.passesDone = pass.index + 1;
    s.pass = null;
    this.pools = null;
    await saveState(this.stateDir, s);
    return candidate;
  }

  // --- the offline gate ---

  /** Mean flow loss of `lora` on fixed windows, noise and t (batches of the train graph's size). */
  private async fixedDrawLoss(lora: Float32Array, windows: readonly Window[], lookup: (w: Window) => { seg: Segment; pos: number }): Promise<number> {
    const B = this.batch;
    const { chunk_length: H, action_dim: A } = this.m.io;
    let sum = 0, batches = 0;
    for (let i = 0; i < windows.length; i += B) {
      // A short last batch is filled from the start: every window counts, a few twice.
      const ws = Array.from({ length: B }, (_, k) => windows[(i + k) % windows.length]!);
      const seed = drawSeed(this.config.seed, 0x6a7e, i / B, 0);
      const u = uniforms(seed);
      const t = Float32Array.from({ length: B }, () => flowT(u()));
      const feeds = this.batchFeeds(ws, gaussianNoise(seed, B * H * A), t, lookup);
      const out = await this.sessions.loss.run({ ...feeds, lora: new ort.Tensor('float32', lora, [lora.length]) });
      sum += (out.loss!.data as Float32Array)[0]!;
      batches++;
    }
    return sum / Math.max(1, batches);
  }

  /** Held-out windows of one gate set, evenly spread, at most max_windows; their prefixes cached. */
  private async gateWindows(eps: TrainingEpisode[], keep: (ep: TrainingEpisode, t: number) => boolean): Promise<{ windows: Window[]; episodes: number; lookup: Map<string, { seg: Segment; pos: number }> }> {
    const all = this.windowsOf(eps).filter((w) => keep(w.ep, w.t));
    const max = this.config.gate.max_windows;
    const picked = all.length <= max ? all : Array.from({ length: max }, (_, i) => all[Math.floor((i * all.length) / max)]!);
    const lookup = new Map<string, { seg: Segment; pos: number }>();
    const byEp = new Map<TrainingEpisode, number[]>();
    for (const w of picked) byEp.set(w.ep, [...(byEp.get(w.ep) ?? []), w.t]);
    for (const [ep, steps] of byEp) {
      const seg = { ep, steps };
      if (!(await this.cache.has(ep, steps))) await this.fillSegment(seg);
      steps.forEach((t, pos) => lookup.set(`${ep.dataset}#${ep.index}#${t}`, { seg, pos }));
    }
    return { windows: picked, episodes: byEp.size, lookup };
  }

  /**
   * Mean flow loss of `lora` on (up to gate.max_windows of) the windows trained from: the
   * learnable windows of every episode that is not held out, at the gate's fixed noise and t.
   */
  async trainingLoss(lora: Float32Array): Promise<{ windows: number; loss: number }> {
    await this.refreshEpisodes();
    const eps = [...this.episodes.values()].flat().filter((e) => !e.heldOut);
    const g = await this.gateWindows(eps, () => true);
    if (g.windows.length === 0) return { windows: 0, loss: NaN };
    return { windows: g.windows.length, loss: await this.fixedDrawLoss(lora, g.windows, (w) => g.lookup.get(`${w.ep.dataset}#${w.ep.index}#${w.t}`)!) };
  }

  /**
   * Judges a candidate against the adapter it was trained from (the parent: the state's parent
   * unless given) on held-out episodes. Reasons name what decided.
   */
  async gate(candidate: Float32Array, parent: Float32Array = this.state.parent.lora): Promise<GateResult> {
    if (candidate.length !== this.m.lora.size) throw new Error(`candidate adapter: ${candidate.length} values, bundle LoRA size is ${this.m.lora.size}`);
    if (!allFinite(candidate)) return gateDecision(candidate, null, this.config.gate);
    await this.refreshEpisodes();
    const heldOut = [...this.episodes.values()].flat().filter((e) => e.heldOut);
    // Newest first: the corrections the robot needed last.
    const withInterventions = heldOut.filter((e) => e.hasIntervention).reverse();
    const clean = heldOut.filter((e) => e.success && !e.hasIntervention);
    const corr = await this.gateWindows(withInterventions, (ep, t) => ep.modes[t] === 'intervention');
    const ret = await this.gateWindows(clean, () => true);
    const set = async (g: typeof corr): Promise<GateSet> => {
      if (g.windows.length === 0) return { windows: 0, episodes: 0, parentLoss: NaN, candidateLoss: NaN };
      const look = (w: Window) => g.lookup.get(`${w.ep.dataset}#${w.ep.index}#${w.t}`)!;
      return { windows: g.windows.length, episodes: g.episodes, parentLoss: await this.fixedDrawLoss(parent, g.windows, look), candidateLoss: await this.fixedDrawLoss(candidate, g.windows, look) };
    };
    const metrics: GateMetrics = { corrections: await set(corr), retention: await set(ret) };
    return gateDecision(candidate, metrics, this.config.gate);
  }

  async close(): Promise<void> {
    await Promise.all(Object.values(this.sessions).map((s) => s.release()));
  }
}
