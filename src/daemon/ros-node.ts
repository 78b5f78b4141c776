// The daemon as a ROS 2 lifecycle node (--robot ros): io/ros's node and driver, wired to what
// only the daemon knows (its lifecycle, modes, episodes, parameters and status).
//
// - Lifecycle: ~/change_state (ros2 lifecycle set, launch_ros) runs Daemon.transition; every
//   transition, however asked for, is mirrored into rclnodejs's state machine and ~/transition_event.
//   The driver's lifecycle publishers go on before activate's work (the loop's first tick publishes)
//   and off after deactivate's (the hold is published).
// - Parameters: declared from the one schema (params.ts) with descriptors; read-only except mode,
//   join and denoising_steps, which Daemon.applyRuntimeParam accepts only when safe, with a reason.
// - Services (std_srvs only): ~/episode/start (Trigger: the last instruction), ~/episode/stop
//   (SetBool: data = success), ~/hard_stop and ~/release (Trigger), and one Trigger per operating
//   mode, ~/mode/<idle|autonomous|teleop|intervention>: a call sets the `mode` parameter, so the
//   parameter, its event and the daemon never disagree.
// - /diagnostics at 1 Hz from the daemon's status and the driver's input counters.
import { OPERATING_MODES, type CameraSpec, type Logger } from '../core/index.js';
import {
  diagnosticArray, paramTable, RosLifecycleNode, RosRobot, ParameterType,
  type DiagnosticsInput, type DistributionMs, type ParamSchema, type Rcl, type RosOperatorCommand,
} from '../io/ros/index.js';
import type { Daemon } from './daemon.js';
import { NODE_NAME, type DaemonConfig } from './config.js';
import { PARAMS_SCHEMA } from './params.js';
import type { LifecycleState, Transition } from './lifecycle.js';

const initialized = new WeakSet<object>();

export class DaemonRosNode {
  readonly node: RosLifecycleNode;
  robot: RosRobot | undefined;
  private unsubscribeChunks: (() => void) | undefined;

  private constructor(private readonly rcl: Rcl, private readonly daemon: Daemon, private readonly config: DaemonConfig, private readonly log: Logger) {
    const p = config.params;
    const table = paramTable(PARAMS_SCHEMA as unknown as ParamSchema, p);
    this.node = new RosLifecycleNode(rcl, {
      name: NODE_NAME,
      lifecycle: {
        get state() { return daemon.state; },
        get transitioning() { return daemon.lifecycle.transitioning; },
        transition: (t) => daemon.transition(t),
      },
      params: table.descriptors,
      onSetParameter: (name, value) => {
        const r = table.runtimeChange(name, value);
        return r.accepted ? daemon.applyRuntimeParam(name, r.value) : r;
      },
      services: [
        { name: '~/episode/start', type: 'std_srvs/srv/Trigger', handle: async () => { const e = await daemon.startEpisode({ instruction: daemon.currentInstruction }); return `episode ${e.id}: ${e.instruction}`; } },
        { name: '~/episode/stop', type: 'std_srvs/srv/SetBool', handle: async (success) => { const o = await daemon.stopEpisode(success); return `episode ${o.id} ended: ${o.success ? 'success' : 'failure'}, ${o.steps} steps`; } },
        { name: '~/hard_stop', type: 'std_srvs/srv/Trigger', handle: () => { daemon.hardStop(true); return 'hard stop: the arm holds until ~/release'; } },
        { name: '~/release', type: 'std_srvs/srv/Trigger', handle: () => { daemon.hardStop(false); return 'released'; } },
        ...OPERATING_MODES.map((mode) => ({
          name: `~/mode/${mode}`, type: 'std_srvs/srv/Trigger' as const,
          handle: async () => {
            const r = this.node.node.setParameter(new rcl.Parameter('mode', ParameterType.PARAMETER_STRING, mode));
            if (!r.successful) throw new Error(r.reason);
            await daemon.settled();
            return `mode ${daemon.operatingMode}`;
          },
        })),
      ],
      diagnostics: () => diagnosticArray(this.diagnosticsInput(), this.node.node.now().nanoseconds),
      log,
    });
    daemon.transitionHooks.add({
      before: (t: Transition) => { if (t === 'activate') this.robot?.setActive(true); this.node.transitionStarted(t, daemon.state); },
      after: (t: Transition, from: LifecycleState, ok: boolean, to: LifecycleState) => {
        if (to !== 'active') this.robot?.setActive(false);
        this.node.transitionEnded(t, from, ok, to);
      },
    });
  }

  /** rclnodejs initialised (once per process, with the command line's --ros-args) and the node up, unconfigured. */
  static async start(rcl: Rcl, daemon: Daemon, config: DaemonConfig, log: Logger, argv: string[] = process.argv): Promise<DaemonRosNode> {
    if (!initialized.has(rcl)) {
      await rcl.init(undefined, argv);
      initialized.add(rcl);
    }
    return new DaemonRosNode(rcl, daemon, config, log);
  }

  /** Configure: the driver on this node; joint names as the bundle's state order, checked against the robot's first joint state. */
  async openRobot(cameras: readonly CameraSpec[], jointNames: readonly string[]): Promise<RosRobot> {
    const p = this.config.params;
    this.robot = await RosRobot.open(this.rcl, this.node.node, {
      name: this.config.robotDescription.name ?? 'ros', jointNames, cameras,
      topics: { jointStates: p.joint_states_topic, cameras: p.camera_topics, instruction: p.instruction_topic, teleop: p.teleop_topic, command: p.command_topic, chunk: '~/chunk' },
      transport: p.camera_transport, output: p.output_mode,
      joints: { ignore: p.ignored_joints },
      maxAgeS: { jointStates: p.streams.joint_states.max_age_s, cameras: p.streams.cameras.max_age_s, teleop: p.streams.teleop.max_age_s },
      clock: this.daemon.clock,
      onInstruction: (text) => this.daemon.setInstruction(text),
      firstStateTimeoutMs: p.joint_states_timeout_s * 1000,
    });
    const robot = this.robot;
    this.unsubscribeChunks = this.daemon.onChunk((c) => robot.publishChunk(c));
    return robot;
  }

  readTeleop(): RosOperatorCommand | undefined { return this.robot?.readTeleop(); }

  async closeRobot(): Promise<void> {
    this.unsubscribeChunks?.();
    this.unsubscribeChunks = undefined;
    await this.robot?.close();
    this.robot = undefined;
  }

  private diagnosticsInput(): DiagnosticsInput {
    const s = this.daemon.status() as unknown as StatusView;
    const io = this.daemon.policy?.manifest.io;
    const p = this.config.params;
    const dist = (d: DistributionMs | null | undefined) => d ?? null;
    return {
      hardwareId: this.robot?.name ?? 'vlad',
      lifecycle: s.lifecycle, mode: s.mode,
      control: { state: s.control.state, hardStop: s.control.hard_stop, rateHz: s.control.rate_hz, jitterMs: dist(s.control.jitter_ms), deadlineMisses: s.control.deadline_misses, ticks: s.control.ticks },
      planner: { latencyMs: dist(s.planner.latency_ms), chunks: s.planner.chunks, budgetMs: io ? p.replan_threshold * io.chunk_length * io.control_dt * 1000 : 0 },
      recorder: s.recorder ? { steps: s.recorder.steps, episodes: s.recorder.episodes, droppedFrames: s.recorder.droppedFrames, queueDepth: s.recorder.queueDepth, ...(s.recorder.lastError ? { lastError: s.recorder.lastError } : {}) } : null,
      streams: s.streams.map((st) => ({ ...st, ageS: st.ageS ?? Infinity })),
      model: s.bundle ? { name: s.bundle.name, version: s.bundle.version, adapter: String(s.adapter ?? 'base') } : null,
      inputs: this.robot?.counters.window() ?? [],
    };
  }

  async close(): Promise<void> {
    await this.closeRobot();
    this.node.close();
    if (initialized.has(this.rcl)) {
      initialized.delete(this.rcl);
      this.rcl.shutdown();
    }
  }
}

/** The fields of Daemon.status() diagnostics read. */
interface StatusView {
  lifecycle: string;
  mode: string;
  control: { state: 'waiting' | 'run' | 'hold' | 'stop' | null; hard_stop: boolean; rate_hz: number; jitter_ms: DistributionMs | null; deadline_misses: number; ticks: number };
  planner: { latency_ms: DistributionMs | null; chunks: number };
  recorder: { steps: number; episodes: number; droppedFrames: number; queueDepth: number; lastError?: string } | null;
  streams: { name: string; alive: boolean; freqOk: boolean; rateHz: number; ageS: number | null; samples: number }[];
  bundle: { name: string; version: string } | null;
  adapter: string | null;
}
