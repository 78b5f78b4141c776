// Episodes: begin with an instruction, end as success / failure / truncated. Every control tick
// of an open episode is recorded as executed: the observation the loop had, the command it sent,
// and who commanded it (policy with the chunk's model, adapter, noise seed and delay d; teleop;
// intervention; hold; perturbation). With the simulated robot an episode names a task scene and
// ends itself: on success (from the physics) after a few settling ticks, at the task's time
// limit, or when the scripted operator's script has ended.
import type { Logger } from '../core/index.js';
import type { TickRecord } from '../control/index.js';
import type { Recorder } from '../rlds/index.js';
import type { SceneInfo, SceneReport } from '../sim/index.js';

export type EpisodeEndReason = 'success' | 'time_limit' | 'operator_done' | 'stopped' | 'shutdown';

export interface EpisodeOutcome {
  id: string;
  instruction: string;
  success: boolean;
  truncated: boolean;
  reason: EpisodeEndReason;
  /** Control ticks the episode ran (every one recorded when a recorder is open). */
  steps: number;
  /** Steps by who commanded them. */
  sources: Record<string, number>;
  recorded?: { episodeId: string; steps: number; droppedSteps: number; bytes: number };
  /** The simulated scene's privileged report (sim only). */
  scene?: SceneReport;
}

/** The scene facts the manager needs from a simulated robot while an episode runs. */
export interface SceneProbe {
  readonly succeeded: boolean;
  readonly operatorActive: boolean;
  report(): Promise<SceneReport>;
}

interface OpenEpisode {
  id: string;
  instruction: string;
  scene: SceneInfo | undefined;
  steps: number;
  sources: Record<string, number>;
  successSeen: boolean;
  settleLeft: number;
  /** The scripted operator ran this episode: its end ends the episode. */
  operatorRan: boolean;
}

let serial = 0;

export class EpisodeManager {
  private open: OpenEpisode | undefined;
  private ending: Promise<EpisodeOutcome> | undefined;
  private readonly waiters: ((o: EpisodeOutcome) => void)[] = [];
  last: EpisodeOutcome | undefined;
  readonly listeners = new Set<(o: EpisodeOutcome) => void>();
  private readonly images: Record<string, Uint8Array> = {};
  private readonly step = {
    images: this.images, state: new Float32Array(0) as Float32Array, action: new Float32Array(0), mode: 'hold' as TickRecord['source'], reward: 0, stampNs: 0n,
    modelVersion: undefined as string | undefined, adapterVersion: undefined as string | undefined, noiseSeed: undefined as number | undefined, inferenceDelaySteps: undefined as number | undefined,
  };

  constructor(private readonly o: { periodS: number; recorder: Recorder | undefined; scene: SceneProbe | undefined; robot: string; hwProfile: string; actionDim: number; log: Logger }) {
    this.step.action = new Float32Array(o.actionDim);
  }

  get current(): { id: string; instruction: string; steps: number; task?: string; seed?: number } | undefined {
    const e = this.open;
    return e && { id: e.id, instruction: e.instruction, steps: e.steps, ...(e.scene ? { task: e.scene.task, seed: e.scene.seed } : {}) };
  }

  get isOpen(): boolean { return this.open !== undefined; }

  begin(instruction: string, scene?: SceneInfo): string {
    if (this.open || this.ending) throw new Error(`an episode is already running (${this.open?.id ?? 'ending'}); stop it first`);
    if (!instruction.trim()) throw new Error('an episode needs a non-empty instruction');
    const id = this.o.recorder
      ? this.o.recorder.beginEpisode({ instruction, robot: this.o.robot, hwProfile: this.o.hwProfile })
      : `ep-${process.pid}-${++serial}`;
    this.open = { id, instruction, scene, steps: 0, sources: {}, successSeen: false, settleLeft: -1, operatorRan: false };
    this.o.log.info({ episode: id, ...(scene ? { task: scene.task, seed: scene.seed } : {}) }, `episode started: "${instruction}"`);
    return id;
  }

  /** The scripted operator drives this episode: its script's end ends the episode. */
  markOperatorRan(): void { if (this.open) this.open.operatorRan = true; }

  /** The loop's tap: records the executed step and ends a simulated episode when its scene says so. */
  readonly tap = (r: TickRecord): void => {
    const e = this.open;
    if (!e || !r.observation) return;
    e.steps++;
    e.sources[r.source] = (e.sources[r.source] ?? 0) + 1;
    const probe = this.o.scene;
    let reward = 0;
    if (e.scene && probe && !e.successSeen && probe.succeeded) {
      e.successSeen = true;
      reward = 1;
      e.settleLeft = Math.max(1, Math.round(e.scene.settleSeconds / this.o.periodS));
    }
    if (this.o.recorder) this.record(r, reward);
    if (!e.scene || !probe) return;
    if (e.successSeen && --e.settleLeft <= 0) void this.end({ success: true, truncated: false, reason: 'success' });
    else if (e.steps >= Math.round(e.scene.maxSeconds / this.o.periodS)) void this.end({ success: probe.succeeded, truncated: !probe.succeeded, reason: 'time_limit' });
    else if (e.operatorRan && !probe.operatorActive) void this.end({ success: probe.succeeded, truncated: false, reason: 'operator_done' });
  };

  private record(r: TickRecord, reward: number): void {
    const obs = r.observation!;
    const s = this.step;
    for (const [name, img] of Object.entries(obs.images)) this.images[name] = img.data;
    s.state = obs.state;
    const p = r.command.positions;
    for (let j = 0; j < s.action.length; j++) s.action[j] = p[j]!;
    s.mode = r.source;
    s.reward = reward;
    s.stampNs = r.scheduledNs;
    const c = r.chunk;
    s.modelVersion = c?.modelVersion;
    s.adapterVersion = c?.adapterVersion;
    s.noiseSeed = c?.noiseSeed;
    s.inferenceDelaySteps = c?.inferenceDelaySteps;
    this.o.recorder!.addStep(s);
  }

  /** Ends the open episode; resolves once it is durable (fsynced in a shard) when recording. */
  end(result: { success: boolean; truncated: boolean; reason: EpisodeEndReason }): Promise<EpisodeOutcome> {
    const e = this.open;
    if (!e) {
      if (this.ending) return this.ending;
      return Promise.reject(new Error('no episode is running'));
    }
    this.open = undefined;
    this.ending = (async () => {
      const scene = e.scene && this.o.scene ? await this.o.scene.report() : undefined;
      let recorded: EpisodeOutcome['recorded'];
      if (this.o.recorder) {
        const r = await this.o.recorder.endEpisode({ success: result.success, truncated: result.truncated });
        recorded = { episodeId: r.episodeId, steps: r.steps, droppedSteps: r.droppedSteps, bytes: r.bytes };
      }
      const outcome: EpisodeOutcome = { id: e.id, instruction: e.instruction, ...result, steps: e.steps, sources: e.sources, ...(recorded ? { recorded } : {}), ...(scene ? { scene } : {}) };
      this.last = outcome;
      // the supervising operator's takeovers and the world's variation (sim): why the operator stepped in, and where
      const sim = scene ? { ...(scene.takeovers.length ? { takeovers: scene.takeovers } : {}), ...(scene.variation ? { variation: scene.variation } : {}) } : {};
      this.o.log.info({ episode: e.id, success: outcome.success, truncated: outcome.truncated, reason: outcome.reason, steps: outcome.steps, sources: outcome.sources, ...sim }, 'episode ended');
      for (const l of this.listeners) l(outcome);
      for (const w of this.waiters.splice(0)) w(outcome);
      return outcome;
    })().finally(() => { this.ending = undefined; });
    return this.ending;
  }

  /** Resolves with the outcome of the episode running now (or ending now). */
  whenEnded(): Promise<EpisodeOutcome> {
    if (this.ending) return this.ending;
    if (!this.open) return Promise.reject(new Error('no episode is running'));
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** The end in progress, if any (lockstep runs wait for it between ticks). */
  get pendingEnd(): Promise<EpisodeOutcome> | undefined { return this.ending; }
}
