// Closed-loop runs: a chunk policy drives the simulated robot at the control rate. In `realtime`
// mode ticks are paced by the wall clock and inference runs concurrently (the next chunk is
// requested while the current one executes; steps that elapsed during inference are skipped, as
// on hardware). In `lockstep` mode simulated time stops while the policy thinks: reproducible
// and as fast as the machine allows.
import type { ActionChunk, CameraImage, Observation } from '../core/contracts.js';
import { chunkToTrajectory } from '../robot/index.js';
import { DEFAULT_REPLAN_THRESHOLD } from '../control/loop.js';
import { deriveSeed } from './rng.js';
import { padOffset, sampleTask, swapTargetColour, type TaskInstance, type TaskName } from './tasks.js';
import { SETTLE_TICKS, type EpisodeSink } from './episode.js';
import { PAD_COLORS, PAD_HALF } from './scene.js';
import { ScriptedExpert } from './expert.js';
import { Renderer } from './render.js';
import type { SimRobot } from './robot.js';

/** Anything that turns an observation into an action chunk (the policy engine, a script). */
export interface ChunkPolicy {
  plan(obs: Observation): Promise<ActionChunk>;
  /** Called at each episode start (a scripted policy needs the episode; a model does not). */
  beginEpisode?(inst: TaskInstance): void;
  readonly name: string;
}

export interface RunOptions {
  tasks: readonly TaskName[];
  episodes: number;
  seed: number;
  mode: 'realtime' | 'lockstep';
  /** Execute this many actions of a chunk before using the next one (default 80% of H: DEFAULT_REPLAN_THRESHOLD). */
  replanEvery?: number;
  sink?: EpisodeSink;
  /** Collect scene-camera frames for a video (every `videoEvery` ticks, `videoSize` px). */
  video?: { size: number; every: number; maxFrames: number };
  onEpisode?: (r: ClosedLoopEpisode) => void;
  /** Input probes: does the policy use what it is given? */
  probe?: InputProbe;
}

export interface InputProbe {
  /** Name another object of the target's kind in the instruction (same layout); success is
   *  judged on the newly named object, and the original object's outcome is reported too. */
  swapInstruction?: boolean;
  /** Every camera image the policy sees is black. */
  blankCameras?: boolean;
}

export interface ClosedLoopEpisode {
  task: TaskName;
  seed: number;
  instruction: string;
  success: boolean;
  steps: number;
  /** With `swapInstruction`: whether the originally named object's goal was met instead. */
  originalSuccess?: boolean;
  /** Closest the grasp point came to the named object's centre (m): a graded view of a failure. */
  closestApproachM: number;
  /** Pick/place: the most the named object rose while the gripper held it (m): 0 = never grasped. */
  heldLiftM?: number;
  /** Place: where the named object ended relative to the named pad and the other pad, and whether
   *  the fingers still held it: tells a wrong pad from a missed release. */
  placeEnd?: PlaceEnd;
}

/** Offsets are `padOffset`s (m): under PAD_HALF means inside that pad's square. */
export interface PlaceEnd {
  goalOffsetM: number;
  otherPadOffsetM: number;
  held: boolean;
}

/** Why place episodes failed, counted over the failures only. */
export interface PlaceFailures {
  /** The cube never rose HELD_LIFT_M in the fingers. */
  not_grasped: number;
  /** Grasped, and still in the fingers when the episode ran out. */
  still_held: number;
  /** Released within the other pad's square. */
  on_other_pad: number;
  /** Out of the fingers anywhere else: short of the pad, dropped on the way, pushed off (or, rarely,
   *  on the named pad with the fingers let go but not opened as wide as success asks). */
  off_pad: number;
}

export function classifyPlaceFailure(heldLiftM: number, end: PlaceEnd): keyof PlaceFailures {
  if (heldLiftM < HELD_LIFT_M) return 'not_grasped';
  if (end.held) return 'still_held';
  return end.otherPadOffsetM < PAD_HALF ? 'on_other_pad' : 'off_pad';
}

export interface TaskReport {
  success_rate: number;
  /** With `swapInstruction`: how often the policy achieved the *original* instruction. */
  original_target_rate?: number;
  episodes: number;
  successes: number;
  mean_episode_steps: number;
  mean_episode_seconds: number;
  /** Median over episodes of the closest approach to the named object (m). */
  median_closest_approach_m: number;
  /** Pick/place: share of episodes whose object was lifted >= HELD_LIFT_M in the gripper (grasp worked). */
  grasped_rate?: number;
  /** Place: the failed episodes by what went wrong. */
  place_failures?: PlaceFailures;
}

/** A rise this large (m) in the gripper's hold means the grasp worked (failures after it are elsewhere). */
export const HELD_LIFT_M = 0.03;

export interface RunReport {
  tasks: Record<string, TaskReport>;
  /** Control ticks per wall-clock second over the whole run. */
  control_hz: number;
  target_control_hz: number;
  obs_to_chunk_ms: { p50: number; p99: number; mean: number; count: number };
  /** Ticks where the robot had no fresh action left and held the last target. */
  starved_ticks: number;
  mode: 'realtime' | 'lockstep';
  wall_s: number;
  frames: CameraImage[];
}

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i]!;
}

const distance = (a: readonly number[], b: readonly number[]): number => Math.hypot(a[0]! - b[0]!, a[1]! - b[1]!, a[2]! - b[2]!);

const PAD_BODIES = Object.keys(PAD_COLORS).map((c) => `pad_${c}`);

function placeEndOf(robot: SimRobot, target: string, goal: string): PlaceEnd {
  const others = PAD_BODIES.filter((p) => p !== goal).map((pad) => padOffset(robot.world, target, pad));
  return { goalOffsetM: padOffset(robot.world, target, goal), otherPadOffsetM: Math.min(Infinity, ...others), held: robot.world.gripperTouches(target) };
}

/** The observation with every camera image black (same sizes, fresh buffers). */
function blanked(obs: Observation): Observation {
  const images: Record<string, CameraImage> = {};
  for (const [name, img] of Object.entries(obs.images)) images[name] = { ...img, data: new Uint8Array(img.data.length) };
  return { ...obs, images };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export async function runClosedLoop(robot: SimRobot, policy: ChunkPolicy, opts: RunOptions): Promise<RunReport> {
  const latencies: number[] = [];
  const frames: CameraImage[] = [];
  const videoRenderer = opts.video ? new Renderer(robot.world.mj, robot.world.model, { width: opts.video.size, height: opts.video.size }) : undefined;
  const tasks: Record<string, TaskReport> = {};
  const dt = robot.spec.controlDt;
  let totalTicks = 0;
  let starved = 0;
  const wall0 = performance.now();

  for (const [ti, task] of opts.tasks.entries()) {
    let successes = 0, stepSum = 0, originalHits = 0, grasped = 0;
    const placeFailures: PlaceFailures = { not_grasped: 0, still_held: 0, on_other_pad: 0, off_pad: 0 };
    const grasps = task !== 'touch';
    const approaches: number[] = [];
    for (let ep = 0; ep < opts.episodes; ep++) {
      const sampled = sampleTask(task, deriveSeed(opts.seed, ti, ep));
      const inst = opts.probe?.swapInstruction ? swapTargetColour(sampled) : sampled;
      let originalSuccess = false;
      let closest = Infinity;
      let heldLift = 0;
      robot.reset(inst);
      const startZ = robot.world.bodyPos(inst.target)[2];
      policy.beginEpisode?.(inst);
      await opts.sink?.beginEpisode({ task, instruction: inst.instruction, seed: inst.seed, mode: 'policy', source: policy.name });
      let settle = -1;
      let steps = 0;
      let pending: Promise<void> | undefined;
      let ready: ActionChunk | undefined;
      let failure: unknown;
      let ahead = 0; // actions left in the current trajectory
      let horizon = 0;
      let executing: ActionChunk | undefined;
      const request = (obs: Observation): Promise<ActionChunk> => {
        const t0 = performance.now();
        return policy.plan(opts.probe?.blankCameras ? blanked(obs) : obs).then((chunk) => { latencies.push(performance.now() - t0); return chunk; });
      };
      const apply = (chunk: ActionChunk): void => {
        const traj = chunkToTrajectory(chunk, robot.nowNs());
        chunk.inferenceDelaySteps = chunk.horizon - traj.points;
        robot.command(traj);
        horizon = chunk.horizon;
        ahead = traj.points;
        executing = chunk;
      };
      // First chunk of an episode: the robot waits for it, as a real one would at start.
      apply(await request(robot.observe()));
      // Executes the same share of each chunk as the control loop (see DEFAULT_REPLAN_THRESHOLD).
      const replanEvery = Math.max(1, Math.min(horizon, opts.replanEvery ?? Math.round(horizon * (1 - DEFAULT_REPLAN_THRESHOLD))));
      let nextTickAt = performance.now();
      while (steps < inst.maxSteps && settle !== 0) {
        const needObs = opts.sink !== undefined || (pending === undefined && horizon - ahead >= replanEvery);
        const obs = needObs ? robot.observe() : undefined;
        if (pending === undefined && horizon - ahead >= replanEvery) {
          pending = request(obs!).then((c) => { ready = c; }, (err: unknown) => { failure = err; });
          if (opts.mode === 'lockstep') await pending;
        }
        if (failure !== undefined) throw failure;
        if (ready) { apply(ready); ready = undefined; pending = undefined; } // never blocks the tick
        if (ahead <= 0) starved++;
        const wasSuccess = robot.succeeded;
        robot.advance();
        ahead--;
        steps++;
        totalTicks++;
        // Lockstep runs faster than real time: wait for the recorder rather than drop steps.
        if (obs && opts.mode === 'lockstep' && opts.sink?.whenWritable) await opts.sink.whenWritable();
        if (obs && opts.sink) opts.sink.addStep({
          observation: obs, action: Float32Array.from(robot.world.currentTarget()), reward: !wasSuccess && robot.succeeded ? 1 : 0,
          provenance: executing ? { mode: 'policy', chunk: executing } : { mode: 'policy' },
        });
        if (videoRenderer && opts.video && steps % opts.video.every === 0 && frames.length < opts.video.maxFrames) {
          frames.push(robot.renderCamera(videoRenderer, 'scene'));
        }
        if (inst !== sampled && !originalSuccess) originalSuccess = robot.world.successOf(sampled);
        const targetPos = robot.world.bodyPos(inst.target);
        closest = Math.min(closest, distance(robot.world.graspPoint(), targetPos));
        if (grasps && robot.world.gripperTouches(inst.target)) heldLift = Math.max(heldLift, targetPos[2] - startZ);
        if (robot.succeeded) settle = settle < 0 ? SETTLE_TICKS[task] : settle - 1;
        if (opts.mode === 'realtime') {
          nextTickAt += dt * 1000;
          const wait = nextTickAt - performance.now();
          if (wait > 0) await sleep(wait);
          else if (wait < -50 * dt * 1000) nextTickAt = performance.now(); // fell far behind: do not burst
        }
      }
      if (pending) await pending;
      const success = robot.succeeded;
      await opts.sink?.endEpisode({ success, truncated: !success });
      if (success) successes++;
      if (originalSuccess) originalHits++;
      stepSum += steps;
      approaches.push(closest);
      if (heldLift >= HELD_LIFT_M) grasped++;
      const placeEnd = inst.goal ? placeEndOf(robot, inst.target, inst.goal) : undefined;
      if (placeEnd && !success) placeFailures[classifyPlaceFailure(heldLift, placeEnd)]++;
      opts.onEpisode?.({ task, seed: inst.seed, instruction: inst.instruction, success, steps, closestApproachM: closest,
        ...(grasps ? { heldLiftM: heldLift } : {}), ...(placeEnd ? { placeEnd } : {}), ...(inst !== sampled ? { originalSuccess } : {}) });
    }
    const n = opts.episodes;
    tasks[task] = {
      success_rate: n ? successes / n : 0, episodes: n, successes, mean_episode_steps: n ? stepSum / n : 0, mean_episode_seconds: n ? (stepSum / n) * dt : 0,
      median_closest_approach_m: percentile([...approaches].sort((a, b) => a - b), 50),
      ...(grasps ? { grasped_rate: n ? grasped / n : 0 } : {}),
      ...(task === 'place' ? { place_failures: placeFailures } : {}),
      ...(opts.probe?.swapInstruction ? { original_target_rate: n ? originalHits / n : 0 } : {}),
    };
  }
  const wallS = (performance.now() - wall0) / 1000;
  const sorted = [...latencies].sort((a, b) => a - b);
  return {
    tasks,
    control_hz: totalTicks / wallS,
    target_control_hz: 1 / dt,
    obs_to_chunk_ms: { p50: percentile(sorted, 50), p99: percentile(sorted, 99), mean: sorted.reduce((s, v) => s + v, 0) / Math.max(1, sorted.length), count: sorted.length },
    starved_ticks: starved,
    mode: opts.mode,
    wall_s: wallS,
    frames,
  };
}

/**
 * The scripted operator as a chunk policy (privileged: it reads the simulation, not the
 * observation). Used to test the closed loop and as a reference upper bound.
 */
export class ExpertChunkPolicy implements ChunkPolicy {
  readonly name = 'scripted-expert';
  private expert: ScriptedExpert | undefined;
  private readonly actions = new Map<number, Float32Array>();
  private nextTick = 0;

  constructor(private readonly robot: SimRobot, private readonly horizon = 50, private readonly seed = 0) {}

  beginEpisode(inst: TaskInstance): void {
    this.expert = new ScriptedExpert(this.robot.world, inst, deriveSeed(this.seed, inst.seed));
    this.actions.clear();
    this.nextTick = 0;
  }

  async plan(obs: Observation): Promise<ActionChunk> {
    if (!this.expert) throw new Error('ExpertChunkPolicy: beginEpisode() first');
    const dt = this.robot.spec.controlDt;
    const tick = Math.round(Number(obs.stampNs) / (dt * 1e9));
    // The expert is stateful per tick; compute each tick's command once, in order.
    while (this.nextTick < tick + this.horizon) this.actions.set(this.nextTick++, Float32Array.from(this.expert.act()));
    const out = new Float32Array(this.horizon * 7);
    for (let k = 0; k < this.horizon; k++) out.set(this.actions.get(tick + k)!, k * 7);
    return { t0Ns: obs.stampNs, dt, horizon: this.horizon, actionDim: 7, actions: out, modelVersion: 'scripted-expert', adapterVersion: '', noiseSeed: 0, inferenceDelaySteps: 0 };
  }
}
