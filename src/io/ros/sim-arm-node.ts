// The simulated arm as a ros2_control robot looks from outside (`vlad sim-ros`): the thin
// rclnodejs glue between a SimDriver (sim/, physics in its own thread) and a plain node.
//
// - joint_state_broadcaster: sensor_msgs/JointState on /joint_states every publish period;
//   cameras: sensor_msgs/Image rgb8 on /cameras/<name>/image_raw (and, with `compressed`,
//   CompressedImage JPEG on .../image_raw/compressed, image_transport's name) once per new
//   camera frame, so at the sim's own camera rate. Sensor-data QoS (best effort).
// - joint_trajectory_controller: trajectory_msgs/JointTrajectory on
//   /joint_trajectory_controller/joint_trajectory, validated as JTC does and sampled by the sim's
//   JTC (sim/jtc.ts: a new trajectory replaces the running one from its start).
//   forward_position_controller: std_msgs/Float64MultiArray on /forward_position_controller/commands.
//   Both SystemDefaultsQoS, as the controllers subscribe. A bad message is counted and dropped.
// - std_srvs/Trigger ~/reset lays out the task scene the `task` and `seed` parameters name (set
//   them with `ros2 param set`, then call reset) and publishes its instruction on the instruction
//   topic; ~/success answers whether the scene's task has succeeded, the scene report as message.
//
// Time: stamps are the node's ROS time of the moment the physics state or frame was taken (ROS now
// minus its age on the sim's clock), so they are right on the wall clock and under use_sim_time
// alike. The node does not publish /clock: the arm runs in real time, as the robot it stands for.
import type { JointCommand, Logger } from '../../core/index.js';
import { isTaskName, TASK_NAMES, type SimDriver, type TaskName } from '../../sim/index.js';
import { forwardCommandPositions, jointStateMessage, jpegImageMessage, rgbImageMessage, trajectoryFromMessage } from './arm-messages.js';
import { InputCounters } from './counters.js';
import { MSG, nsToTime, type Float64MultiArrayMsg, type JointTrajectoryMsg, type Time } from './messages.js';
import { ParameterType } from './params.js';
import type { Rcl, RclNode, RclParameter, RclPublisher, RclServiceResponse, RclSubscription, RclTimer } from './rclnodejs.js';

export const SIM_ARM_TOPICS = {
  jointStates: '/joint_states',
  cameraPrefix: '/cameras',
  trajectory: '/joint_trajectory_controller/joint_trajectory',
  forward: '/forward_position_controller/commands',
  instruction: '/vlad/instruction',
} as const;

const TRIGGER = 'std_srvs/srv/Trigger';

/** The camera topic image_transport's raw plugin would use: /cameras/<name>/image_raw. */
export const cameraTopic = (camera: string, prefix: string = SIM_ARM_TOPICS.cameraPrefix): string => `${prefix}/${camera}/image_raw`;

export interface RosSimArmOptions {
  /** Node name (default vlad_sim). */
  readonly name?: string;
  readonly namespace?: string;
  /** JointState period and the rate new camera frames are looked for, Hz. */
  readonly publishHz: number;
  /** Also publish CompressedImage (JPEG) beside each raw image. */
  readonly compressed?: boolean;
  /** The sim's clock now, ns (realtime: process.hrtime; lockstep: the physics time). */
  readonly simNowNs: () => bigint;
  /** The scene ~/reset lays out until the parameters change it. */
  readonly task: TaskName;
  readonly seed: number;
  readonly topics?: Partial<typeof SIM_ARM_TOPICS>;
  readonly log: Pick<Logger, 'info' | 'warn' | 'error'>;
}

export class RosSimArm {
  readonly node: RclNode;
  /** What the controllers' subscriptions accepted and refused. */
  readonly counters: InputCounters;
  private readonly topics: typeof SIM_ARM_TOPICS;
  private readonly jointPub: RclPublisher;
  private readonly imagePubs: { camera: string; raw: RclPublisher; compressed?: RclPublisher; encoding: boolean }[];
  private readonly instructionPub: RclPublisher;
  private readonly subs: RclSubscription[] = [];
  private readonly timer: RclTimer;
  private lastFrameSeq = 0;
  private resetting: Promise<unknown> = Promise.resolve();
  /** Published counts, for status lines and tests. */
  readonly published = { jointStates: 0, frames: 0, compressed: 0 };
  private closed = false;

  constructor(rcl: Rcl, private readonly sim: SimDriver, private readonly opts: RosSimArmOptions) {
    if (!(opts.publishHz > 0 && opts.publishHz <= 1000)) throw new RangeError(`sim-ros: publish rate ${opts.publishHz} Hz is out of (0, 1000]`);
    this.topics = { ...SIM_ARM_TOPICS, ...opts.topics };
    const t = this.topics;
    const node = new rcl.Node(opts.name ?? 'vlad_sim', opts.namespace ?? '');
    this.node = node;
    this.declareParameters(rcl);
    const sensor = { qos: rcl.QoS.profileSensorData };
    this.jointPub = node.createPublisher(MSG.jointState, t.jointStates, sensor);
    this.imagePubs = sim.cameras.map((c) => ({
      camera: c.name,
      raw: node.createPublisher(MSG.image, cameraTopic(c.name, t.cameraPrefix), sensor),
      ...(opts.compressed ? { compressed: node.createPublisher(MSG.compressedImage, `${cameraTopic(c.name, t.cameraPrefix)}/compressed`, sensor) } : {}),
      encoding: false,
    }));
    this.instructionPub = node.createPublisher(MSG.string, t.instruction, { qos: rcl.QoS.profileDefault });
    this.counters = new InputCounters([t.trajectory, t.forward]);
    const system = { qos: rcl.QoS.profileSystemDefault };
    this.subs.push(node.createSubscription(MSG.jointTrajectory, t.trajectory, system, (m: JointTrajectoryMsg) => this.onTrajectory(m)));
    this.subs.push(node.createSubscription(MSG.float64MultiArray, t.forward, system, (m: Float64MultiArrayMsg) => this.onForward(m)));
    node.createService(TRIGGER, '~/reset', (_req: unknown, res: RclServiceResponse<{ success: boolean; message: string }>) => {
      const done = this.resetting.then(() => this.reset());
      this.resetting = done.catch(() => undefined);
      done.then((message) => res.send({ success: true, message }), (err: unknown) => res.send({ success: false, message: (err as Error).message }));
    });
    node.createService(TRIGGER, '~/success', (_req: unknown, res: RclServiceResponse<{ success: boolean; message: string }>) => {
      sim.report().then((r) => res.send({ success: r.success, message: JSON.stringify(r) }), (err: unknown) => res.send({ success: false, message: (err as Error).message }));
    });
    this.timer = node.createTimer(BigInt(Math.round(1e9 / opts.publishHz)), () => this.publish());
    node.spin();
  }

  private declareParameters(rcl: Rcl): void {
    const { Parameter, ParameterDescriptor, IntegerRange } = rcl;
    this.node.declareParameter(new Parameter('task', ParameterType.PARAMETER_STRING, this.opts.task), new ParameterDescriptor('task', ParameterType.PARAMETER_STRING, `the task ~/reset lays out: ${TASK_NAMES.join(', ')}`));
    this.node.declareParameter(new Parameter('seed', ParameterType.PARAMETER_INTEGER, BigInt(this.opts.seed)), new ParameterDescriptor('seed', ParameterType.PARAMETER_INTEGER, 'the layout seed ~/reset uses', false, new IntegerRange(0n, 2n ** 31n - 1n, 1n)));
    this.node.addOnSetParametersCallback((ps: RclParameter[]) => {
      for (const p of ps) {
        if (p.name === 'task' && !(typeof p.value === 'string' && isTaskName(p.value))) return { successful: false, reason: `task '${String(p.value)}' is not one of ${TASK_NAMES.join(', ')}` };
      }
      return { successful: true, reason: '' };
    });
  }

  /** ROS time of a moment on the sim's clock. */
  private rosStamp(simNs: bigint): Time {
    const ros = this.node.now().nanoseconds - (this.opts.simNowNs() - simNs);
    return nsToTime(ros > 0n ? ros : 0n);
  }

  /** One period: the joint state, and each camera's image when the sim has a new frame. */
  publish(): void {
    if (this.closed) return;
    const state = this.sim.readState();
    if (state) {
      this.jointPub.publish(jointStateMessage(this.sim.jointNames, state.positions, this.rosStamp(state.stampNs), state.velocities));
      this.published.jointStates++;
    }
    const frame = this.sim.readFrame();
    if (!frame || frame.seq === this.lastFrameSeq) return;
    this.lastFrameSeq = frame.seq;
    const stamp = this.rosStamp(frame.stampNs);
    for (const p of this.imagePubs) {
      const img = frame.images[p.camera];
      if (!img) continue;
      // A plain copy: the sim worker's frame ring is SharedArrayBuffer memory its thread reuses.
      const copy = { width: img.width, height: img.height, data: img.data.slice() };
      p.raw.publish(rgbImageMessage(copy, stamp, p.camera));
      // JPEG encoding runs on sharp's pool; a camera still encoding skips this frame rather than queue.
      if (p.compressed && !p.encoding) {
        p.encoding = true;
        jpegImageMessage(copy, stamp, p.camera).then(
          (m) => { if (!this.closed) { p.compressed!.publish(m); this.published.compressed++; } },
          (err: unknown) => this.opts.log.error({ err, camera: p.camera }, 'JPEG encoding failed'),
        ).finally(() => { p.encoding = false; });
      }
    }
    this.published.frames++;
  }

  private onTrajectory(m: JointTrajectoryMsg): void {
    const topic = this.topics.trajectory;
    const traj = this.counters.guard(topic, () => trajectoryFromMessage(m, this.sim.jointNames, { rosNowNs: this.node.now().nanoseconds, localNowNs: this.opts.simNowNs() }, topic));
    if (traj) this.sim.sendTrajectory(traj);
  }

  private onForward(m: Float64MultiArrayMsg): void {
    const topic = this.topics.forward;
    const positions = this.counters.guard(topic, () => forwardCommandPositions(m, this.sim.jointNames.length, topic));
    if (!positions) return;
    const cmd: JointCommand = { stampNs: this.opts.simNowNs(), step: 0, positions, velocities: new Float64Array(positions.length) };
    this.sim.sendCommand(cmd);
  }

  /** ~/reset: the scene the parameters name; its instruction goes out on the instruction topic. */
  async reset(): Promise<string> {
    const task = String(this.node.getParameter('task').value);
    const seed = Number(this.node.getParameter('seed').value);
    if (!isTaskName(task)) throw new Error(`task '${task}' is not one of ${TASK_NAMES.join(', ')}`);
    const info = await this.sim.resetScene({ task, seed });
    this.lastFrameSeq = 0;
    this.instructionPub.publish({ data: info.instruction });
    this.opts.log.info({ task, seed, instruction: info.instruction }, 'scene reset');
    return `${task} seed ${seed}: ${info.instruction}`;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.node.destroyTimer(this.timer);
    for (const s of this.subs) this.node.destroySubscription(s);
    this.node.destroy();
  }
}
