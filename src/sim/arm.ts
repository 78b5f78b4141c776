// The simulated arm and its world, as one object both sim drivers host: MuJoCo physics, the two
// cameras, the arm's controllers (a forward position command, or a JointTrajectoryController that
// samples trajectories every physics tick), a task scene with latched success, privileged episode
// facts for the report (never shown to the policy), and the scripted operator. SimRobot hosts it on
// the caller's thread (lockstep); the sim worker hosts it in its own thread (lockstep or realtime).
import type { CameraImage } from '../core/index.js';
import { Renderer } from './render.js';
import { SimWorld } from './world.js';
import { ScriptedExpert, type ExpertOptions } from './expert.js';
import { padOffset, sampleTask, swapTargetColour, MAX_STEPS, type TaskInstance, type TaskName } from './tasks.js';
import { JtcSampler, type TrajectoryBuffer } from './jtc.js';
import { PAD_COLORS, PAD_HALF, STATE_NAMES } from './scene.js';
import { deriveSeed } from './rng.js';
import { Supervisor, type Takeover } from './supervisor.js';
import { NO_VARIATION, formatVariation, type Variation } from './variation.js';

export const DIM = STATE_NAMES.length;

/** Control ticks (at the 50 Hz the tasks were made for) recorded after success, so demonstrations end settled. */
export const SETTLE_TICKS: Record<TaskName, number> = { pick: 15, place: 10, touch: 5 };
/** The period the task step limits and settle ticks are counted in. */
export const TASK_DT_S = 0.02;

export interface SceneOptions {
  task: TaskName;
  /** Layout and instruction seed. */
  seed: number;
  /** The scripted operator's seed (default derived from `seed`). */
  operatorSeed?: number;
  /** Recovery-data options of the scripted operator (deliberate errors). */
  operator?: ExpertOptions;
  /** Input probe: the instruction names another object of the target's kind (success is judged on it). */
  swapInstruction?: boolean;
}

export interface SceneInfo {
  task: TaskName;
  seed: number;
  instruction: string;
  /** The task's time limit and the time recorded after success, s. */
  maxSeconds: number;
  settleSeconds: number;
}

/** Where a place episode's cube ended. Offsets are `padOffset`s (m): under PAD_HALF means inside that pad. */
export interface PlaceEnd { goalOffsetM: number; otherPadOffsetM: number; held: boolean }

/** Privileged facts of one episode, from the physics (for reports; the policy never sees them). */
export interface SceneReport {
  task: TaskName;
  seed: number;
  instruction: string;
  success: boolean;
  /** Closest the grasp point came to the named object's centre (m). */
  closestApproachM: number;
  /** Pick/place: the most the named object rose while the gripper held it (m); 0 = never grasped. */
  heldLiftM?: number;
  placeEnd?: PlaceEnd;
  /** With swapInstruction: whether the originally named object's goal was met instead. */
  originalSuccess?: boolean;
  /** The scripted operator's repeated attempts, and whether its script has ended. */
  operatorRetries: number;
  operatorDone: boolean;
  /** Supervising (intervention): every takeover this episode, with its reason. */
  takeovers: Takeover[];
  /** The world variation ('' = the original world). */
  variation: string;
}

/** How the scripted operator runs: it drives the whole episode (teleop), or supervises the policy and takes over when needed (intervention). */
export type OperatorRole = 'drive' | 'supervise';

/** One operator command: absolute joint targets, and whether it is a deliberate error. */
export interface OperatorCommand { positions: Float64Array; perturbation: boolean }

const PAD_BODIES = Object.keys(PAD_COLORS).map((c) => `pad_${c}`);

export interface SimArmOptions {
  physicsDt: number;
  imageSize: number;
  cameras: readonly string[];
  /** The world's variation (default: the original world). */
  variation?: Variation;
}

export class SimArm {
  readonly jtc: JtcSampler;
  private readonly renderer: Renderer;
  private readonly cameraIds: number[];
  private readonly target = new Float64Array(DIM);
  private instance: TaskInstance | undefined;
  private original: TaskInstance | undefined;
  private succeeded = false;
  private originalSuccess = false;
  private closest = Infinity;
  private heldLift = 0;
  private startZ = 0;
  private operatorScript: ScriptedExpert | undefined;
  private supervisor: Supervisor | undefined;
  /** This episode's takeovers (kept when the supervisor is switched off before the episode ends). */
  private takeovers: Takeover[] = [];
  private operatorSeed = 0;
  private operatorOptions: ExpertOptions = {};
  /** The privileged planner's per-tick commands (it reads ahead of the physics). */
  private planned = new Map<number, Float32Array>();
  private plannedNext = 0;
  private planner: ScriptedExpert | undefined;
  private clockTicks = 0;
  private episodeStartTick = 0;
  private readonly dtNs: number;

  private constructor(readonly world: SimWorld, readonly opts: SimArmOptions, trajectoryPoints: number) {
    this.renderer = this.newRenderer(opts.imageSize);
    this.cameraIds = opts.cameras.map((n) => this.renderer.cameraId(n));
    this.jtc = new JtcSampler(DIM, trajectoryPoints);
    this.dtNs = Math.round(world.controlDt * 1e9);
  }

  static async create(opts: SimArmOptions, trajectoryPoints = 1024): Promise<SimArm> {
    return new SimArm(await SimWorld.create(opts.physicsDt, opts.variation ?? NO_VARIATION), opts, trajectoryPoints);
  }

  get physicsDt(): number { return this.world.controlDt; }
  get steps(): number { return this.world.stepCount; }
  /**
   * Simulated time, ns: physics ticks since the arm was created, across scene resets (a robot's
   * clock never restarts with an episode). Lockstep stamps and trajectories use it.
   */
  get clockNs(): number { return this.clockTicks * this.dtNs; }
  get success(): boolean { return this.succeeded; }

  /** Lays out the task's seeded scene, the arm at home; commands and trajectories from before are void. */
  reset(o: SceneOptions): SceneInfo {
    const sampled = sampleTask(o.task, o.seed, this.world.variation);
    const inst = o.swapInstruction ? swapTargetColour(sampled) : sampled;
    this.world.reset(inst);
    this.instance = inst;
    this.original = inst === sampled ? undefined : sampled;
    this.succeeded = false;
    this.originalSuccess = false;
    this.closest = Infinity;
    this.heldLift = 0;
    this.startZ = this.world.bodyPos(inst.target)[2];
    this.jtc.reset(this.world.copyTarget(this.target));
    this.operatorSeed = o.operatorSeed ?? deriveSeed(o.seed, 1);
    this.operatorOptions = o.operator ?? {};
    this.operatorScript = undefined;
    this.supervisor = undefined;
    this.takeovers = [];
    this.planner = new ScriptedExpert(this.world, inst, this.operatorSeed);
    this.planned = new Map();
    this.plannedNext = 0;
    this.episodeStartTick = this.clockTicks;
    return { task: inst.task, seed: inst.seed, instruction: inst.instruction, maxSeconds: MAX_STEPS[inst.task] * TASK_DT_S, settleSeconds: SETTLE_TICKS[inst.task] * TASK_DT_S };
  }

  private scene(): TaskInstance {
    if (!this.instance) throw new Error('sim: no scene yet (start an episode first)');
    return this.instance;
  }

  /** Forward controller: the position target from now on (non-finite entries hold the previous one). */
  applyCommand(positions: ArrayLike<number>): void {
    this.world.setTarget(positions);
    this.jtc.reset(this.world.copyTarget(this.target)); // a forward command ends trajectory mode
  }

  /** One physics tick at `stampNs` (the clock the JTC samples against). */
  step(stampNs: number): void {
    if (this.jtc.sample(stampNs)) this.world.setTarget(this.jtc.reference);
    this.world.step();
    this.clockTicks++;
    const inst = this.scene();
    if (!this.succeeded && this.world.success()) this.succeeded = true;
    if (this.original && !this.originalSuccess) this.originalSuccess = this.world.successOf(this.original);
    const grasp = this.world.graspPoint();
    const p = this.world.bodyPos(inst.target);
    this.closest = Math.min(this.closest, Math.hypot(grasp[0] - p[0], grasp[1] - p[1], grasp[2] - p[2]));
    if (inst.task !== 'touch' && this.world.gripperTouches(inst.target)) this.heldLift = Math.max(this.heldLift, p[2] - this.startZ);
  }

  jointState(out: Float32Array | Float64Array): void {
    const q = this.world.jointState();
    for (let i = 0; i < DIM; i++) out[i] = q[i]!;
  }

  reference(out: Float64Array): Float64Array { return this.world.copyTarget(out); }

  /** Renders every camera into `out` (one buffer per camera, imageSize^2 * 3 bytes each). */
  render(out: readonly Uint8Array[]): void {
    for (let c = 0; c < this.cameraIds.length; c++) this.renderer.render(this.world.data, this.cameraIds[c]!, out[c]);
  }

  /** One camera at another size (videos). */
  renderView(name: string, renderer: Renderer): CameraImage { return renderer.render(this.world.data, renderer.cameraId(name)); }

  newRenderer(size: number): Renderer { return new Renderer(this.world.mj, this.world.model, { width: size, height: size, lightGain: this.world.variation['light.gain'] }); }

  // --- the scripted operator, a teleop device with privileged sight ---

  /**
   * Starts the scripted operator from where the arm's target is now (at an episode's start for
   * collection, or mid-episode when it takes over from the policy).
   */
  startOperator(role: OperatorRole = 'drive'): void {
    const inst = this.scene();
    if (role === 'supervise') {
      // it watches from here on; its script starts only when it takes over
      this.operatorScript = undefined;
      this.supervisor = new Supervisor(this.world, inst, this.world.controlDt, MAX_STEPS[inst.task] * TASK_DT_S);
      return;
    }
    this.supervisor = undefined;
    this.takeOver();
  }

  /** The script from where the arm is (at an episode's start for collection, or mid-episode). */
  private takeOver(): void {
    const fromStart = this.world.stepCount === 0;
    this.operatorScript = new ScriptedExpert(this.world, this.scene(), fromStart ? this.operatorSeed : deriveSeed(this.operatorSeed, this.world.stepCount), fromStart ? this.operatorOptions : {});
  }

  stopOperator(): void { this.operatorScript = undefined; this.supervisor = undefined; }

  /** The operator commands now (driving, or supervising and taken over). */
  get operatorActive(): boolean { return this.operatorScript !== undefined && !this.operatorScript.done; }

  /** The operator's command for this physics tick (undefined when it is off, done, or only watching). */
  operatorAct(): OperatorCommand | undefined {
    if (this.supervisor) this.supervise(this.supervisor);
    const s = this.operatorScript;
    if (!s || s.done) return undefined;
    const positions = s.act();
    return { positions, perturbation: s.perturbing };
  }

  /** Supervising: a finished takeover hands back; otherwise watch, and take over when the supervisor says so. */
  private supervise(sup: Supervisor): void {
    if (this.operatorScript) {
      if (!this.operatorScript.done) return;
      this.operatorScript = undefined;
      sup.released();
    }
    const takeover = sup.watch(this.succeeded);
    if (!takeover) return;
    this.takeovers.push(takeover);
    this.takeOver();
  }

  /** The privileged planner: `horizon` commands `stride` physics ticks apart from the lockstep time `stampNs` on. */
  expertPlan(stampNs: number, horizon: number, stride: number): Float32Array {
    if (!this.planner) throw new Error('expertPlan: start an episode first');
    const tick = Math.round(stampNs / this.dtNs) - this.episodeStartTick;
    const last = tick + (horizon - 1) * stride;
    while (this.plannedNext <= last) this.planned.set(this.plannedNext++, Float32Array.from(this.planner.act()));
    const out = new Float32Array(horizon * DIM);
    for (let k = 0; k < horizon; k++) out.set(this.planned.get(tick + k * stride)!, k * DIM);
    return out;
  }

  report(): SceneReport {
    const inst = this.scene();
    const grasps = inst.task !== 'touch';
    const r: SceneReport = {
      task: inst.task, seed: inst.seed, instruction: inst.instruction, success: this.succeeded, closestApproachM: this.closest,
      operatorRetries: this.operatorScript?.retries ?? 0, operatorDone: this.operatorScript?.done ?? false,
      takeovers: [...this.takeovers], variation: formatVariation(this.world.variation),
    };
    if (grasps) r.heldLiftM = this.heldLift;
    if (inst.goal) {
      const others = PAD_BODIES.filter((p) => p !== inst.goal).map((pad) => padOffset(this.world, inst.target, pad));
      r.placeEnd = { goalOffsetM: padOffset(this.world, inst.target, inst.goal), otherPadOffsetM: Math.min(Infinity, ...others), held: this.world.gripperTouches(inst.target) };
    }
    if (this.original) r.originalSuccess = this.originalSuccess;
    return r;
  }

  physicsState(): Float64Array { return this.world.physicsState(); }

  /** Copies a trajectory into the JTC's incoming buffer and queues it. */
  takeTrajectory(fill: (buf: TrajectoryBuffer) => boolean): boolean {
    if (!fill(this.jtc.incoming)) return false;
    this.jtc.commit();
    return true;
  }

  dispose(): void { this.world.dispose(); }
}

export { PAD_HALF };
