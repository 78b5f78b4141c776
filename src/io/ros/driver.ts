// The ROS 2 robot driver: core's RobotDriver on a node's topics. Subscriptions keep the newest
// sample per stream (joint states, each camera, the operator's teleop joint targets, the
// instruction); sends publish JointTrajectory (JointTrajectoryController) or Float64MultiArray
// (forward_command_controller). Every callback goes through InputCounters: a bad message is
// counted and dropped, never thrown into rclnodejs's executor. The conversions live in the
// ROS-free modules beside this one; this file only wires them to topics.
//
// Time. Samples are stamped on the daemon's clock (the one the loop judges staleness with); the
// header stamp, a ROS time (sim time under use_sim_time, as rclnodejs's clock follows /clock), is
// only ever compared with the node's own ROS clock: a message's age is node.now() - header.stamp,
// both on one clock, and the sample's stamp is the daemon's now minus that age. So no offset
// between the two clocks is ever estimated or assumed. An unstamped header (zero) is stamped on
// arrival. Outgoing trajectories use JTC's "start now" form (header.stamp zero), point times
// shifted by how late the message leaves (trajectory.ts), which holds under sim time too.
import type { CameraFrame, CameraImage, CameraSpec, Clock, JointCommand, JointState, JointTrajectory, RobotDriver } from '../../core/index.js';
import { InputCounters } from './counters.js';
import { RosConfigError, RosInputError } from './errors.js';
import { compressedToCamera, imageToCamera } from './image.js';
import { checkJointNames, JointStateMapper, type JointMapOptions } from './joints.js';
import { checkFresh, isZeroTime, MSG, timeToNs, type CompressedImageMsg, type Header, type ImageMsg, type JointStateMsg, type StringMsg } from './messages.js';
import type { Rcl, RclLifecycleNode, RclLifecyclePublisher, RclSubscription } from './rclnodejs.js';
import { chunkTrajectory, forwardCommandMessage, trajectoryMessage, type ChunkInput } from './trajectory.js';

export interface RosTopics {
  readonly jointStates: string;
  /** Bundle camera name -> topic. */
  readonly cameras: Readonly<Record<string, string>>;
  readonly instruction: string;
  /** sensor_msgs/JointState positions from an operator's device (leader arm, bridge); "": none. */
  readonly teleop: string;
  /** JTC's ~/joint_trajectory (trajectory output) or a forward controller's ~/commands (forward output). */
  readonly command: string;
  /** The executed plans, one JointTrajectory per accepted chunk. */
  readonly chunk: string;
}

export interface RosRobotOptions {
  readonly name: string;
  /** The state / command order (the bundle's, checked against the params at configure). */
  readonly jointNames: readonly string[];
  readonly cameras: readonly CameraSpec[];
  readonly topics: RosTopics;
  /** Per camera: sensor_msgs/Image (raw) or CompressedImage (compressed); default raw. */
  readonly transport?: Readonly<Record<string, 'raw' | 'compressed'>>;
  readonly output: 'trajectory' | 'forward';
  readonly joints?: JointMapOptions;
  /** Messages whose header stamp is older than this (ROS time) are refused as stale, s. */
  readonly maxAgeS: { readonly jointStates: number; readonly cameras: number; readonly teleop: number };
  /** The daemon's clock. */
  readonly clock: Clock;
  /** A new instruction arrived (the daemon keeps the current one). */
  readonly onInstruction?: (text: string) => void;
  /** Configure waits this long for the first joint state, ms. */
  readonly firstStateTimeoutMs?: number;
}

/** An operator's joint target (control's OperatorCommand shape; this floor cannot import control). */
export interface RosOperatorCommand { readonly seq: number; readonly stampNs: bigint; readonly positions: Float64Array; readonly perturbation: boolean }

const qosFor = (rcl: Rcl) => ({ sensor: rcl.QoS.profileSensorData, system: rcl.QoS.profileSystemDefault, dflt: rcl.QoS.profileDefault });

export class RosRobot implements RobotDriver {
  readonly name: string;
  readonly jointNames: readonly string[];
  readonly cameras: readonly CameraSpec[];
  readonly counters: InputCounters;
  private readonly mapper: JointStateMapper;
  private readonly subs: RclSubscription[] = [];
  private readonly command: RclLifecyclePublisher;
  private readonly chunkPub: RclLifecyclePublisher;
  private state: JointState | undefined;
  private readonly images = new Map<string, { image: CameraImage; stampNs: bigint }>();
  private imageSeq = 0;
  private frame: CameraFrame | undefined;
  private teleopCmd: RosOperatorCommand | undefined;
  private teleopSeq = 0;
  private readonly pending = new Set<Promise<unknown>>();
  private firstNames: ((names: readonly string[]) => void) | undefined;
  private closed = false;
  /** Sends that did not fit the output mode (a bug upstream, counted rather than thrown). */
  wrongOutput = 0;

  private constructor(private readonly node: RclLifecycleNode, private readonly opts: RosRobotOptions, rcl: Rcl) {
    this.name = opts.name;
    this.jointNames = [...opts.jointNames];
    this.cameras = [...opts.cameras];
    const t = opts.topics;
    for (const c of opts.cameras) if (!t.cameras[c.name]) throw new RosConfigError(`camera '${c.name}' has no topic (camera_topics.${c.name})`);
    this.mapper = new JointStateMapper(opts.jointNames, opts.joints);
    const cameraTopics = opts.cameras.map((c) => t.cameras[c.name]!);
    this.counters = new InputCounters([t.jointStates, ...cameraTopics, t.instruction, ...(t.teleop ? [t.teleop] : [])]);
    const q = qosFor(rcl);
    // Sensor data (best effort, depth 5): a late sample is worth less than the next one.
    this.subs.push(node.createSubscription(MSG.jointState, t.jointStates, { qos: q.sensor }, (m: JointStateMsg) => this.onJointState(m)));
    for (const c of opts.cameras) {
      const compressed = opts.transport?.[c.name] === 'compressed';
      const topic = t.cameras[c.name]!;
      this.subs.push(node.createSubscription(compressed ? MSG.compressedImage : MSG.image, topic, { qos: q.sensor }, (m: ImageMsg | CompressedImageMsg) => this.onImage(c, topic, compressed, m)));
    }
    this.subs.push(node.createSubscription(MSG.string, t.instruction, { qos: q.dflt }, (m: StringMsg) => this.onInstruction(m)));
    if (t.teleop) this.subs.push(node.createSubscription(MSG.jointState, t.teleop, { qos: q.sensor }, (m: JointStateMsg) => this.onTeleop(m)));
    // Controllers subscribe with SystemDefaultsQoS (reliable, volatile): the default profile matches.
    this.command = node.createLifecyclePublisher(opts.output === 'trajectory' ? MSG.jointTrajectory : MSG.float64MultiArray, t.command, { qos: q.system });
    this.chunkPub = node.createLifecyclePublisher(MSG.jointTrajectory, t.chunk, { qos: q.dflt });
  }

  /**
   * Subscribes and advertises on `node`, then waits for the first joint state and checks its
   * joint names against the configured ones (missing and extra joints in one clear error).
   */
  static async open(rcl: Rcl, node: RclLifecycleNode, opts: RosRobotOptions): Promise<RosRobot> {
    const robot = new RosRobot(node, opts, rcl);
    try {
      const names = await robot.firstJointNames(opts.firstStateTimeoutMs ?? 5000);
      checkJointNames(opts.jointNames, names, opts.joints);
      return robot;
    } catch (err) {
      await robot.close();
      throw err;
    }
  }

  private firstJointNames(timeoutMs: number): Promise<readonly string[]> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => { this.firstNames = undefined; reject(new RosConfigError(`no sensor_msgs/JointState on ${this.opts.topics.jointStates} within ${timeoutMs / 1000} s (is the robot's joint_state_broadcaster running?)`)); }, timeoutMs);
      this.firstNames = (names) => { clearTimeout(timer); this.firstNames = undefined; resolve(names); };
    });
  }

  /** Daemon-clock stamp of a message: now minus its age on the ROS clock (see the file comment). */
  private localStamp(header: Header): bigint {
    const now = this.opts.clock.nowNs();
    if (isZeroTime(header.stamp)) return now;
    const age = this.node.now().nanoseconds - timeToNs(header.stamp);
    return age > 0n ? now - age : now;
  }

  private fresh(header: Header, maxAgeS: number, what: string): void {
    checkFresh(header.stamp, this.node.now().nanoseconds, maxAgeS, what);
  }

  private onJointState(m: JointStateMsg): void {
    const topic = this.opts.topics.jointStates;
    // Configure's name check sees the robot's names as published, before the mapper judges them.
    if (this.firstNames && Array.isArray(m.name)) this.firstNames([...m.name]);
    const s = this.counters.guard(topic, () => {
      this.fresh(m.header, this.opts.maxAgeS.jointStates, topic);
      return this.mapper.map(m, this.localStamp(m.header), topic);
    });
    if (s) this.state = s;
  }

  private onImage(camera: CameraSpec, topic: string, compressed: boolean, m: ImageMsg | CompressedImageMsg): void {
    let stampNs = 0n;
    const done = this.counters.guardAsync(topic, async () => {
      this.fresh(m.header, this.opts.maxAgeS.cameras, topic);
      stampNs = this.localStamp(m.header);
      return compressed ? compressedToCamera(m as CompressedImageMsg, camera, topic) : imageToCamera(m as ImageMsg, camera, topic);
    }).then((image) => {
      if (!image || this.closed) return;
      const prev = this.images.get(camera.name);
      // Conversions finish out of order (sharp's thread pool): an older image never replaces a newer one.
      if (prev && prev.stampNs > stampNs) return;
      this.images.set(camera.name, { image, stampNs });
      this.imageSeq++;
    });
    this.pending.add(done);
    void done.finally(() => this.pending.delete(done));
  }

  private onInstruction(m: StringMsg): void {
    const text = this.counters.guard(this.opts.topics.instruction, () => {
      const s = typeof m.data === 'string' ? m.data.trim() : '';
      if (!s) throw new RosInputError('size', `${this.opts.topics.instruction}: empty instruction`);
      return s;
    });
    if (text !== undefined) this.opts.onInstruction?.(text);
  }

  private onTeleop(m: JointStateMsg): void {
    const topic = this.opts.topics.teleop;
    const s = this.counters.guard(topic, () => {
      this.fresh(m.header, this.opts.maxAgeS.teleop, topic);
      return this.mapper.map(m, this.localStamp(m.header), topic);
    });
    if (s) this.teleopCmd = { seq: ++this.teleopSeq, stampNs: s.stampNs, positions: Float64Array.from(s.positions), perturbation: false };
  }

  /** Resolves once every image received so far is converted (lockstep and tests). */
  async settled(): Promise<void> {
    while (this.pending.size) await Promise.all([...this.pending]);
  }

  // --- RobotDriver ---

  readState(): JointState | undefined { return this.state; }

  /** Every camera's newest image, stamped with the oldest of them (a frame is as fresh as its oldest image). */
  readFrame(): CameraFrame | undefined {
    if (this.frame?.seq === this.imageSeq) return this.frame;
    if (this.images.size < this.cameras.length) return undefined;
    const images: Record<string, CameraImage> = {};
    let stampNs: bigint | undefined;
    for (const c of this.cameras) {
      const e = this.images.get(c.name)!;
      images[c.name] = e.image;
      if (stampNs === undefined || e.stampNs < stampNs) stampNs = e.stampNs;
    }
    this.frame = { seq: this.imageSeq, stampNs: stampNs!, images };
    return this.frame;
  }

  /** The operator's newest joint target from the teleop topic. */
  readTeleop(): RosOperatorCommand | undefined { return this.teleopCmd; }

  sendCommand(cmd: JointCommand): void {
    if (this.opts.output !== 'forward') { this.wrongOutput++; return; }
    this.command.publish(forwardCommandMessage(cmd));
  }

  sendTrajectory(traj: JointTrajectory): void {
    if (this.opts.output !== 'trajectory') { this.wrongOutput++; return; }
    const msg = trajectoryMessage(traj, { nowNs: this.opts.clock.nowNs() });
    if (msg.points.length) this.command.publish(msg);
  }

  /** An accepted chunk on ~/chunk, stamped with its observation time in ROS time. */
  publishChunk(chunk: ChunkInput): void {
    const traj = chunkTrajectory(chunk, this.jointNames);
    const rosT0 = this.node.now().nanoseconds - (this.opts.clock.nowNs() - chunk.t0Ns);
    this.chunkPub.publish(trajectoryMessage(traj, { rosOffsetNs: (rosT0 > 0n ? rosT0 : 0n) - chunk.t0Ns }));
  }

  /** Lifecycle publishers: on in activate (before the loop's first tick), off after deactivate. */
  setActive(on: boolean): void {
    for (const p of [this.command, this.chunkPub]) {
      if (on && !p.isActivated()) p.activate();
      if (!on && p.isActivated()) p.deactivate();
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.firstNames = undefined;
    for (const s of this.subs) this.node.destroySubscription(s);
    this.node.destroyPublisher(this.command);
    this.node.destroyPublisher(this.chunkPub);
    await Promise.allSettled([...this.pending]);
  }
}
