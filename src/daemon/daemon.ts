// The daemon: the one composition root. It builds the pipeline every closed loop runs
//   robot driver -> observation store -> policy worker -> control loop (queue, joining, hand-over,
//   safety filter, watchdog) -> robot driver, with the recorder tapping what was executed
// and owns its lifecycle (configure / activate / deactivate / cleanup / shutdown, as a ROS 2
// lifecycle node), its operating mode and its episodes. Parts start and stop by the table in
// parts.ts. Two clocks drive the same path: realtime (the Ratekeeper on the wall clock, the
// simulated arm free-running in its thread) and lockstep (virtual time, stepped by the caller:
// simulation runs, collection, benchmarks and tests).
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { ActionChunk, Logger, OperatingMode, RobotDriver } from '../core/index.js';
import { CpuWake, raiseThreadPriority, rootLogger, secondsToNs, systemClock, VirtualClock, type Clock, type Observation, type PriorityResult } from '../core/index.js';
import { ControlLoop, DelayedPlanner, ObservationStore, gatedPlanner, timedPlanner, type ChunkPlanner, type ControlLoopStats, type RatekeeperOptions, type StreamStatus, type TickAccountant } from '../control/index.js';
import { PolicyEngine } from '../policy/index.js';
import { openRecorder, recorderSpecFromBundleIO, type Recorder } from '../rlds/index.js';
import { TeleopReceiver } from '../io/zmq/index.js';
import { loadRclnodejs, type Rcl } from '../io/ros/index.js';
import { ComputeScheduler } from '../sched/index.js';
import { ControlMetrics, OtaMetrics, PeerMetrics, TrainingMetrics, createRegistry, serveMetrics, type MetricsServer } from '../metrics/index.js';
import type { PeerCounter, PeerPolicy } from '../io/wire/index.js';
import type { Gr00tServer } from '../io/zmq/index.js';
import type { OpenpiServer } from '../io/ws/index.js';
import { peerPolicy, startGr00t, startOpenpi } from './peers.js';
import { serverCurve } from './curve.js';
import { SimRobot, SimWorkerRobot, isTaskName, parseVariation, type SceneInfo, type SceneOptions, type SimDriver, type ExpertOptions, type TaskName } from '../sim/index.js';
import type { DaemonConfig } from './config.js';
import type { NodeParams } from './params.js';
import { Lifecycle, TransitionRefused, type LifecycleState, type Transition } from './lifecycle.js';
import { PARTS, partsFor, type PartContext, type PartName } from './parts.js';
import { streamTable } from './streams.js';
import { EpisodeManager, type EpisodeOutcome } from './episodes.js';
import { LoopStats } from './loop-stats.js';
import { ScriptedOperatorDevice, TeleopInput, newestOperatorInput } from './teleop-input.js';
import { PolicySlot } from './policy-slot.js';
import { OtaManager } from './ota.js';
import { LearningManager } from './learning.js';
import { readPeftAdapter, type PeftAdapter } from '../train/index.js';
import { DaemonRosNode } from './ros-node.js';

export type ClockKind = 'realtime' | 'lockstep';

export interface DaemonOptions {
  config: DaemonConfig;
  log?: Logger;
  /** Serve the ops RPC and telemetry sockets (vlad run); in-process commands leave them off. */
  serve?: boolean;
  /** Simulated robot: lockstep (virtual time, stepped by the caller) or realtime. Default: params.sim.clock. */
  clock?: ClockKind;
  /** Lockstep: virtual delay from an observation to its chunk's arrival, s (default 0: the next control step). */
  lockstepDelayS?: number;
  /** Lockstep: render camera pixels every tick (default true; the privileged expert planner needs none). */
  pixels?: boolean;
  /** Who plans: the bundle's policy (default) or, with the simulated robot, the privileged scripted expert. */
  planner?: 'policy' | 'expert';
  /** Best-of-K candidates (default: the hw-profile's). */
  candidates?: number;
  /** Rewrites every observation before the policy sees it (input probes). */
  observationTransform?: (obs: Observation) => Observation;
  /** Control rate, Hz (default: the hw-profile's). */
  rateHz?: number;
  ratekeeper?: Omit<RatekeeperOptions, 'rateHz' | 'clock' | 'log'>;
  warmUpTicks?: number;
  /** Realtime: the control thread's priority (default nice -10 and SCHED_FIFO 50 when permitted, else what is); false leaves it. */
  priority?: { nice?: number; fifo?: number } | false;
  /** A robot driver to use instead of building one from the params (a test double). */
  driver?: RobotDriver;
  /** robot 'ros': the rclnodejs module (default: loadRclnodejs(), which refuses when ROS is not sourced; tests: the double). */
  rcl?: Rcl;
  /** robot 'ros': the arguments rclnodejs.init parses for --ros-args (default process.argv). */
  rosArgv?: string[];
  /** Learn on the robot when idle (training params permitting). Default: when serving (vlad run); in-process runs (evaluation, collection, benchmarks) do not change their model. */
  learn?: boolean;
  /**
   * A PEFT adapter directory the configured bundle serves instead of the base (evaluation: vlad
   * sim --adapter). Read against the bundle's LoRA layout at configure; nothing is filed in an
   * adapter store, and learning stays off (it would replace the adapter under evaluation).
   */
  adapter?: string;
}

/** Runs around every lifecycle transition, whoever asked for it (the ROS node mirrors them). */
export interface TransitionHook {
  before?(t: Transition, from: LifecycleState): void;
  after?(t: Transition, from: LifecycleState, ok: boolean, to: LifecycleState): void;
}

export interface EpisodeRequest {
  instruction?: string;
  /** Simulated robot: the task scene to lay out (its instruction is used unless one is given). */
  task?: TaskName;
  seed?: number;
  operatorSeed?: number;
  /** Recovery-data options of the scripted operator. */
  operatorOptions?: ExpertOptions;
  swapInstruction?: boolean;
  /** Simulated robot: the scripted operator drives (teleop mode) from the start. */
  operator?: boolean;
  /**
   * Simulated robot, intervention mode: the scripted operator watches the policy from the first
   * tick and takes over when it goes wrong, as a person supervising (HG-DAgger).
   */
  supervise?: boolean;
  /** Simulated robot: the scene ends the episode (success, time limit); false: only episode.stop does (benchmarks). Default true. */
  autoEnd?: boolean;
}

export class DaemonError extends Error {
  constructor(readonly code: 'refused' | 'bad_request', message: string) {
    super(message);
    this.name = 'DaemonError';
  }
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
/** The policy's adapter slot of DaemonOptions.adapter (the learning manager's are learnt-a/b). */
const GIVEN_ADAPTER_SLOT = 'given';
let privateSockets = 0;

export class Daemon {
  readonly lifecycle: Lifecycle = new Lifecycle();
  readonly log: Logger;
  readonly clockKind: ClockKind;
  readonly clock: Clock;
  readonly rateHz: number;
  readonly periodS: number;
  readonly stats: LoopStats;
  readonly registry = createRegistry({ processMetrics: true });
  private readonly params: DaemonConfig['params'];
  private readonly startedMs = performance.now();
  private mode: OperatingMode;
  private operatorRequested = false;
  private operatorRole: 'supervise' | 'drive' = 'supervise';
  private readonly running = new Set<PartName>();
  private readonly hooks: Record<PartName, { start(): Promise<void>; stop(): Promise<void> }>;
  private reconciling: Promise<void> = Promise.resolve();
  // Configured resources.
  private slot: PolicySlot | undefined;
  private delayed: DelayedPlanner | undefined;
  private driver: RobotDriver | undefined;
  private sim: SimDriver | undefined;
  private recorder: Recorder | undefined;
  private teleop: TeleopInput | undefined;
  private device: ScriptedOperatorDevice | undefined;
  private store: ObservationStore | undefined;
  private loop: ControlLoop | undefined;
  private loopRun: Promise<TickAccountant> | undefined;
  private cpuWake: CpuWake | undefined;
  private priority: PriorityResult | null = null;
  private metricsServer: MetricsServer | undefined;
  private readonly sched = new ComputeScheduler(1);
  private lockstepStep = 0;
  private lockstepEpochNs = 0n;
  private readonly episodeListeners = new Set<(o: EpisodeOutcome) => void>();
  private statusCache: { atMs: number; value: Record<string, unknown> } | undefined;
  private streamTimer: NodeJS.Timeout | undefined;
  private gr00t: Gr00tServer | undefined;
  private openpi: OpenpiServer | undefined;
  private readonly peerMetrics: PeerMetrics;
  private readonly peerCount: PeerCounter;
  private instruction = '';
  /** DaemonOptions.adapter as served (its resolved directory) and the engine serving it (an OTA swap's engine does not). */
  private givenAdapter: { engine: PolicyEngine; version: string } | undefined;
  private ros: DaemonRosNode | undefined;
  /** Called around every transition (see TransitionHook). */
  readonly transitionHooks = new Set<TransitionHook>();
  episodes: EpisodeManager | undefined;
  /** Over-the-air swaps (off unless ota.dir is set): store, trust, shadow warm-up, health window. */
  readonly ota: OtaManager;
  private readonly otaListeners = new Set<(event: Record<string, unknown>) => void>();
  /** Idle-time learning: trainer passes when nothing else runs, gate, promotion, the adapter's health window. */
  readonly learning: LearningManager;
  private readonly learningListeners = new Set<(event: Record<string, unknown>) => void>();
  /** Serving sockets (ops, telemetry) attach here: see serve.ts. */
  readonly extensions: { ops?: { start(): Promise<void>; stop(): Promise<void> }; telemetry?: { start(): Promise<void>; stop(): Promise<void> } } = {};

  constructor(readonly opts: DaemonOptions) {
    if (opts.adapter !== undefined && opts.learn) throw new DaemonError('bad_request', 'a given adapter (DaemonOptions.adapter) and learning exclude each other: learning would replace it');
    this.params = opts.config.params;
    this.log = opts.log ?? rootLogger();
    this.clockKind = opts.clock ?? (this.params.robot === 'sim' ? this.params.sim.clock : 'realtime');
    this.clock = this.clockKind === 'lockstep' ? new VirtualClock(0n) : systemClock;
    this.rateHz = opts.rateHz ?? opts.config.profile.control_rate_hz;
    this.periodS = 1 / this.rateHz;
    this.mode = this.params.mode;
    this.stats = new LoopStats(new ControlMetrics(this.registry));
    this.peerMetrics = new PeerMetrics(this.registry);
    this.peerCount = (server, outcome) => this.peerMetrics.count(server, outcome);
    this.ota = this.buildOta();
    this.stats.observers.add(this.ota.observer);
    this.learning = this.buildLearning();
    this.stats.observers.add(this.learning.observer);
    this.hooks = {
      ros_node: { start: () => this.openRosNode(), stop: () => this.closeRosNode() },
      policy: { start: () => this.openPolicy(), stop: () => this.closePolicy() },
      robot: { start: () => this.openRobot().catch(async (err: unknown) => { await this.closeRobot(); throw err; }), stop: () => this.closeRobot() },
      recorder: { start: () => this.openRecorder(), stop: () => this.closeRecorder() },
      teleop: { start: () => this.openTeleop(), stop: () => this.closeTeleop() },
      control: { start: () => this.startControl().catch(async (err: unknown) => { await this.stopControl().catch(() => undefined); throw err; }), stop: () => this.stopControl() },
      scripted_operator: { start: () => this.startOperator(), stop: () => this.stopOperator() },
      gr00t: {
        start: async () => { this.gr00t = await startGr00t(this.params, this.peerPolicy(), { curve: await serverCurve(this.params), count: this.peerCount, log: this.log.child({ part: 'gr00t' }) }); },
        stop: async () => { await this.gr00t?.close(); this.gr00t = undefined; },
      },
      openpi: {
        start: async () => { this.openpi = await startOpenpi(this.params, this.peerPolicy(), { count: this.peerCount, log: this.log.child({ part: 'openpi' }) }); },
        stop: async () => { await this.openpi?.close(); this.openpi = undefined; },
      },
      ops: { start: async () => this.extensions.ops?.start(), stop: async () => this.extensions.ops?.stop() },
      telemetry: { start: async () => this.extensions.telemetry?.start(), stop: async () => this.extensions.telemetry?.stop() },
      metrics: {
        start: async () => { this.metricsServer = await serveMetrics(this.registry, { port: this.params.metrics_port }); this.log.info({ url: this.metricsServer.url }, 'metrics served'); },
        stop: async () => { await this.metricsServer?.close(); this.metricsServer = undefined; },
      },
    };
  }

  get state(): LifecycleState { return this.lifecycle.state; }
  get operatingMode(): OperatingMode { return this.mode; }
  get controlLoop(): ControlLoop | undefined { return this.loop; }
  get simDriver(): SimDriver | undefined { return this.sim; }
  get robotDriver(): RobotDriver | undefined { return this.driver; }
  get policy(): PolicyEngine | undefined { return this.slot?.engine; }
  private get engine(): PolicyEngine | undefined { return this.slot?.engine; }
  get datasetDir(): string | undefined { return this.recorder?.datasetDir; }
  get runningParts(): PartName[] { return PARTS.map((p) => p.name).filter((n) => this.running.has(n)); }

  private context(lifecycle: LifecycleState = this.lifecycle.state): PartContext {
    return {
      lifecycle, mode: this.mode, robot: this.params.robot, recording: this.params.record.dir !== '', serving: this.opts.serve ?? false,
      metrics: this.params.metrics_port > 0, operator: this.operatorRequested,
      gr00t: this.params.serve.gr00t.enabled, openpi: this.params.serve.openpi.enabled,
    };
  }

  /**
   * Starts and stops parts until what runs is what the table says for `ctx`: stops in reverse
   * table order, starts in table order. A start that fails stops what this call started, then throws.
   */
  private reconcile(ctx: PartContext = this.context()): Promise<void> {
    const next = this.reconciling.then(async () => {
      const want = partsFor(ctx);
      for (const p of [...PARTS].reverse()) {
        if (this.running.has(p.name) && !want.has(p.name)) {
          this.running.delete(p.name);
          try { await this.hooks[p.name].stop(); } catch (err) { this.log.error({ err, part: p.name }, 'part failed to stop'); }
        }
      }
      const started: PartName[] = [];
      try {
        for (const p of PARTS) {
          if (want.has(p.name) && !this.running.has(p.name)) {
            await this.hooks[p.name].start();
            this.running.add(p.name);
            started.push(p.name);
          }
        }
      } catch (err) {
        for (const name of started.reverse()) {
          this.running.delete(name);
          try { await this.hooks[name].stop(); } catch (e) { this.log.error({ err: e, part: name }, 'part failed to stop'); }
        }
        throw err;
      }
    });
    this.reconciling = next.catch(() => undefined);
    return next;
  }

  // --- lifecycle ---

  /** Runs a lifecycle transition (configure, activate, deactivate, cleanup, shutdown). */
  async transition(t: string): Promise<LifecycleState> {
    this.statusCache = undefined;
    this.lifecycle.check(t);
    let from: LifecycleState | undefined;
    const tr = t as Transition;
    try {
      const to = await this.lifecycle.run(t, async () => {
        from = this.lifecycle.state;
        for (const h of this.transitionHooks) h.before?.(tr, from);
        await this.doTransition(tr);
      });
      for (const h of this.transitionHooks) h.after?.(tr, from!, true, to);
      return to;
    } catch (err) {
      // `from` is set only when the work ran: a refusal (wrong state) is no transition at all.
      if (from !== undefined) for (const h of this.transitionHooks) h.after?.(tr, from, false, this.lifecycle.state);
      throw err;
    }
  }

  private async doTransition(t: Transition): Promise<void> {
    const target = { configure: 'inactive', activate: 'active', deactivate: 'inactive', cleanup: 'unconfigured', shutdown: 'finalized' } as const;
    // Hold first (the hold is recorded), then finish the open episode, then stop the parts.
    if (t === 'deactivate' || t === 'shutdown') await this.holdArm();
    if (t === 'cleanup' || t === 'shutdown') await this.closeEpisode('shutdown');
    await this.reconcile(this.context(target[t]));
    this.log.info({ transition: t, state: target[t] }, `lifecycle: ${t} -> ${target[t]}`);
  }

  /** configure + activate (autostart). */
  async start(): Promise<void> {
    await this.transition('configure');
    await this.transition('activate');
  }

  /** Brings up only the serving sockets (before configure, so a failing configure can be reported and retried). */
  async serveOnly(): Promise<void> { await this.reconcile(); }

  /** Hold, finish the open episode as truncated, flush, close everything. Idempotent. */
  async shutdown(): Promise<void> {
    if (this.lifecycle.state !== 'finalized') await this.transition('shutdown');
    await this.learning.close();
    await this.closeRosNode();
  }

  private async closeEpisode(reason: 'shutdown'): Promise<void> {
    const e = this.episodes;
    if (!e) return;
    if (e.isOpen) await e.end({ success: false, truncated: true, reason });
    else await e.pendingEnd;
  }

  // --- parts ---

  /** A policy worker on `dir` with this daemon's options; the golden self-test runs before it answers. */
  private openEngine(dir: string): Promise<PolicyEngine> {
    const cfg = this.opts.config;
    const profile = { ...cfg.profile, ...(this.params.denoising_steps > 0 ? { denoising_steps: this.params.denoising_steps } : {}) };
    const log = this.log.child({ part: 'policy' });
    return PolicyEngine.open(dir, {
      profile, seed: this.params.seed, selfTest: 'serving', log: (line) => log.info(line),
      ...(this.params.noise_scale > 0 ? { noiseScale: this.params.noise_scale } : {}),
    });
  }

  private async openPolicy(): Promise<void> {
    // The bundle store (when OTA is on) decides which bundle runs: the active one, whole, or the last good.
    const choice = await this.ota.boot();
    const engine = await this.openEngine(choice.dir);
    this.slot = new PolicySlot(engine, this.opts.candidates ? { candidates: this.opts.candidates } : {});
    this.slot.onPlan = (r) => { this.ota.onPlan(r); this.learning.onPlan(r); };
    try {
      this.checkBundleFitsRobot();
      await this.ota.recordRunning(engine.manifest);
    } catch (err) {
      await this.closePolicy();
      throw err;
    }
    this.log.info({ bundle: engine.modelVersion, store: choice.bundle ?? 'configured', provider: engine.provider.name, steps: engine.steps }, 'policy ready (self-test passed)');
    if (this.opts.adapter !== undefined) {
      // Asked for by name: one that does not fit fails configure (unlike a learnt one, which falls back to the base).
      await this.serveGivenAdapter(engine, this.opts.adapter).catch(async (err: unknown) => { await this.closePolicy(); throw err; });
      return;
    }
    // Learning never stops the robot from working: a store that cannot open leaves the base serving.
    await this.learning.bind(engine).catch((err: unknown) => this.log.error({ err, part: 'learning' }, `learning off: ${(err as Error).message}`));
  }

  /** DaemonOptions.adapter into the policy's adapter slot, effective from the first plan. */
  private async serveGivenAdapter(engine: PolicyEngine, dir: string): Promise<void> {
    const version = resolve(dir);
    const lora = engine.manifest.lora;
    if (!lora) throw new DaemonError('refused', `bundle ${engine.modelVersion} declares no LoRA layout: it cannot serve adapter ${version}`);
    let adapter: PeftAdapter;
    try {
      adapter = await readPeftAdapter(version, lora);
    } catch (err) {
      throw new DaemonError('refused', `bundle ${engine.modelVersion} cannot serve ${(err as Error).message}`);
    }
    await engine.loadAdapter(GIVEN_ADAPTER_SLOT, adapter.vector, version);
    await engine.activateAdapter(GIVEN_ADAPTER_SLOT);
    this.givenAdapter = { engine, version };
    // The layout fits; a different base_model_name_or_path may still be a bundle the adapter was not learnt on.
    if (adapter.baseModel !== engine.modelVersion) this.log.warn({ part: 'policy', adapter: version, learnt_on: adapter.baseModel }, `adapter ${version} was learnt on ${adapter.baseModel || 'an unnamed bundle'}, not ${engine.modelVersion}: its LoRA layout fits, the weights may not`);
    this.log.info({ part: 'policy', adapter: version, bundle: engine.modelVersion }, `adapter ${version} serves (given); learning is off`);
  }

  private buildLearning(): LearningManager {
    const p = this.params;
    const learns = this.opts.learn ?? this.opts.serve ?? false;
    const root = p.training.dir || join(p.ota.dir || p.record.dir || tmpdir(), 'learning');
    // In-process runs file adapters only where they were told to (training.dir, or the OTA store).
    const ownStore = learns || p.training.dir !== '';
    return new LearningManager({
      log: this.log, metrics: new TrainingMetrics(this.registry), profile: this.opts.config.profile.training,
      engine: () => this.slot?.engine,
      dirs: (bundle) => {
        const adapters = this.ota.adaptersDir(bundle) ?? (ownStore ? join(root, 'adapters', bundle) : undefined);
        return adapters ? { adapters, trainer: LearningManager.trainerDir(root, bundle) } : undefined;
      },
      datasetDirs: () => (p.record.dir ? [join(p.record.dir, p.record.dataset)] : []),
      busy: () => this.episodes?.isOpen === true || this.episodes?.pendingEnd !== undefined || this.loop?.operatorEngaged === true,
      runTraining: (step, opts) => this.sched.runTraining(step, opts),
      publish: (event) => { for (const l of this.learningListeners) l(event); },
      ...(learns ? {} : { notHere: 'this run does not learn (vlad run and vlad learn do; evaluation, collection and benchmarks keep their model)' }),
    }, p.training);
  }

  private buildOta(): OtaManager {
    const profile = this.opts.config.profile;
    return new OtaManager({
      log: this.log, clock: this.clock, hwProfile: profile.name, metrics: new OtaMetrics(this.registry), configuredDir: this.opts.config.bundleDir,
      slot: () => this.slot,
      openEngine: (dir) => this.openEngine(dir),
      observation: () => this.store?.latest(),
      background: (work) => this.sched.background(work),
      episodeOpen: () => this.episodes?.isOpen === true || this.episodes?.pendingEnd !== undefined,
      episodeEnded: async () => { const e = this.episodes; if (!e) return; if (e.isOpen) await e.whenEnded(); else await e.pendingEnd; },
      latencyBudgetMs: (m) => this.params.ota.health.latency_budget_ms || this.params.replan_threshold * m.io.chunk_length * m.io.control_dt * 1000,
      publish: (event) => { for (const l of this.otaListeners) l(event); },
    }, this.params.ota);
  }

  /** The bundle's action vector must be the robot's joints, in order. */
  private checkBundleFitsRobot(): void {
    const io = this.engine!.manifest.io;
    const joints = this.opts.config.robotDescription.joints.map((j) => j.name);
    const where = this.opts.config.robotDescriptionFile;
    if (io.action_dim !== joints.length) throw new DaemonError('refused', `bundle ${this.engine!.modelVersion} acts on ${io.action_dim} joints, the robot description ${where} has ${joints.length}`);
    if (io.action_names && io.action_names.join() !== joints.join()) throw new DaemonError('refused', `bundle action order [${io.action_names.join(', ')}] is not the robot's joint order [${joints.join(', ')}] (${where})`);
  }

  private async closePolicy(): Promise<void> {
    this.givenAdapter = undefined;
    await this.learning.unbind();
    await this.ota.close();
    await this.slot?.engine.close();
    this.slot = undefined;
  }

  private async openRobot(): Promise<void> {
    const io = this.engine!.manifest.io;
    if (this.opts.driver) {
      this.driver = this.opts.driver;
    } else if (this.params.robot === 'sim') {
      const size = io.cameras[0]?.width ?? 96;
      if (io.cameras.some((c) => c.width !== size || c.height !== size)) throw new DaemonError('refused', `the simulated cameras are square and equal-sized; bundle cameras are ${JSON.stringify(io.cameras)}`);
      const cameras = io.cameras.map((c) => c.name);
      const variation = parseVariation(this.params.sim.variation);
      this.sim = this.clockKind === 'lockstep'
        ? await SimRobot.create({ imageSize: size, cameras, physicsDt: this.periodS, variation })
        : await SimWorkerRobot.start({ imageSize: size, cameras, physicsDt: this.params.sim.physics_dt, cameraHz: this.params.sim.camera_hz, variation });
      this.driver = this.sim;
      // A scene from the start, so the arm exists before the first episode names one.
      const info = await this.sim.resetScene({ task: 'pick', seed: this.params.seed });
      this.instruction = info.instruction;
    } else {
      // The bundle's state order is the robot's joint order; the params must name it (the robot's own names are checked on its first JointState).
      const names = io.state_names ?? io.action_names;
      const p = this.params.joint_names;
      if (names && p.join() !== names.join()) throw new DaemonError('refused', `joint_names [${p.join(', ')}] (params) are not the bundle's joint order [${names.join(', ')}]`);
      if (p.length !== io.action_dim) throw new DaemonError('refused', `joint_names has ${p.length} joints, the bundle acts on ${io.action_dim}`);
      this.driver = await this.ros!.openRobot(io.cameras, p);
    }
    const missing = io.cameras.filter((c) => !this.driver!.cameras.some((d) => d.name === c.name));
    if (missing.length) throw new DaemonError('refused', `the robot has no camera ${missing.map((c) => `'${c.name}'`).join(', ')} that the bundle needs`);
    if (this.driver.jointNames.length !== io.action_dim) throw new DaemonError('refused', `robot ${this.driver.name} has ${this.driver.jointNames.length} joints, bundle acts on ${io.action_dim}`);
    this.log.info({ robot: this.driver.name, clock: this.clockKind, rate_hz: this.rateHz }, 'robot open');
  }

  private async closeRobot(): Promise<void> {
    if (this.ros?.robot && this.driver === this.ros.robot) await this.ros.closeRobot();
    else if (this.driver && this.driver !== this.opts.driver) await this.driver.close();
    this.driver = undefined;
    this.sim = undefined;
  }

  private async openRecorder(): Promise<void> {
    const r = this.params.record;
    this.recorder = await openRecorder({
      root: r.dir, name: r.dataset, spec: recorderSpecFromBundleIO(this.engine!.manifest.io), imageEncoding: r.image_encoding,
      robot: this.driver!.name, hwProfile: this.opts.config.profile.name,
      // Lockstep runs wait for room rather than drop; realtime never blocks the loop.
      maxQueueSteps: 256,
    });
    this.recorder.on('episode-aborted', (id: string, err: Error) => this.log.error({ episode: id, err }, 'episode aborted by the recorder'));
    this.log.info({ dataset: this.recorder.datasetDir }, 'recorder open');
  }

  private async closeRecorder(): Promise<void> {
    await this.recorder?.close();
    if (this.recorder) this.log.info({ dataset: this.recorder.datasetDir, ...this.recorder.stats() }, 'recorder flushed and closed');
    this.recorder = undefined;
  }

  private async openTeleop(): Promise<void> {
    const limits = this.opts.config.robotDescription.joints.map((j) => [j.position.min, j.position.max] as const);
    // An in-process run (vlad sim, collect, a benchmark) takes a private socket: several may run at once.
    const endpoint = this.opts.serve ? this.params.teleop.endpoint : `ipc://${join(tmpdir(), `vlad-teleop-${process.pid}-${++privateSockets}.sock`)}`;
    const receiver = await TeleopReceiver.bind({ endpoint, dim: limits.length, limits, logger: this.log.child({ part: 'teleop' }) });
    this.teleop = new TeleopInput(receiver, this.clock);
    this.log.info({ endpoint: receiver.endpoint }, 'teleop receiver bound');
  }

  private async closeTeleop(): Promise<void> {
    await this.teleop?.receiver.close();
    this.teleop = undefined;
  }

  private async startControl(): Promise<void> {
    const driver = this.driver!;
    const engine = this.engine!;
    const lockstep = this.clockKind === 'lockstep';
    const sim = this.sim;
    const streams = streamTable(this.params, engine.manifest.io.cameras, {
      jointStatesHz: sim ? 1 / sim.physicsDt : this.rateHz,
      camerasHz: lockstep ? this.rateHz : this.params.sim.camera_hz,
      teleopHz: this.rateHz,
    });
    const rosTeleop = this.ros;
    this.store = new ObservationStore(driver, streams, rosTeleop?.robot ? newestOperatorInput(this.teleop, { latest: () => rosTeleop.readTeleop() }) : this.teleop);
    this.store.transform = this.opts.observationTransform;
    this.store.setInstruction(this.instruction);
    const base: ChunkPlanner = timedPlanner(this.opts.planner === 'expert'
      ? (() => { if (!sim) throw new DaemonError('refused', 'the expert planner needs the simulated robot'); return sim.expertPlanner(engine.manifest.io.chunk_length, engine.manifest.io.control_dt); })()
      : this.slot!);
    // Lockstep: the gate covers the computation, not the wait for its virtual delivery (see gatedPlanner).
    this.delayed = lockstep ? new DelayedPlanner(gatedPlanner(base, this.sched), secondsToNs(this.opts.lockstepDelayS ?? 0)) : undefined;
    const planner = this.delayed ?? base;
    const p = this.params;
    const controlLog = this.log.child({ part: 'control' });
    this.loop = new ControlLoop({
      rateHz: this.rateHz, robot: driver, robotDescription: this.opts.config.robotDescription, observations: this.store, planner,
      mode: this.mode, join: { method: p.join }, replanThreshold: p.replan_threshold, output: p.output_mode,
      handover: { blendS: p.handover.blend_s, releaseAfterS: p.handover.release_after_s, operatorTimeoutS: p.handover.operator_timeout_s },
      // Lockstep answers wait for virtual time, not the wall: never time out a request there.
      maxPlanWaitS: lockstep ? 1e6 : 1, clock: this.clock, telemetry: this.stats, ...(lockstep ? {} : { compute: this.sched }),
      ...(this.opts.ratekeeper ? { ratekeeper: this.opts.ratekeeper } : {}),
      ...(this.opts.warmUpTicks !== undefined ? { warmUpTicks: this.opts.warmUpTicks } : {}),
      log: (line) => controlLog.info(line),
    });
    this.episodes = new EpisodeManager({
      periodS: this.periodS, recorder: this.recorder, scene: sim, robot: driver.name, hwProfile: this.opts.config.profile.name,
      actionDim: engine.manifest.io.action_dim, log: this.log.child({ part: 'episodes' }),
    });
    this.episodes.listeners.add((o) => {
      for (const l of this.episodeListeners) l(o);
      this.learning.onEpisodeEnd(o).catch((err: unknown) => this.log.error({ err, part: 'learning' }, 'learning: episode bookkeeping failed'));
    });
    this.loop.addTap(this.episodes.tap);
    this.loop.addTap(() => this.ota.onTick());
    this.loop.addTap(() => this.learning.onTick(this.episodes?.isOpen === true));
    if (lockstep) {
      // Virtual time is the simulated robot's own clock, which runs on across episodes.
      const clock = this.clock as VirtualClock;
      clock.now = driver.readState()?.stampNs ?? clock.now;
      this.lockstepEpochNs = clock.now;
      this.lockstepStep = 0;
      this.loop.begin(clock.now);
      return;
    }
    if (sim && !sim.realtime) await sim.startRealtime();
    const rt = this.opts.config.profile.realtime;
    this.cpuWake = await CpuWake.start({ idlePoll: rt.idle_poll, dmaLatencyUs: rt.cpu_dma_latency_us });
    // After every worker thread exists, so none of them inherits it.
    this.priority = this.opts.priority === false ? null : raiseThreadPriority(this.opts.priority ?? { nice: -10, fifo: 50 });
    this.watchStreams();
    this.loopRun = this.loop.run();
    this.loopRun.catch((err: unknown) => this.log.fatal({ err }, 'control loop failed'));
    this.log.info({ rate_hz: this.rateHz, join: p.join, output: p.output_mode, mode: this.mode, priority: this.priority }, 'control loop running');
  }

  private async openRosNode(): Promise<void> {
    if (this.ros) return;
    const rcl = this.opts.rcl ?? await loadRclnodejs();
    this.ros = await DaemonRosNode.start(rcl, this, this.opts.config, this.log.child({ part: 'ros' }), this.opts.rosArgv);
    this.log.info({ node: this.opts.config.params.robot }, 'ROS 2 lifecycle node up');
  }

  private async closeRosNode(): Promise<void> {
    const ros = this.ros;
    this.ros = undefined;
    this.running.delete('ros_node');
    await ros?.close();
  }

  /** Brings the arm to rest under the loop (mode idle), bounded: a fault path brakes on its own anyway. */
  private async holdArm(): Promise<void> {
    const loop = this.loop;
    if (!loop) return;
    loop.setMode('idle');
    const moving = () => loop.commandState.velocities.some((v) => v !== 0);
    if (this.clockKind === 'realtime') {
      const until = performance.now() + 1000;
      while (performance.now() < until && moving()) await sleep(this.periodS * 1000);
    } else {
      for (let i = 0; i < 200 && moving(); i++) await this.stepLockstep();
    }
  }

  /**
   * Once a second, logs every input stream whose health changed (openpilot raises an event when a
   * service stops being alive or on frequency); the watchdog acts on `alive` every tick itself.
   */
  private watchStreams(): void {
    const store = this.store!;
    const log = this.log.child({ part: 'streams' });
    const last = new Map<string, { alive: boolean; freqOk: boolean }>();
    this.streamTimer = setInterval(() => {
      for (const st of store.status(this.clock.nowNs())) {
        const prev = last.get(st.name);
        last.set(st.name, { alive: st.alive, freqOk: st.freqOk });
        if (st.samples < 3 || (prev && prev.alive === st.alive && prev.freqOk === st.freqOk)) continue;
        if (!st.alive || !st.freqOk) log.warn({ stream: st.name, alive: st.alive, freq_ok: st.freqOk, rate_hz: st.rateHz, age_s: st.ageS }, `stream ${st.name}: ${!st.alive ? 'not alive' : 'off its rate'}`);
        else if (prev) log.info({ stream: st.name, rate_hz: st.rateHz }, `stream ${st.name}: healthy again`);
      }
    }, 1000);
    this.streamTimer.unref();
  }

  /** Deactivate: bring the arm to a hold (idle), then stop ticking. */
  private async stopControl(): Promise<void> {
    const loop = this.loop;
    if (!loop) return;
    await this.holdArm();
    if (this.streamTimer) clearInterval(this.streamTimer);
    this.streamTimer = undefined;
    if (this.clockKind === 'realtime') {
      loop.close();
      await this.loopRun;
      await this.sim?.stopRealtime();
      await this.cpuWake?.stop();
      this.cpuWake = undefined;
    } else {
      loop.close();
      await this.delayed?.drain();
    }
    this.loop = undefined;
    this.loopRun = undefined;
  }

  private async startOperator(): Promise<void> {
    const sim = this.sim;
    if (!sim || !this.teleop) throw new DaemonError('refused', 'the scripted operator needs the simulated robot');
    this.device = await ScriptedOperatorDevice.connect(sim, this.teleop.receiver.endpoint, this.clock, this.log.child({ part: 'operator' }));
    // intervention: a person supervising the policy, taking over when it goes wrong (HG-DAgger)
    await sim.setOperator(true, this.mode === 'intervention' && this.operatorRole === 'supervise' ? 'supervise' : 'drive');
    if (this.mode === 'teleop') this.episodes?.markOperatorRan();
    if (this.clockKind === 'realtime') this.device.start(2 * this.rateHz);
    this.log.info({ mode: this.mode }, 'scripted operator started');
  }

  private async stopOperator(): Promise<void> {
    await this.sim?.setOperator(false);
    this.device?.stop();
    // Let go explicitly (intervention hands back at once, not after the silence timeout).
    await this.device?.release().catch(() => undefined);
    // Lockstep takes teleop frames only as it steps: take the release now, or an operator that was
    // in command when its episode ended would still command the next episode's first ticks.
    if (this.clockKind === 'lockstep' && this.device && this.teleop) await this.teleop.next(this.device.device, this.device.lastSeq).catch(() => undefined);
    this.device?.close();
    this.device = undefined;
  }

  private peerPolicy(): PeerPolicy { return peerPolicy(() => this.engine!, this.sched); }

  /** Where the peer protocol servers listen (when they run). */
  get peerEndpoints(): { gr00t?: string; openpi?: string } {
    return { ...(this.gr00t ? { gr00t: this.gr00t.endpoint } : {}), ...(this.openpi ? { openpi: this.openpi.url } : {}) };
  }

  /** What the realtime clock got from the machine: the control thread's priority and the idle-CPU measures. */
  get realtimeReport(): { priority: PriorityResult | null; cpu_wake: unknown } { return { priority: this.priority, cpu_wake: this.cpuWake?.report ?? null }; }

  /**
   * Changes how the next activation builds the loop (joining, lockstep delay); only while inactive,
   * as ros2_control changes a controller's parameters between deactivate and activate.
   */
  setLoopOptions(o: { join?: NodeParams['join']; lockstepDelayS?: number }): void {
    if (this.lifecycle.state !== 'inactive') throw new DaemonError('refused', `loop options change only while inactive (the node is ${this.lifecycle.state})`);
    if (o.join) this.params.join = o.join;
    if (o.lockstepDelayS !== undefined) (this.opts as { lockstepDelayS?: number }).lockstepDelayS = o.lockstepDelayS;
  }

  // --- operating the daemon (ops RPC methods call these) ---

  private requireActive(what: string): ControlLoop {
    if (this.lifecycle.state !== 'active' || !this.loop) throw new DaemonError('refused', `cannot ${what}: the node is ${this.lifecycle.state} (activate first)`);
    return this.loop;
  }

  async setMode(mode: OperatingMode): Promise<void> {
    this.statusCache = undefined;
    this.mode = mode;
    this.loop?.setMode(mode);
    if (mode === 'idle' || mode === 'autonomous') this.operatorRequested = false;
    await this.reconcile();
  }

  /**
   * Starts (or stops) the simulated arm's scripted operator as the teleop device. role
   * (intervention mode): 'supervise' (default) watches the policy and takes over when it goes
   * wrong; 'drive' takes over at once, as a person grabbing the leader arm.
   */
  async setScriptedOperator(on: boolean, role: 'supervise' | 'drive' = 'supervise'): Promise<void> {
    this.statusCache = undefined;
    if (!this.sim) throw new DaemonError('refused', 'the scripted operator exists only with the simulated robot (--robot sim)');
    if (on && (this.mode === 'idle' || this.mode === 'autonomous')) throw new DaemonError('refused', `the operator commands only in teleop or intervention mode (mode is ${this.mode})`);
    this.requireActive('start the operator');
    this.operatorRole = role;
    if (this.operatorRequested === on) return;
    this.operatorRequested = on;
    await this.reconcile();
  }

  /** The instruction the policy sees now. */
  get currentInstruction(): string { return this.instruction; }

  /** Resolves when the parts table has caught up with the last transition or mode change. */
  async settled(): Promise<void> { await this.reconciling; }

  /**
   * A run-time parameter change (ROS on-set-parameters), already checked against the schema:
   * applied when safe, else refused with the reason. mode: at once (the hand-over blends it);
   * join: between deactivate and activate (ros2_control's rule for controller parameters);
   * denoising_steps: read when the policy opens, so only while unconfigured.
   */
  applyRuntimeParam(name: string, value: unknown): { accepted: true; value: unknown } | { accepted: false; reason: string } {
    const state = this.lifecycle.state;
    if (this.lifecycle.transitioning) return { accepted: false, reason: `'${name}' cannot change during ${this.lifecycle.transitioning}` };
    switch (name) {
      case 'mode': {
        const mode = value as OperatingMode;
        this.params.mode = mode;
        this.setMode(mode).catch((err: unknown) => this.log.error({ err, mode }, 'mode change failed'));
        return { accepted: true, value };
      }
      case 'join':
        if (state === 'active') return { accepted: false, reason: `'join' changes only while not active (the node is active: deactivate, set, activate)` };
        this.params.join = value as NodeParams['join'];
        return { accepted: true, value };
      case 'denoising_steps':
        if (state !== 'unconfigured') return { accepted: false, reason: `'denoising_steps' is read when the policy loads at configure (the node is ${state}: cleanup, set, configure)` };
        this.params.denoising_steps = value as number;
        return { accepted: true, value };
      default:
        return { accepted: false, reason: `'${name}' cannot change at run time` };
    }
  }

  hardStop(active: boolean): void {
    this.statusCache = undefined;
    this.requireActive(active ? 'hard-stop' : 'release').hardStop(active);
  }

  async startEpisode(req: EpisodeRequest): Promise<{ id: string; instruction: string; scene?: SceneInfo }> {
    this.statusCache = undefined;
    const loop = this.requireActive('start an episode');
    const episodes = this.episodes!;
    if (episodes.isOpen || episodes.pendingEnd) throw new DaemonError('refused', `an episode is already running (${episodes.current?.id ?? 'ending'}): stop it first`);
    let scene: SceneInfo | undefined;
    if (req.task !== undefined) {
      if (!this.sim) throw new DaemonError('bad_request', 'task scenes exist only with the simulated robot; give an instruction');
      if (!isTaskName(req.task)) throw new DaemonError('bad_request', `unknown task '${String(req.task)}'`);
      if (req.operator && this.mode !== 'teleop') throw new DaemonError('refused', `the scripted operator drives a whole episode only in teleop mode (mode is ${this.mode})`);
      if (req.supervise && this.mode !== 'intervention') throw new DaemonError('refused', `the scripted operator supervises the policy only in intervention mode (mode is ${this.mode})`);
      if (this.operatorRequested) { this.operatorRequested = false; await this.reconcile(); }
      const options: SceneOptions = { task: req.task, seed: req.seed ?? 0, ...(req.operatorSeed !== undefined ? { operatorSeed: req.operatorSeed } : {}), ...(req.operatorOptions ? { operator: req.operatorOptions } : {}), ...(req.swapInstruction ? { swapInstruction: true } : {}) };
      // No command may reach the arm between the reset and the loop taking the new state as its start.
      loop.suspend();
      try {
        scene = await this.sim.resetScene(options);
      } finally {
        this.store!.reset();
        loop.resync();
      }
    } else if (!req.instruction?.trim()) {
      throw new DaemonError('bad_request', 'an episode needs an instruction (or, with the simulated robot, a task)');
    } else if (req.operator || req.supervise) {
      throw new DaemonError('bad_request', 'the scripted operator acts in task scenes of the simulated robot: give a task');
    }
    this.instruction = req.instruction?.trim() || scene!.instruction;
    this.store!.setInstruction(this.instruction);
    const id = episodes.begin(this.instruction, req.autoEnd === false ? undefined : scene);
    this.learning.noteBusy();
    if (req.operator || req.supervise) {
      this.operatorRole = req.supervise ? 'supervise' : 'drive';
      this.operatorRequested = true;
      await this.reconcile();
    }
    return { id, instruction: this.instruction, ...(scene ? { scene } : {}) };
  }

  /** Ends the running episode: a success, a failure, or (truncated) cut short without an outcome. */
  async stopEpisode(success: boolean, truncated = false): Promise<EpisodeOutcome> {
    this.statusCache = undefined;
    this.requireActive('stop an episode');
    if (success && truncated) throw new DaemonError('bad_request', 'an episode is either a success or truncated, not both');
    const e = this.episodes!;
    if (!e.isOpen) {
      if (e.pendingEnd) return e.pendingEnd;
      throw new DaemonError('refused', 'no episode is running');
    }
    return e.end({ success, truncated, reason: 'stopped' });
  }

  /** Changes the instruction the policy sees (a new language command mid-episode, or between episodes). */
  setInstruction(text: string): void {
    this.statusCache = undefined;
    if (!text.trim()) throw new DaemonError('bad_request', 'instruction must be non-empty');
    this.instruction = text.trim();
    this.store?.setInstruction(this.instruction);
  }

  // --- lockstep stepping (virtual time) ---

  /**
   * One control tick in virtual time: deliver the chunks due now, pass the scripted operator's
   * command over the teleop socket, tick the loop, step the simulated arm one period, and let an
   * episode that just ended become durable.
   */
  async stepLockstep(): Promise<void> {
    if (this.clockKind !== 'lockstep') throw new Error('stepLockstep: the daemon runs on the realtime clock');
    const loop = this.requireActive('step');
    const clock = this.clock as VirtualClock;
    const k = this.lockstepStep++;
    clock.now = this.lockstepEpochNs + BigInt(k) * secondsToNs(this.periodS);
    await this.delayed?.deliver(clock.now);
    if (this.device && (await this.device.pump())) await this.teleop!.next(this.device.device, this.device.lastSeq);
    // Faster than real time: wait for the recorder rather than drop a step.
    if (this.recorder && this.episodes?.isOpen) await this.recorder.whenWritable();
    loop.tick(k, clock.now);
    if (this.sim) await this.sim.advance(1, this.opts.pixels ?? true);
    const ending = this.episodes?.pendingEnd;
    if (ending) await ending;
  }

  /** Lockstep: starts an episode and steps until it ends (sim scenes end themselves). */
  async runEpisode(req: EpisodeRequest, onTick?: () => Promise<void> | void): Promise<EpisodeOutcome> {
    await this.startEpisode(req);
    const episodes = this.episodes!;
    let outcome: EpisodeOutcome | undefined;
    const done = episodes.whenEnded().then((o) => { outcome = o; });
    while (!outcome) {
      await this.stepLockstep();
      await onTick?.();
      await Promise.race([done, Promise.resolve()]);
    }
    // The next episode may start only once this one's end has settled (recorded, reported).
    await episodes.pendingEnd;
    if (req.supervise) {
      await this.setScriptedOperator(false);
      // Lockstep time moves only when stepped: tick (unrecorded, between episodes) until the loop
      // has handed back from the operator, as it would on its own in realtime.
      for (let i = 0; i < 500 && this.loop?.operatorEngaged; i++) await this.stepLockstep();
    }
    return outcome;
  }

  // --- status ---

  loopSnapshot(): ControlLoopStats | undefined { return this.loop?.snapshot(); }
  streamStatus(): StreamStatus[] { return this.store?.status(this.clock.nowNs()) ?? []; }

  /**
   * The daemon's state for people and scripts. Served on the control thread, so a burst of
   * requests reuses one snapshot for up to 50 ms instead of recomputing it for each.
   */
  status(): Record<string, unknown> {
    const now = performance.now();
    if (this.statusCache && now - this.statusCache.atMs < 50) return this.statusCache.value;
    const value = this.computeStatus();
    this.statusCache = { atMs: now, value };
    return value;
  }

  private computeStatus(): Record<string, unknown> {
    const loop = this.loop;
    const engine = this.engine;
    const s = this.stats.summary();
    const learning = this.learning.status();
    return {
      lifecycle: this.lifecycle.state,
      transitioning: this.lifecycle.transitioning ?? null,
      last_error: this.lifecycle.lastError ?? null,
      mode: this.mode,
      control: {
        state: loop?.state ?? null, hard_stop: loop?.hardStopped ?? false, operator_engaged: loop?.operatorEngaged ?? false,
        rate_hz: this.rateHz, clock: this.clockKind, join: this.params.join, output: this.params.output_mode,
        jitter_ms: s.jitter_ms, deadline_misses: s.deadline_misses, ticks: s.ticks,
        steps_by_source: loop?.snapshot().steps ?? null,
      },
      planner: { latency_ms: s.planner_ms, inference_ms: s.inference_ms, delay_steps: s.delay_steps, chunks: s.chunks },
      episode: this.episodes?.current ?? null,
      last_episode: this.episodes?.last ? { id: this.episodes.last.id, success: this.episodes.last.success, truncated: this.episodes.last.truncated, reason: this.episodes.last.reason, steps: this.episodes.last.steps } : null,
      bundle: engine ? { name: engine.manifest.name, version: engine.manifest.version, expert: engine.manifest.expert.kind, steps: engine.steps, provider: engine.provider.name } : null,
      adapter: engine ? ((this.givenAdapter?.engine === engine ? this.givenAdapter.version : undefined) ?? (learning.adapter as { active: string } | null)?.active ?? 'base') : null,
      learning,
      ota: this.ota.status(),
      robot: this.driver ? { name: this.driver.name, kind: this.params.robot, joints: this.driver.jointNames } : null,
      recorder: this.recorder ? { dataset: this.recorder.datasetDir, ...this.recorder.stats() } : null,
      streams: this.streamStatus().map((t) => ({ ...t, ageS: Number.isFinite(t.ageS) ? Math.round(t.ageS * 1000) / 1000 : null })),
      parts: this.runningParts,
      serving: this.peerEndpoints,
      instruction: this.instruction,
      uptime_s: Math.round(performance.now() - this.startedMs) / 1000,
    };
  }

  /** Called with every finished episode's outcome (telemetry, commands). */
  onEpisodeEnd(listener: (o: EpisodeOutcome) => void): () => void {
    this.episodeListeners.add(listener);
    return () => this.episodeListeners.delete(listener);
  }

  /** Called with every OTA stage and outcome (telemetry). */
  onOta(listener: (event: Record<string, unknown>) => void): () => void {
    this.otaListeners.add(listener);
    return () => this.otaListeners.delete(listener);
  }

  /** Called with every learning event: progress, passes, promotions, verdicts (telemetry). */
  onLearning(listener: (event: Record<string, unknown>) => void): () => void {
    this.learningListeners.add(listener);
    return () => this.learningListeners.delete(listener);
  }

  /** Called with every accepted chunk (telemetry). */
  onChunk(listener: (chunk: ActionChunk) => void): () => void { return this.stats.onChunk(listener); }

  /** Thrown errors a caller may show as-is (refusals, bad requests, lifecycle refusals). */
  static isRefusal(err: unknown): boolean { return err instanceof DaemonError || err instanceof TransitionRefused; }
}
