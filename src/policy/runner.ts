// PolicyRunner: owns the ORT sessions of one bundle and turns an observation into an action chunk.
// It runs inside the policy worker only: session.run blocks whatever thread calls it.
import { performance } from 'node:perf_hooks';
import { join } from 'node:path';
import ort from 'onnxruntime-node';
import {
  BundleError, allFinite, checkGraphIo, goldenTensor, maxRelativeError, readBundle,
  type BundleContents, type GoldenCase, type GraphName, type GraphSpec, type Manifest, type TypedTensorData,
} from '../bundle/index.js';
import { openWithFallback, sessionOptions, type HwProfile, type ProviderChoice } from '../hw/index.js';
import { AdapterSlots, BASE_ADAPTER } from './adapters.js';
import { chunkNoiseSeed, gaussianNoise } from './noise.js';
import { Normalizer } from './normalize.js';
import { createSampler, type ExpertCall, type Sampler } from './samplers.js';
import { rtcGuidance, rtcSample, type GuidedExpertCall } from './rtc.js';
import { InstructionTokenizer } from './tokenizer.js';

export interface PlanRequest {
  /** All cameras packed in manifest order, each HxWx3 uint8. */
  images: Uint8Array;
  /** Physical units, io.state_dim values. */
  state: Float32Array;
  instruction: string;
  /** Replays a chunk exactly; derived from the run seed and chunk index when absent. */
  noiseSeed?: number;
  /** Best-of-K: sample K candidates in one batch and keep the lowest-energy one. */
  candidates?: number;
  /** Real-time chunking: continue this executing plan (used when the bundle has expert_vjp). */
  rtc?: RtcRequest;
}

/** What the robot will execute from the new chunk's t0 on, at the chunk dt, physical units. */
export interface RtcRequest {
  /** Row-major [length][action_dim]. */
  actions: Float32Array;
  length: number;
  /** Actions that run before the new chunk lands (the inference delay d, in chunk steps). */
  frozenSteps: number;
  /** Clip of the guidance weight (beta); default 5. */
  maxGuidance?: number;
}

export interface StageTimings { prefixMs: number; expertStepMs: number[]; energyMs: number; totalMs: number }

export interface PlanResult {
  /** [H][A] physical units. */
  actions: Float32Array;
  noiseSeed: number;
  adapterVersion: string;
  timings: StageTimings;
  /** Whether RTC guidance shaped this chunk (needs expert_vjp, flow matching, one candidate). */
  rtcGuided: boolean;
  /** Per-candidate energies when best-of-K ran, and the chosen index. */
  energies?: number[];
  chosen?: number;
}

export interface SelfTestCaseResult { graph: string; output: string; maxRelError: number; ok: boolean }
export interface SelfTestReport { ok: boolean; tolerance: number; cases: SelfTestCaseResult[] }

export interface RunnerOptions {
  profile: HwProfile;
  seed: number;
  /** 'serving' checks the graphs the runner serves; 'all' also loss/train_step. */
  selfTest: 'serving' | 'all' | 'none';
  warmUpRuns: number;
  /** Initial-noise standard deviation; default the manifest's expert.sampler.noise_scale, else 1. */
  noiseScale?: number;
  log: (line: string) => void;
}

type Feeds = Record<string, ort.Tensor>;

const SERVING_GRAPHS: GraphName[] = ['prefix', 'expert', 'expert_vjp', 'energy'];

export class PolicyRunner {
  private chunkIndex = 0;
  readonly adapters: AdapterSlots;

  private constructor(
    readonly bundle: BundleContents,
    private readonly sessions: Map<GraphName, ort.InferenceSession>,
    readonly provider: ProviderChoice,
    private readonly profile: HwProfile,
    private readonly seed: number,
    readonly sampler: Sampler,
    private readonly stateNorm: Normalizer,
    private readonly actionNorm: Normalizer,
    readonly tokenizer: InstructionTokenizer,
    readonly noiseScale: number,
  ) {
    this.adapters = new AdapterSlots(bundle.manifest.lora.size);
  }

  get manifest(): Manifest { return this.bundle.manifest; }

  static async open(dir: string, opts: RunnerOptions): Promise<PolicyRunner> {
    const bundle = await readBundle(dir);
    const m = bundle.manifest;
    const sessions = new Map<GraphName, ort.InferenceSession>();
    const noiseScale = opts.noiseScale ?? m.expert.sampler.noise_scale ?? 1;
    if (!(noiseScale >= 0 && noiseScale <= 4)) throw new Error(`noiseScale: expected a number in [0, 4], got ${opts.noiseScale}`);
    const { session: prefix, choice } = await openWithFallback(join(dir, m.graphs.prefix.file), opts.profile);
    opts.log(choice.summary);
    sessions.set('prefix', prefix);
    const provider = opts.profile.execution_providers.find((p) => p.name === choice.name)!;
    try {
      checkGraphIo(m.graphs.prefix, prefix);
      for (const g of SERVING_GRAPHS.slice(1)) {
        const spec = m.graphs[g];
        if (!spec) continue;
        const s = await openGraph(dir, spec, () => sessionOptions(opts.profile, provider));
        sessions.set(g, s);
        checkGraphIo(spec, s);
      }
      const sampler = createSampler(m.expert.kind, m.expert.sampler, m.expert.kind === 'l1_regression' ? null : opts.profile.denoising_steps);
      const runner = new PolicyRunner(
        bundle, sessions, choice, opts.profile, opts.seed, sampler,
        new Normalizer(m.normalization.mode, bundle.normStats.state),
        new Normalizer(m.normalization.mode, bundle.normStats.actions),
        new InstructionTokenizer(bundle.tokenizerJson, m.tokenizer.max_tokens, m.tokenizer.pad_id),
        noiseScale,
      );
      if (opts.selfTest !== 'none') {
        const report = await runner.selfTest(opts.selfTest);
        const worst = report.cases.find((c) => !c.ok);
        if (worst) throw new BundleError(m.golden.file, `${worst.graph}.${worst.output}`, `golden self-test failed: max relative error ${worst.maxRelError.toExponential(2)} > ${report.tolerance}`);
      }
      for (let i = 0; i < opts.warmUpRuns; i++) await runner.plan(runner.dummyRequest(), { countChunk: false });
      return runner;
    } catch (err) {
      await Promise.all([...sessions.values()].map((s) => s.release()));
      throw err;
    }
  }

  /** An all-grey observation, used for warm-up. */
  dummyRequest(): PlanRequest {
    const io = this.manifest.io;
    const pixels = io.cameras.reduce((n, c) => n + c.height * c.width * c.channels, 0);
    return { images: new Uint8Array(pixels).fill(128), state: Float32Array.from(this.bundle.normStats.state.mean), instruction: this.bundle.manifest.golden.instruction ?? '', noiseSeed: 0 };
  }

  async plan(req: PlanRequest, opts: { countChunk?: boolean } = {}): Promise<PlanResult> {
    const t0 = performance.now();
    const m = this.manifest;
    const { io } = m;
    const H = io.chunk_length;
    const A = io.action_dim;
    const pixels = io.cameras.reduce((n, c) => n + c.height * c.width * c.channels, 0);
    if (req.images.length !== pixels) throw new Error(`images: expected ${pixels} bytes for cameras ${io.cameras.map((c) => `${c.name} ${c.height}x${c.width}x3`).join(', ')}, got ${req.images.length}`);
    if (req.state.length !== io.state_dim) throw new Error(`state: expected ${io.state_dim} values, got ${req.state.length}`);
    if (!allFinite(req.state)) throw new Error('state: contains NaN or Inf');
    const K = req.candidates ?? this.profile.candidates;
    if (!Number.isInteger(K) || K < 1) throw new Error(`candidates: expected an integer >= 1, got ${K}`);
    if (K > 1 && !this.sessions.has('energy')) throw new Error(`candidates: best-of-${K} needs an energy head, and bundle ${m.name} has none`);
    const noiseSeed = req.noiseSeed ?? chunkNoiseSeed(this.seed, this.chunkIndex);
    if (opts.countChunk !== false) this.chunkIndex++;

    const c0 = io.cameras[0]!;
    const prefixOut = await this.sessions.get('prefix')!.run({
      images: new ort.Tensor('uint8', req.images, [1, io.cameras.length, c0.height, c0.width, 3]),
      tokens: new ort.Tensor('int64', this.tokenizer.encode(req.instruction), [1, m.tokenizer.max_tokens]),
      state: new ort.Tensor('float32', this.stateNorm.normalize(req.state), [1, io.state_dim]),
    });
    const t1 = performance.now();

    const adapter = this.adapters.active();
    const stepMs: number[] = [];
    const noise = this.sampler.usesNoise ? gaussianNoise(noiseSeed, K * H * A) : new Float32Array(K * H * A);
    // Sampling temperature: a narrower start concentrates the flow on the denser modes.
    if (this.sampler.usesNoise && this.noiseScale !== 1) for (let i = 0; i < noise.length; i++) noise[i]! *= this.noiseScale;
    const kv = prefixOut.prefix_kv as ort.Tensor;
    const mask = prefixOut.prefix_mask as ort.Tensor;
    const guided = req.rtc !== undefined && K === 1 && this.sampler.kind === 'flow_matching' && this.sessions.has('expert_vjp');
    let chunks: Float32Array;
    if (guided) {
      const rtc = checkRtc(req.rtc!, A);
      const rows = this.actionNorm.normalize(rtc.actions.subarray(0, Math.min(rtc.length, H) * A));
      const guidance = rtcGuidance(rows, Math.min(rtc.length, H), H, A, rtc.frozenSteps);
      chunks = await rtcSample(this.guidedCall(kv, mask, adapter.tensor, stepMs), noise, guidance, this.sampler.steps, rtc.maxGuidance ?? 5);
    } else {
      chunks = await this.sampler.sample(this.expertCall(kv, mask, adapter.tensor, K, stepMs), noise, K);
    }
    const t2 = performance.now();

    let chosen = 0;
    let energies: number[] | undefined;
    if (K > 1) {
      const out = await this.sessions.get('energy')!.run({
        prefix_kv: prefixOut.prefix_kv as ort.Tensor,
        prefix_mask: prefixOut.prefix_mask as ort.Tensor,
        actions: new ort.Tensor('float32', chunks, [K, H, A]),
      });
      energies = Array.from(out.energy!.data as Float32Array);
      chosen = energies.reduce((best, e, i) => (e < energies![best]! ? i : best), 0);
    }
    const t3 = performance.now();
    const actions = this.actionNorm.unnormalize(chunks.subarray(chosen * H * A, (chosen + 1) * H * A));
    const result: PlanResult = {
      actions,
      noiseSeed,
      adapterVersion: adapter.version,
      rtcGuided: guided,
      timings: { prefixMs: t1 - t0, expertStepMs: stepMs, energyMs: t3 - t2, totalMs: performance.now() - t0 },
    };
    if (energies) { result.energies = energies; result.chosen = chosen; }
    return result;
  }

  /** Runs the manifest's golden cases against ORT (and the TS samplers for "sample" cases). */
  async selfTest(scope: 'serving' | 'all'): Promise<SelfTestReport> {
    const m = this.manifest;
    const { golden } = this.bundle;
    const tensor = (ref: string): { data: TypedTensorData; shape: number[]; dtype: string } => {
      const t = m.golden.tensors[ref]!;
      return { data: goldenTensor(golden, t), shape: t.shape, dtype: t.dtype };
    };
    const results: SelfTestCaseResult[] = [];
    if (m.golden.instruction !== undefined && m.golden.instruction_tokens) {
      const ids = Array.from(this.tokenizer.encode(m.golden.instruction), Number);
      const want = m.golden.instruction_tokens;
      const same = ids.length === want.length && ids.every((v, i) => v === want[i]);
      if (!same) throw new BundleError(m.tokenizer.file, 'golden.instruction_tokens', `'${m.golden.instruction}' encodes to [${ids.join(', ')}], the manifest expects [${want.join(', ')}]`);
    }
    const temporary: ort.InferenceSession[] = [];
    try {
      for (const [i, c] of m.golden.cases.entries()) {
        if (c.graph !== 'sample' && !SERVING_GRAPHS.includes(c.graph) && scope !== 'all') continue;
        for (const [name, ref] of Object.entries(c.outputs)) {
          if (!allFinite(tensor(ref).data as ArrayLike<number>)) throw new BundleError(m.golden.file, `golden.cases[${i}].outputs.${name}`, `reference tensor '${ref}' contains NaN or Inf`);
        }
        const got = c.graph === 'sample' ? await this.goldenSample(c, tensor) : await this.goldenGraph(c, tensor, temporary);
        for (const [name, ref] of Object.entries(c.outputs)) {
          const out = got[name];
          if (!out) throw new BundleError(m.golden.file, `golden.cases[${i}].outputs.${name}`, `graph ${c.graph} produced no output '${name}'`);
          const err = maxRelativeError(out, tensor(ref).data as ArrayLike<number>);
          results.push({ graph: c.graph, output: name, maxRelError: err, ok: err <= m.golden.tolerance });
        }
      }
    } finally {
      await Promise.all(temporary.map((s) => s.release()));
    }
    return { ok: results.every((r) => r.ok), tolerance: m.golden.tolerance, cases: results };
  }

  private async goldenGraph(
    c: GoldenCase,
    tensor: (ref: string) => { data: TypedTensorData; shape: number[]; dtype: string },
    temporary: ort.InferenceSession[],
  ): Promise<Record<string, Float32Array>> {
    const graph = c.graph as GraphName;
    let session = this.sessions.get(graph);
    if (!session) {
      const spec = this.manifest.graphs[graph]!;
      const provider = this.profile.execution_providers.find((p) => p.name === this.provider.name)!;
      session = await openGraph(this.bundle.dir, spec, () => sessionOptions(this.profile, provider));
      checkGraphIo(spec, session);
      temporary.push(session);
    }
    const feeds: Feeds = {};
    for (const [name, ref] of Object.entries(c.inputs)) {
      const t = tensor(ref);
      feeds[name] = new ort.Tensor(t.dtype as 'float32', t.data as Float32Array, t.shape);
    }
    const out = await session.run(feeds);
    return Object.fromEntries(Object.entries(out).map(([k, v]) => [k, toFloat32(v as ort.Tensor)]));
  }

  private async goldenSample(
    c: GoldenCase,
    tensor: (ref: string) => { data: TypedTensorData; shape: number[]; dtype: string },
  ): Promise<Record<string, Float32Array>> {
    const prefix = await this.goldenGraph({ graph: 'prefix', inputs: { images: c.inputs.images!, tokens: c.inputs.tokens!, state: c.inputs.state! }, outputs: {} }, tensor, []);
    const m = this.manifest;
    const H = m.io.chunk_length;
    const A = m.io.action_dim;
    const noise = tensor(c.inputs.noise!).data as Float32Array;
    const batch = noise.length / (H * A);
    const kvShape = m.graphs.prefix.outputs.find((o) => o.name === 'prefix_kv')!.shape as number[];
    const maskShape = m.graphs.prefix.outputs.find((o) => o.name === 'prefix_mask')!.shape as number[];
    const kv = new ort.Tensor('float32', prefix.prefix_kv!, kvShape);
    const mask = new ort.Tensor('float32', prefix.prefix_mask!, maskShape);
    const sampler = createSampler(m.expert.kind, { ...m.expert.sampler, steps: c.steps ?? m.expert.sampler.steps });
    const base = new ort.Tensor('float32', new Float32Array(m.lora.size), [m.lora.size]);
    const actions = await sampler.sample(this.expertCall(kv, mask, base, batch), noise, batch);
    return { actions };
  }

  /** One expert evaluation as the samplers call it; records each step's time in `stepMs`. */
  private expertCall(kv: ort.Tensor, mask: ort.Tensor, lora: ort.Tensor, batch: number, stepMs?: number[]): ExpertCall {
    const { chunk_length: H, action_dim: A } = this.manifest.io;
    const wantsT = this.manifest.graphs.expert.inputs.some((i) => i.name === 't');
    const expert = this.sessions.get('expert')!;
    return async (x, t) => {
      const s = performance.now();
      const feeds: Feeds = { x_t: new ort.Tensor('float32', x, [batch, H, A]), prefix_kv: kv, prefix_mask: mask, lora };
      if (wantsT) feeds.t = new ort.Tensor('float32', t, [batch]);
      const out = (await expert.run(feeds)).out!.data as Float32Array;
      stepMs?.push(performance.now() - s);
      return out;
    };
  }

  /** One expert_vjp evaluation (B = 1) as RTC sampling calls it. */
  private guidedCall(kv: ort.Tensor, mask: ort.Tensor, lora: ort.Tensor, stepMs: number[]): GuidedExpertCall {
    const { chunk_length: H, action_dim: A } = this.manifest.io;
    const session = this.sessions.get('expert_vjp')!;
    const shape = [1, H, A];
    return async (x, t, target, weights) => {
      const s = performance.now();
      const out = await session.run({
        x_t: new ort.Tensor('float32', x, shape), t: new ort.Tensor('float32', Float32Array.of(t), [1]),
        prefix_kv: kv, prefix_mask: mask, lora,
        target: new ort.Tensor('float32', target, shape), weights: new ort.Tensor('float32', weights, shape),
      });
      stepMs.push(performance.now() - s);
      return { velocity: out.out!.data as Float32Array, vjp: out.vjp!.data as Float32Array };
    };
  }

  async close(): Promise<void> {
    await Promise.all([...this.sessions.values()].map((s) => s.release()));
    this.sessions.clear();
  }
}

async function openGraph(dir: string, spec: GraphSpec, options: () => ort.InferenceSession.SessionOptions): Promise<ort.InferenceSession> {
  try {
    return await ort.InferenceSession.create(join(dir, spec.file), options());
  } catch (err) {
    throw new BundleError(spec.file, '(graph)', `onnxruntime cannot load it: ${(err as Error).message.split('\n')[0]}`);
  }
}

function checkRtc(rtc: RtcRequest, actionDim: number): RtcRequest {
  if (!Number.isInteger(rtc.length) || rtc.length < 1) throw new Error(`rtc.length: expected an integer >= 1, got ${rtc.length}`);
  if (rtc.actions.length < rtc.length * actionDim) throw new Error(`rtc.actions: ${rtc.actions.length} values for ${rtc.length} rows of ${actionDim}`);
  if (!allFinite(rtc.actions.subarray(0, rtc.length * actionDim))) throw new Error('rtc.actions: contains NaN or Inf');
  if (!Number.isInteger(rtc.frozenSteps) || rtc.frozenSteps < 0) throw new Error(`rtc.frozenSteps: expected an integer >= 0, got ${rtc.frozenSteps}`);
  if (rtc.maxGuidance !== undefined && !(rtc.maxGuidance > 0)) throw new Error(`rtc.maxGuidance: expected > 0, got ${rtc.maxGuidance}`);
  return rtc;
}

function toFloat32(t: ort.Tensor): Float32Array {
  if (t.data instanceof Float32Array) return t.data;
  if (t.data instanceof BigInt64Array) return Float32Array.from(t.data, Number);
  return Float32Array.from(t.data as ArrayLike<number>);
}

export { BASE_ADAPTER };
