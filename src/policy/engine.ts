// PolicyEngine: the main thread's handle on a policy worker. It packs an Observation into one
// transferable buffer, posts it, and resolves with an ActionChunk; the main event loop stays free
// while the worker runs the prefix and the N expert steps.
import { resolve } from 'node:path';
import type { Manifest } from '../bundle/index.js';
import type { ActionChunk, Observation } from '../core/index.js';
import { rootLogger } from '../core/index.js';
import { loadProfile, type HwProfile, type ProviderChoice } from '../hw/index.js';
import { startPolicyWorker, type PolicyWorker } from './client.js';
import type { Request, ResultOf } from './protocol.js';
import type { RtcRequest, SelfTestReport, StageTimings } from './runner.js';

export interface EngineOptions {
  /** hw-profile name or path, or a parsed profile. Default: cpu. */
  profile?: string | HwProfile;
  /** Run seed; chunk noise seeds derive from it. Default 0. */
  seed?: number;
  /** Initial-noise standard deviation (sampling temperature); default the bundle's expert.sampler.noise_scale, else 1. */
  noiseScale?: number;
  selfTest?: 'serving' | 'all' | 'none';
  warmUpRuns?: number;
  log?: (line: string) => void;
}

export interface InferOptions {
  noiseSeed?: number;
  candidates?: number;
  /** Real-time chunking guidance (used when the bundle has an expert_vjp graph). */
  rtc?: RtcRequest;
}

export interface InferResult {
  chunk: ActionChunk;
  timings: StageTimings;
  rtcGuided: boolean;
  energies?: number[];
  chosen?: number;
}

export class PolicyEngine {
  private constructor(
    private readonly client: PolicyWorker,
    readonly manifest: Manifest,
    readonly provider: ProviderChoice,
    readonly steps: number,
    readonly samplerKind: string,
    /** The bundle directory it was opened from (the trainer reads the same bundle's training graphs). */
    readonly dir: string,
  ) {}

  get modelVersion(): string { return `${this.manifest.name}@${this.manifest.version}`; }

  static async open(dir: string, opts: EngineOptions = {}): Promise<PolicyEngine> {
    const profile = typeof opts.profile === 'object' ? opts.profile : await loadProfile(opts.profile ?? 'cpu');
    const logger = rootLogger().child({ part: 'policy' });
    const log = opts.log ?? ((line: string) => logger.info(line));
    const client = startPolicyWorker(log);
    try {
      const opened = await client.call<'open'>({
        op: 'open',
        params: { dir, profile, seed: opts.seed ?? 0, selfTest: opts.selfTest ?? 'serving', warmUpRuns: opts.warmUpRuns ?? 3, ...(opts.noiseScale !== undefined ? { noiseScale: opts.noiseScale } : {}) },
      });
      return new PolicyEngine(client, opened.manifest, opened.provider, opened.steps, opened.samplerKind, resolve(dir));
    } catch (err) {
      await client.terminate();
      throw err;
    }
  }

  private call<K extends Request['op']>(req: Omit<Extract<Request, { op: K }>, 'id'>, transfer: ArrayBuffer[] = []): Promise<ResultOf[K]> {
    return this.client.call<K>(req, transfer);
  }

  /** Plans one chunk from an observation. Throws on observations that do not fit the bundle. */
  async infer(obs: Observation, opts: InferOptions = {}): Promise<InferResult> {
    const io = this.manifest.io;
    const images = this.packImages(obs);
    if (obs.state.length !== io.state_dim) throw new Error(`observation state has ${obs.state.length} values, bundle ${this.manifest.name} expects ${io.state_dim}`);
    const state = Float32Array.from(obs.state);
    const transfer = [images.buffer as ArrayBuffer, state.buffer as ArrayBuffer];
    const request = { images, state, instruction: obs.instruction, ...opts };
    if (opts.rtc) {
      request.rtc = { ...opts.rtc, actions: Float32Array.from(opts.rtc.actions) };
      transfer.push(request.rtc.actions.buffer as ArrayBuffer);
    }
    const r = await this.call<'plan'>({ op: 'plan', request }, transfer);
    const chunk: ActionChunk = {
      t0Ns: obs.stampNs,
      dt: io.control_dt,
      horizon: io.chunk_length,
      actionDim: io.action_dim,
      actions: r.actions,
      modelVersion: this.modelVersion,
      adapterVersion: r.adapterVersion,
      noiseSeed: r.noiseSeed,
      inferenceDelaySteps: 0,
    };
    const out: InferResult = { chunk, timings: r.timings, rtcGuided: r.rtcGuided };
    if (r.energies) { out.energies = r.energies; out.chosen = r.chosen!; }
    return out;
  }

  /** Copies the cameras into one buffer in manifest order (the buffer is transferred away). */
  private packImages(obs: Observation): Uint8Array {
    const cams = this.manifest.io.cameras;
    let total = 0;
    for (const c of cams) total += c.height * c.width * 3;
    const packed = new Uint8Array(total);
    let off = 0;
    for (const c of cams) {
      const img = obs.images[c.name];
      if (!img) throw new Error(`observation has no image for camera '${c.name}' (bundle cameras: ${cams.map((x) => x.name).join(', ')})`);
      if (img.width !== c.width || img.height !== c.height || img.data.length !== c.height * c.width * 3) {
        throw new Error(`camera '${c.name}': image is ${img.width}x${img.height} (${img.data.length} bytes), bundle expects ${c.width}x${c.height}x3`);
      }
      packed.set(img.data, off);
      off += img.data.length;
    }
    return packed;
  }

  selfTest(scope: 'serving' | 'all' = 'all'): Promise<SelfTestReport> { return this.call<'selfTest'>({ op: 'selfTest', scope }); }

  /** Loads an adapter into a slot; the vector is copied, the caller keeps its own. */
  loadAdapter(slot: string, vector: Float32Array, version: string): Promise<null> {
    const copy = Float32Array.from(vector);
    return this.call<'loadAdapter'>({ op: 'loadAdapter', slot, vector: copy, version }, [copy.buffer as ArrayBuffer]);
  }

  /** Takes effect from the next chunk: requests are served in order. */
  activateAdapter(slot: string): Promise<null> { return this.call<'activateAdapter'>({ op: 'activateAdapter', slot }); }
  removeAdapter(slot: string): Promise<null> { return this.call<'removeAdapter'>({ op: 'removeAdapter', slot }); }

  async close(): Promise<void> {
    if (this.client.alive) {
      try { await this.call<'close'>({ op: 'close' }); } catch { /* the worker is going away regardless */ }
    }
    await this.client.terminate();
  }
}
