// One simulated table-top scene: MuJoCo model + data, seeded resets, joint-target control and
// the physics queries the success tests and the expert need.
import type { MainModule, MjData, MjModel } from 'mujoco-js';
import { compileModel } from './mujoco.js';
import { buildSceneXml, objectSizes, ARM, GRIPPER_LIMITS, HOME_QPOS, JOINT_LIMITS, type ObjectSizes } from './scene.js';
import { isSuccess, type SuccessProbe, type TaskInstance } from './tasks.js';
import { NO_VARIATION, formatVariation, type Variation } from './variation.js';

const OBJ_BODY = 1;
const OBJ_JOINT = 3;
const OBJ_GEOM = 5;
const OBJ_SITE = 6;

export const CONTROL_DT = 0.02;

export class SimWorld implements SuccessProbe {
  readonly substeps: number;
  private readonly bodyIds = new Map<string, number>();
  private readonly geomIds = new Map<string, number>();
  private readonly siteIds = new Map<string, number>();
  private readonly gripperGeoms: Set<number>;
  private readonly armQposAdr: number[];
  private readonly fingerQposAdr: [number, number];
  private readonly target = new Float64Array(7);
  instance: TaskInstance | undefined;
  stepCount = 0;

  readonly sizes: ObjectSizes;

  private constructor(readonly mj: MainModule, readonly model: MjModel, readonly data: MjData, readonly controlDt: number, readonly variation: Variation) {
    this.sizes = objectSizes(variation);
    this.substeps = Math.round(controlDt / model.opt.timestep);
    const jointAdr = (name: string): number => {
      const id = mj.mj_name2id(model, OBJ_JOINT, name);
      if (id < 0) throw new Error(`model has no joint ${name}`);
      return model.jnt_qposadr[id] as number;
    };
    this.armQposAdr = ['joint1', 'joint2', 'joint3', 'joint4', 'joint5', 'joint6'].map(jointAdr);
    this.fingerQposAdr = [jointAdr('finger_l'), jointAdr('finger_r')];
    this.gripperGeoms = new Set(['finger_l', 'finger_r', 'palm'].map((g) => this.geomId(g)));
  }

  static async create(controlDt = CONTROL_DT, variation: Variation = NO_VARIATION): Promise<SimWorld> {
    const { mj, model } = await compileModel(buildSceneXml(variation));
    const data = new mj.MjData(model);
    return new SimWorld(mj, model, data, controlDt, variation);
  }

  bodyId(name: string): number { return this.lookupId(this.bodyIds, OBJ_BODY, 'body', name); }

  geomId(name: string): number { return this.lookupId(this.geomIds, OBJ_GEOM, 'geom', name); }

  /** mj_name2id, cached per object kind; an unknown name is a model error, not a -1 to pass on. */
  private lookupId(cache: Map<string, number>, objType: number, kind: string, name: string): number {
    let id = cache.get(name);
    if (id === undefined) {
      id = this.mj.mj_name2id(this.model, objType, name);
      if (id < 0) throw new Error(`model has no ${kind} ${name}`);
      cache.set(name, id);
    }
    return id;
  }

  /** Reset to the home pose with the instance's object layout. Deterministic. */
  reset(inst: TaskInstance, homeQpos: readonly number[] = HOME_QPOS): void {
    const { mj, model, data } = this;
    // a layout sampled for another world would start its objects inside each other or the table
    const here = formatVariation(this.variation);
    if (inst.variation !== here) throw new Error(`SimWorld.reset: the task was sampled for the world '${inst.variation}', this world is '${here}' (sample it with this world's variation)`);
    mj.mj_resetData(model, data);
    const qpos = data.qpos as Float64Array;
    this.armQposAdr.forEach((adr, i) => { qpos[adr] = homeQpos[i]!; });
    qpos[this.fingerQposAdr[0]] = GRIPPER_LIMITS[1] / 2;
    qpos[this.fingerQposAdr[1]] = GRIPPER_LIMITS[1] / 2;
    const mocapPos = data.mocap_pos as Float64Array;
    for (const obj of inst.layout) {
      const id = this.bodyId(obj.body);
      const mocapId = model.body_mocapid[id] as number;
      if (mocapId >= 0) {
        mocapPos.set([obj.x, obj.y, 0], mocapId * 3);
        continue;
      }
      const jnt = model.body_jntadr[id] as number;
      const adr = model.jnt_qposadr[jnt] as number;
      const z = obj.body.startsWith('ball_') ? this.sizes.ballRadius : this.sizes.cubeHalf;
      qpos.set([obj.x, obj.y, z, Math.cos(obj.yaw / 2), 0, 0, Math.sin(obj.yaw / 2)], adr);
    }
    this.target.set([...homeQpos.slice(0, 6), GRIPPER_LIMITS[1]]);
    this.applyTarget();
    mj.mj_forward(model, data);
    this.instance = inst;
    this.stepCount = 0;
  }

  /** Set joint position targets (6 joints rad + gripper opening m), clamped to the limits. */
  setTarget(q: ArrayLike<number>): void {
    for (let i = 0; i < 6; i++) {
      const v = q[i];
      if (v === undefined || !Number.isFinite(v)) continue; // hold the previous target
      const [lo, hi] = JOINT_LIMITS[i]!;
      this.target[i] = Math.min(hi, Math.max(lo, v));
    }
    const g = q[6];
    if (g !== undefined && Number.isFinite(g)) this.target[6] = Math.min(GRIPPER_LIMITS[1], Math.max(GRIPPER_LIMITS[0], g));
    this.applyTarget();
  }

  currentTarget(): Float64Array { return this.target.slice(); }

  /** currentTarget() without allocating. */
  copyTarget(out: Float64Array): Float64Array { out.set(this.target); return out; }

  private applyTarget(): void {
    const ctrl = this.data.ctrl as Float64Array;
    for (let i = 0; i < 6; i++) ctrl[i] = this.target[i]!;
    ctrl[6] = this.target[6]! / 2; // one finger's travel
  }

  /** Advance one control period. */
  step(): void {
    for (let i = 0; i < this.substeps; i++) this.mj.mj_step(this.model, this.data);
    this.stepCount++;
  }

  get time(): number { return this.data.time; }

  /** Robot state: 6 joint positions + gripper opening. */
  jointState(out = new Float32Array(7)): Float32Array {
    const qpos = this.data.qpos as Float64Array;
    for (let i = 0; i < 6; i++) out[i] = qpos[this.armQposAdr[i]!]!;
    out[6] = qpos[this.fingerQposAdr[0]]! + qpos[this.fingerQposAdr[1]]!;
    return out;
  }

  bodyPos(body: string): [number, number, number] {
    const id = this.bodyId(body);
    const x = this.data.xpos as Float64Array;
    return [x[3 * id]!, x[3 * id + 1]!, x[3 * id + 2]!];
  }

  /** Yaw of a body about world z (from its rotation matrix). */
  bodyYaw(body: string): number {
    const id = this.bodyId(body);
    const m = this.data.xmat as Float64Array;
    return Math.atan2(m[9 * id + 3]!, m[9 * id]!);
  }

  graspPoint(): [number, number, number] {
    const id = this.lookupId(this.siteIds, OBJ_SITE, 'site', 'grasp');
    const s = this.data.site_xpos as Float64Array;
    return [s[3 * id]!, s[3 * id + 1]!, s[3 * id + 2]!];
  }

  /** Unit vector on the table along the finger pads (the hand's y axis): across the direction the fingers close. */
  padAxis(): [number, number] {
    const id = this.lookupId(this.siteIds, OBJ_SITE, 'site', 'grasp');
    const m = this.data.site_xmat as Float64Array;
    const x = m[9 * id + 1]!, y = m[9 * id + 4]!;
    const n = Math.hypot(x, y);
    if (n < 1e-6) throw new Error('padAxis: the hand does not point down');
    return [x / n, y / n];
  }

  gripperOpening(): number { return this.jointState()[6]!; }

  gripperTouches(body: string): boolean {
    const geom = this.geomId(body);
    // Every embind object read from MuJoCo (the contact vector too, not only its elements) lives
    // in the WASM heap until deleted: this runs every physics tick.
    const contacts = this.data.contact;
    try {
      const n = this.data.ncon;
      for (let i = 0; i < n; i++) {
        const c = contacts.get(i);
        if (!c) continue;
        const g1 = c.geom1, g2 = c.geom2;
        c.delete();
        if ((g1 === geom && this.gripperGeoms.has(g2)) || (g2 === geom && this.gripperGeoms.has(g1))) return true;
      }
      return false;
    } finally {
      contacts.delete();
    }
  }

  success(): boolean {
    if (!this.instance) throw new Error('SimWorld.success: reset() first');
    return isSuccess(this.instance, this);
  }

  /** Whether another instance's goal holds in this scene (e.g. the originally named object's). */
  successOf(inst: TaskInstance): boolean { return isSuccess(inst, this); }

  /** Full physics state (for determinism checks and replay). */
  physicsState(): Float64Array {
    const qpos = this.data.qpos as Float64Array;
    const qvel = this.data.qvel as Float64Array;
    const out = new Float64Array(qpos.length + qvel.length + 1);
    out.set(qpos, 0); out.set(qvel, qpos.length); out[out.length - 1] = this.data.time;
    return out;
  }

  dispose(): void {
    this.data.delete();
    this.model.delete();
  }
}

export { ARM };
