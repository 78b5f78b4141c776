// A test double of rclnodejs 2.2 (the `Rcl` slice src/io/ros/rclnodejs.ts declares), with a tiny
// in-memory ROS graph so a test can play the robot: publish to the node's subscriptions, read what
// it publishes, call its services as `ros2 service call` / `ros2 lifecycle set` would, set
// parameters as `ros2 param set` would, and move the ROS clock (as /clock does under use_sim_time).
//
// What it reproduces from rclnodejs 2.2.0 (lib/*.js, types/*.d.ts):
// - delivery on the main thread, later than the publish (rclnodejs's executor wakes the JS loop
//   through uv_async: never inside publish()), only while the node spins (held until spin());
//   a message is copied on the way, numeric arrays arrive as typed arrays (enableTypedArray, the
//   default) and missing fields take their .msg defaults (new TypeClass(obj));
// - QoS: a reliable subscription gets nothing from a best-effort publisher;
// - names: `~/x` is the node's `/<ns>/<node>/x`, `x` is `/<ns>/x`;
// - LifecycleNode: rcl_lifecycle's default state machine (transitions valid only from their start
//   state, else an Error as _changeState throws; callback SUCCESS -> goal, FAILURE -> back,
//   ERROR or a throw -> errorprocessing -> onError: SUCCESS -> unconfigured, else finalized; a
//   failed shutdown still ends finalized), callbacks called synchronously with the previous state;
//   with enableCommunicationInterface (default true) the four lifecycle services answer from the
//   callbacks, as lib/lifecycle.js does;
// - LifecyclePublisher: publish() drops while deactivated (and warns, as rclnodejs logs
//   "publisher is not activated");
// - parameters: declareParameter applies overrides unless ignoreOverride, checks value types
//   (integers are bigint), descriptors' ranges and types, runs on-set callbacks on declare too;
//   setParameter refuses undeclared ("Parameter X has not been declared") and read-only ("Parameter
//   X is readonly") parameters before any callback, and a descriptor mismatch with rclnodejs's own
//   (misspelled) reason "Parameter X does not  readonly";
// - service handlers may answer with response.send() later (async) or by returning the response;
// - Node (a plain node) beside LifecycleNode; several doubles may share one Graph, as several
//   processes, each with its own context, share one DDS graph (rclDouble(graph)).
import type { CallbackReturnCode, Rcl, RclCallbackReturnValue, RclLifecycleNode, RclLifecyclePublisher, RclOptions, RclParameter, RclParameterDescriptor, RclPublisher, RclRange, RclService, RclServiceResponse, RclState, RclSubscription, RclTime, RclTimer, SetParametersResult } from '../../src/io/ros/index.js';

const SUCCESS = 97 as CallbackReturnCode;
const FAILURE = 98 as CallbackReturnCode;
const ERROR = 99 as CallbackReturnCode;

// --- messages: defaults and typed-array fields, per type (the fields of the .msg files used) ---

type Msg = Record<string, any>;
const time = () => ({ sec: 0, nanosec: 0 });
const header = () => ({ stamp: time(), frame_id: '' });
const DEFAULTS: Record<string, () => Msg> = {
  'sensor_msgs/msg/JointState': () => ({ header: header(), name: [], position: [], velocity: [], effort: [] }),
  'sensor_msgs/msg/Image': () => ({ header: header(), height: 0, width: 0, encoding: '', is_bigendian: 0, step: 0, data: [] }),
  'sensor_msgs/msg/CompressedImage': () => ({ header: header(), format: '', data: [] }),
  'std_msgs/msg/String': () => ({ data: '' }),
  'std_msgs/msg/Float64MultiArray': () => ({ layout: { dim: [], data_offset: 0 }, data: [] }),
  'trajectory_msgs/msg/JointTrajectory': () => ({ header: header(), joint_names: [], points: [] }),
  'diagnostic_msgs/msg/DiagnosticArray': () => ({ header: header(), status: [] }),
  'lifecycle_msgs/msg/TransitionEvent': () => ({ timestamp: 0n, transition: { id: 0, label: '' }, start_state: { id: 0, label: '' }, goal_state: { id: 0, label: '' } }),
  'rcl_interfaces/msg/ParameterEvent': () => ({ stamp: time(), node: '', new_parameters: [], changed_parameters: [], deleted_parameters: [] }),
};
/** Numeric array fields (path with [] for arrays of messages): Float64Array or Uint8Array when typed. */
const TYPED: Record<string, readonly [string, 'f64' | 'u8'][]> = {
  'sensor_msgs/msg/JointState': [['position', 'f64'], ['velocity', 'f64'], ['effort', 'f64']],
  'sensor_msgs/msg/Image': [['data', 'u8']],
  'sensor_msgs/msg/CompressedImage': [['data', 'u8']],
  'std_msgs/msg/Float64MultiArray': [['data', 'f64']],
  'trajectory_msgs/msg/JointTrajectory': [['points[].positions', 'f64'], ['points[].velocities', 'f64'], ['points[].accelerations', 'f64'], ['points[].effort', 'f64']],
};
const SRV_RESPONSES: Record<string, () => Msg> = {
  'std_srvs/srv/Trigger': () => ({ success: false, message: '' }),
  'std_srvs/srv/SetBool': () => ({ success: false, message: '' }),
  'lifecycle_msgs/srv/ChangeState': () => ({ success: false }),
  'lifecycle_msgs/srv/GetState': () => ({ current_state: { id: 0, label: '' } }),
  'lifecycle_msgs/srv/GetAvailableStates': () => ({ available_states: [] }),
  'lifecycle_msgs/srv/GetAvailableTransitions': () => ({ available_transitions: [] }),
};

function clone(v: any): any {
  if (ArrayBuffer.isView(v)) return (v as any).slice();
  if (Array.isArray(v)) return v.map(clone);
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, clone(x)]));
  return v;
}

function fill(defaults: Msg, msg: Msg): Msg {
  const out: Msg = {};
  for (const [k, d] of Object.entries(defaults)) {
    const v = msg[k];
    out[k] = v === undefined ? d : d && typeof d === 'object' && !Array.isArray(d) && !ArrayBuffer.isView(d) ? fill(d, v) : clone(v);
  }
  return out;
}

function setTyped(m: Msg, path: string[], kind: 'f64' | 'u8', typed: boolean): void {
  const [head, ...rest] = path;
  if (head!.endsWith('[]')) { for (const x of m[head!.slice(0, -2)] ?? []) setTyped(x, rest, kind, typed); return; }
  if (rest.length) { setTyped(m[head!], rest, kind, typed); return; }
  const v = m[head!] ?? [];
  m[head!] = typed ? (kind === 'f64' ? Float64Array.from(v) : Uint8Array.from(v)) : Array.from(v as ArrayLike<number>);
}

/** A message as rclnodejs hands it to a subscription callback. */
export function deliveredAs(type: string, msg: Msg, typedArrays = true): Msg {
  const d = DEFAULTS[type];
  const m = d ? fill(d(), msg) : clone(msg);
  for (const [path, kind] of TYPED[type] ?? []) setTyped(m, path.split('.'), kind, typedArrays);
  return m;
}

// --- parameters ---

const T = { NOT_SET: 0, BOOL: 1, INTEGER: 2, DOUBLE: 3, STRING: 4, BYTE_ARRAY: 5, BOOL_ARRAY: 6, INTEGER_ARRAY: 7, DOUBLE_ARRAY: 8, STRING_ARRAY: 9 };

function validValue(value: unknown, type: number): boolean {
  if (value == null) return type === T.NOT_SET;
  const arr = (ok: (x: unknown) => boolean) => Array.isArray(value) && value.every(ok);
  switch (type) {
    case T.BOOL: return typeof value === 'boolean';
    case T.STRING: return typeof value === 'string';
    case T.DOUBLE: return typeof value === 'number';
    case T.INTEGER: return typeof value === 'bigint';
    case T.BOOL_ARRAY: return arr((x) => typeof x === 'boolean');
    case T.STRING_ARRAY: return arr((x) => typeof x === 'string');
    case T.DOUBLE_ARRAY: case T.BYTE_ARRAY: return arr((x) => typeof x === 'number');
    case T.INTEGER_ARRAY: return arr((x) => typeof x === 'bigint');
    default: return false;
  }
}

export class Parameter implements RclParameter {
  value: unknown;
  constructor(readonly name: string, readonly type: number, value?: unknown) { this.value = value; }
  validate(): void {
    if (typeof this.name !== 'string' || this.name.trim() === '') throw new TypeError('Invalid name');
    if (!validValue(this.value, this.type)) throw new TypeError(`Incompatible value for parameter ${this.name}: ${String(this.value)}`);
  }
}

abstract class Range implements RclRange {
  constructor(readonly fromValue: any, readonly toValue: any, readonly step: any) {}
  abstract inRange(v: number | bigint): boolean;
}
export class FloatingPointRange extends Range {
  constructor(from: number, to: number, step = 0, readonly tolerance = 1e-6) { super(from, to, step); }
  inRange(value: number | bigint): boolean {
    const v = Number(value);
    const close = (a: number, b: number) => Math.abs(a - b) <= this.tolerance;
    if (close(v, this.fromValue) || close(v, this.toValue)) return true;
    if (v < this.fromValue || v > this.toValue) return false;
    if (this.step !== 0) return close(this.fromValue + Math.round((v - this.fromValue) / this.step) * this.step, v);
    return true;
  }
}
export class IntegerRange extends Range {
  constructor(from: bigint, to: bigint, step = 1n) { super(from, to, step); }
  inRange(value: number | bigint): boolean {
    const v = BigInt(value);
    if (v < this.fromValue || v > this.toValue) return false;
    return this.step === 0n || (v - (this.fromValue as bigint)) % (this.step as bigint) === 0n;
  }
}

export class ParameterDescriptor implements RclParameterDescriptor {
  additionalConstraints = '';
  constructor(readonly name: string, readonly type: number = T.NOT_SET, readonly description = '', readonly readOnly = false, readonly range?: RclRange) {}
  validate(): void {
    if (this.range && (this.range instanceof IntegerRange) !== (this.type === T.INTEGER || this.type === T.INTEGER_ARRAY)) {
      if (!(this.range instanceof FloatingPointRange && (this.type === T.DOUBLE || this.type === T.DOUBLE_ARRAY))) throw new TypeError(`Incompatible range for ${this.name}`);
    }
  }
  validateParameter(p: Parameter): void {
    p.validate();
    this.validate();
    if (p.name !== this.name) throw new Error('Name mismatch');
    if (p.type !== this.type) throw new TypeError(`Parameter ${this.name} type mismatch`);
    if (this.range) {
      const vals = Array.isArray(p.value) ? p.value : [p.value];
      if (!vals.every((v) => this.range!.inRange(v as number | bigint))) throw new RangeError(`Parameter ${this.name} out of range`);
    }
  }
}

// --- the graph ---

interface Sub { node: DoubleNode; topic: string; type: string; reliable: boolean; typed: boolean; cb: (m: Msg) => void }
interface Srv { node: DoubleNode; name: string; type: string; cb: (req: Msg, res: RclServiceResponse<Msg>) => unknown }

export interface Published { topic: string; type: string; msg: Msg; node?: string }

/** The in-memory ROS graph every double node joins (one per test). */
export class Graph {
  readonly subs: Sub[] = [];
  readonly services = new Map<string, Srv>();
  /** Everything published, in order (the node's outputs and the test's inputs). */
  readonly published: Published[] = [];
  /** Warnings the double logged as rclnodejs would (dropped lifecycle publishes). */
  readonly warnings: string[] = [];
  /** Parameter overrides as a --params-file / -p gives them (name -> Parameter). */
  readonly overrides = new Map<string, Parameter>();
  private timeNs = 1_000_000_000n;
  readonly nodes = new Set<DoubleNode>();
  private readonly waiters: { topic: string; resolve: () => void }[] = [];

  /** ROS time now (the /clock a simulator would publish under use_sim_time). */
  get nowNs(): bigint { return this.timeNs; }

  /** Moves the ROS clock; timers fire once for every period boundary passed (rcl timers do not queue missed calls). */
  setTime(ns: bigint): void {
    if (ns < this.timeNs) throw new Error('ROS time does not go back here');
    this.timeNs = ns;
    for (const n of this.nodes) n.fireTimers(ns);
  }

  /** Publishes `msg` on `topic` as another node would (default reliable, as QoS.profileDefault). */
  publish(topic: string, type: string, msg: Msg, opts: { reliable?: boolean; node?: DoubleNode } = {}): void {
    this.published.push({ topic, type, msg: clone(msg), ...(opts.node ? { node: opts.node.fqn } : {}) });
    for (const s of this.subs) {
      if (s.topic !== topic || s.node === opts.node) continue;
      if (s.type !== type) continue; // a type mismatch never matches in DDS
      if (s.reliable && opts.reliable === false) continue;
      const m = deliveredAs(type, msg, s.typed);
      s.node.enqueue(() => s.cb(m));
    }
  }

  /** Resolves once something subscribes to `topic`. */
  subscribed(topic: string): Promise<void> {
    if (this.subs.some((s) => s.topic === topic)) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ topic, resolve }));
  }

  addSub(s: Sub): void {
    this.subs.push(s);
    for (const w of this.waiters.filter((x) => x.topic === s.topic)) { this.waiters.splice(this.waiters.indexOf(w), 1); w.resolve(); }
  }

  /** What was published on `topic` (by the node under test, unless `all`). */
  messages(topic: string, all = false): Msg[] {
    return this.published.filter((p) => p.topic === topic && (all || p.node !== undefined)).map((p) => p.msg);
  }

  /** `ros2 service call NAME TYPE REQUEST`: resolves with the response the handler sends or returns. */
  call(name: string, type: string, request: Msg = {}): Promise<Msg> {
    const srv = this.services.get(name);
    if (!srv) return Promise.reject(new Error(`service ${name} is not available`));
    if (srv.type !== type) return Promise.reject(new Error(`service ${name} is ${srv.type}, not ${type}`));
    return new Promise((resolve, reject) => {
      let sent = false;
      const res: RclServiceResponse<Msg> = {
        get template() { return (SRV_RESPONSES[type] ?? (() => ({})))(); },
        send: (r: Msg) => { if (sent) return; sent = true; resolve(clone(r)); },
      };
      srv.node.enqueue(() => {
        Promise.resolve(srv.cb(clone(request), res)).then((ret) => { if (!sent && ret) { sent = true; resolve(clone(ret as Msg)); } }, reject);
      });
    });
  }

  /** `ros2 param set NODE NAME VALUE`: the node's set_parameters answer. YAML typing: integers as bigint. */
  setParameter(nodeName: string, name: string, value: unknown): SetParametersResult {
    const node = [...this.nodes].find((n) => n.fqn === nodeName || n.name() === nodeName);
    if (!node) throw new Error(`node ${nodeName} not found`);
    const type = typeof value === 'boolean' ? T.BOOL : typeof value === 'bigint' || Number.isInteger(value) ? T.INTEGER : typeof value === 'number' ? T.DOUBLE : typeof value === 'string' ? T.STRING : T.NOT_SET;
    const v = type === T.INTEGER ? BigInt(value as number) : value;
    return node.setParameter(new Parameter(name, type, v));
  }

  /** Runs every queued callback (and those they queue) until none is left. */
  async drain(): Promise<void> {
    for (let i = 0; i < 100; i++) {
      await new Promise((r) => setImmediate(r));
      if (![...this.nodes].some((n) => n.busy)) return;
    }
  }
}

let currentGraph: Graph | undefined;

// --- nodes ---

class DoubleTimer implements RclTimer {
  private canceled = false;
  constructor(readonly period: bigint, readonly cb: () => void, public nextNs: bigint) {}
  cancel(): void { this.canceled = true; }
  isCanceled(): boolean { return this.canceled; }
}

class DoublePublisher implements RclPublisher {
  constructor(protected readonly node: DoubleNode, readonly topic: string, readonly type: string, readonly reliable: boolean) {}
  publish(message: object): void { this.node.graph.publish(this.topic, this.type, message as Msg, { reliable: this.reliable, node: this.node }); }
}

class DoubleLifecyclePublisher extends DoublePublisher implements RclLifecyclePublisher {
  private enabled = false;
  override publish(message: object): void {
    if (!this.enabled) { this.node.graph.warnings.push(`Trying to publish message on the topic ${this.topic}, but the publisher is not activated`); return; }
    super.publish(message);
  }
  activate(): void { this.enabled = true; }
  deactivate(): void { this.enabled = false; }
  isActivated(): boolean { return this.enabled; }
}

const BEST_EFFORT = new Set(['qos_profile_sensor_data']);

class DoubleNode {
  readonly graph: Graph;
  private readonly params = new Map<string, Parameter>();
  private readonly descriptors = new Map<string, ParameterDescriptor>();
  private readonly onSet: ((ps: RclParameter[]) => SetParametersResult)[] = [];
  private readonly timers = new Set<DoubleTimer>();
  private readonly queue: (() => void)[] = [];
  private spinning = false;
  private destroyed = false;
  private scheduled = false;
  busy = false;

  constructor(private readonly nodeName: string, private readonly ns = '') {
    if (!currentGraph) throw new Error('rclnodejs double: init() first');
    this.graph = currentGraph;
    this.graph.nodes.add(this);
    this.declareParameter(new Parameter('use_sim_time', T.BOOL, false));
  }

  get fqn(): string { return `${this.ns.replace(/\/$/, '')}/${this.nodeName}`; }
  name(): string { return this.nodeName; }
  namespace(): string { return this.ns || '/'; }
  now(): RclTime { return { nanoseconds: this.graph.nowNs }; }

  resolve(name: string): string {
    if (name.startsWith('~/')) return `${this.fqn}/${name.slice(2)}`;
    if (name.startsWith('/')) return name;
    return `${this.ns.replace(/\/$/, '')}/${name}`;
  }

  enqueue(fn: () => void): void {
    if (this.destroyed) return;
    this.queue.push(fn);
    this.busy = true;
    if (this.spinning) this.schedule();
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      const batch = this.queue.splice(0);
      for (const fn of batch) {
        if (this.destroyed) break;
        // rclnodejs lets a callback's exception escape to the process (uncaught): so does the double.
        fn();
      }
      this.busy = this.queue.length > 0;
      if (this.busy) this.schedule();
    });
  }

  spin(_timeout?: number): void {
    if (this.spinning) throw new Error('The node is already spinning.');
    this.spinning = true;
    if (this.queue.length) this.schedule();
  }

  fireTimers(now: bigint): void {
    for (const t of this.timers) {
      if (t.isCanceled() || now < t.nextNs) continue;
      t.nextNs += ((now - t.nextNs) / t.period + 1n) * t.period;
      this.enqueue(t.cb);
    }
  }

  createPublisher(type: string, topic: string, options?: RclOptions): RclPublisher {
    return new DoublePublisher(this, this.resolve(topic), type, !BEST_EFFORT.has(options?.qos ?? ''));
  }

  createLifecyclePublisher(type: string, topic: string, options?: RclOptions): RclLifecyclePublisher {
    return new DoubleLifecyclePublisher(this, this.resolve(topic), type, !BEST_EFFORT.has(options?.qos ?? ''));
  }

  createSubscription(type: string, topic: string, options: RclOptions, callback: (m: any) => void): RclSubscription {
    const s: Sub = { node: this, topic: this.resolve(topic), type, reliable: !BEST_EFFORT.has(options?.qos ?? ''), typed: options?.enableTypedArray ?? true, cb: callback };
    this.graph.addSub(s);
    return { topic: s.topic, _sub: s } as RclSubscription;
  }

  createService(type: string, name: string, callback: (req: any, res: RclServiceResponse<any>) => void): RclService {
    const full = this.resolve(name);
    if (this.graph.services.has(full)) throw new Error(`service ${full} exists already`);
    this.graph.services.set(full, { node: this, name: full, type, cb: callback });
    return { serviceName: full };
  }

  createTimer(period: bigint, callback: () => void): RclTimer {
    if (typeof period !== 'bigint') throw new TypeError('period must be a bigint (ns)');
    const t = new DoubleTimer(period, callback, this.graph.nowNs + period);
    this.timers.add(t);
    return t;
  }

  declareParameter(parameter: RclParameter, descriptor?: RclParameterDescriptor, ignoreOverride = false): RclParameter {
    const p = (!ignoreOverride && this.graph.overrides.get(parameter.name)) || (parameter as Parameter);
    if (this.params.has(p.name)) throw new Error(`Parameter(${p.name}) already declared.`);
    const d = (descriptor as ParameterDescriptor | undefined) ?? new ParameterDescriptor(p.name, p.type);
    d.validate();
    this.descriptors.set(d.name, d);
    const r = this.setAtomically([p], true);
    if (!r.successful) { this.descriptors.delete(d.name); throw new Error(r.reason); }
    return this.params.get(p.name)!;
  }

  hasParameter(name: string): boolean { return this.params.has(name); }
  getParameter(name: string): RclParameter {
    const p = this.params.get(name);
    if (!p) throw new Error(`Parameter ${name} has not been declared`);
    return p;
  }
  getParameterDescriptor(name: string): ParameterDescriptor | undefined { return this.descriptors.get(name); }

  setParameter(parameter: RclParameter): SetParametersResult { return this.setAtomically([parameter as Parameter], false); }

  addOnSetParametersCallback(cb: (ps: RclParameter[]) => SetParametersResult): void { this.onSet.unshift(cb); }

  private setAtomically(ps: Parameter[], declaring: boolean): SetParametersResult {
    for (const p of ps) {
      try { p.validate(); } catch { return { successful: false, reason: `Invalid ${p.name}` }; }
      const d = this.descriptors.get(p.name);
      if (!d) return { successful: false, reason: `Parameter ${p.name} has not been declared` };
      if (!declaring && d.readOnly) return { successful: false, reason: `Parameter ${p.name} is readonly` };
      if (p.type !== T.NOT_SET) {
        try { d.validateParameter(p); } catch { return { successful: false, reason: `Parameter ${p.name} does not  readonly` }; }
      }
    }
    for (const cb of this.onSet) {
      const r = cb(ps);
      if (!r.successful) return r;
    }
    for (const p of ps) this.params.set(p.name, p);
    this.graph.published.push({ topic: '/parameter_events', type: 'rcl_interfaces/msg/ParameterEvent', node: this.fqn, msg: { node: this.fqn, [declaring ? 'new_parameters' : 'changed_parameters']: ps.map((p) => ({ name: p.name, type: p.type, value: p.value })) } });
    return { successful: true, reason: '' };
  }

  destroyPublisher(_p: RclPublisher): void {}
  destroySubscription(s: RclSubscription): void {
    const sub = (s as unknown as { _sub: Sub })._sub;
    const i = this.graph.subs.indexOf(sub);
    if (i >= 0) this.graph.subs.splice(i, 1);
  }
  destroyService(s: RclService): void { this.graph.services.delete(s.serviceName); }
  destroyTimer(t: RclTimer): void { this.timers.delete(t as DoubleTimer); }

  destroy(): void {
    this.destroyed = true;
    this.queue.length = 0;
    for (let i = this.graph.subs.length - 1; i >= 0; i--) if (this.graph.subs[i]!.node === this) this.graph.subs.splice(i, 1);
    for (const [k, s] of this.graph.services) if (s.node === this) this.graph.services.delete(k);
    this.timers.clear();
    this.graph.nodes.delete(this);
  }
}

// --- lifecycle (rcl_lifecycle's default state machine) ---

const S = { unconfigured: 1, inactive: 2, active: 3, finalized: 4, configuring: 10, cleaningup: 11, shuttingdown: 12, activating: 13, deactivating: 14, errorprocessing: 15 } as const;
type SL = keyof typeof S;
const st = (label: SL): RclState => ({ id: S[label], label });
/** transition -> start states, intermediate, goal on success, where a FAILURE returns to (null: the start state). */
const MACHINE: Record<string, { from: SL[]; via: SL; ok: SL; fail: SL | null; ids: Partial<Record<SL, number>> }> = {
  configure: { from: ['unconfigured'], via: 'configuring', ok: 'inactive', fail: 'unconfigured', ids: { unconfigured: 1 } },
  cleanup: { from: ['inactive'], via: 'cleaningup', ok: 'unconfigured', fail: 'inactive', ids: { inactive: 2 } },
  activate: { from: ['inactive'], via: 'activating', ok: 'active', fail: 'inactive', ids: { inactive: 3 } },
  deactivate: { from: ['active'], via: 'deactivating', ok: 'inactive', fail: 'active', ids: { active: 4 } },
  shutdown: { from: ['unconfigured', 'inactive', 'active'], via: 'shuttingdown', ok: 'finalized', fail: 'finalized', ids: { unconfigured: 5, inactive: 6, active: 7 } },
};

class CallbackReturnValue implements RclCallbackReturnValue {
  errorMsg = '';
  constructor(public value: CallbackReturnCode = SUCCESS) {}
  isSuccess(): boolean { return this.value === SUCCESS; }
  isFailure(): boolean { return this.value === FAILURE; }
  isError(): boolean { return this.value === ERROR; }
  valueOf(): CallbackReturnCode { return this.value; }
}

class DoubleLifecycleNode extends DoubleNode implements RclLifecycleNode {
  private state: SL = 'unconfigured';
  private readonly callbacks = new Map<SL, (prev: RclState) => CallbackReturnCode>();
  /** Every state the machine passed through (tests read the rcl side's history). */
  readonly history: string[] = ['unconfigured'];

  constructor(name: string, ns?: string, _context?: unknown, _options?: unknown, enableCommunicationInterface = true) {
    super(name, ns);
    if (enableCommunicationInterface) {
      this.createService('lifecycle_msgs/srv/GetState', '~/get_state', (_q, r) => r.send({ current_state: this.currentState }));
      this.createService('lifecycle_msgs/srv/ChangeState', '~/change_state', (q: { transition: { id: number; label: string } }, r) => {
        const entry = Object.entries(MACHINE).find(([label, m]) => (q.transition.label ? label === q.transition.label : m.ids[this.state] === q.transition.id));
        if (!entry) { r.send({ success: false }); return; }
        const rv = new CallbackReturnValue();
        try { this.change(entry[0], rv); } catch { r.send({ success: false }); return; }
        r.send({ success: rv.isSuccess() });
      });
    }
  }

  get currentState(): RclState { return st(this.state); }

  registerOnConfigure(cb: (p: RclState) => CallbackReturnCode): void { this.callbacks.set('configuring', cb); }
  registerOnActivate(cb: (p: RclState) => CallbackReturnCode): void { this.callbacks.set('activating', cb); }
  registerOnDeactivate(cb: (p: RclState) => CallbackReturnCode): void { this.callbacks.set('deactivating', cb); }
  registerOnCleanup(cb: (p: RclState) => CallbackReturnCode): void { this.callbacks.set('cleaningup', cb); }
  registerOnShutdown(cb: (p: RclState) => CallbackReturnCode): void { this.callbacks.set('shuttingdown', cb); }
  registerOnError(cb: (p: RclState) => CallbackReturnCode): void { this.callbacks.set('errorprocessing', cb); }

  configure(rv?: RclCallbackReturnValue): RclState { return this.change('configure', rv); }
  activate(rv?: RclCallbackReturnValue): RclState { return this.change('activate', rv); }
  deactivate(rv?: RclCallbackReturnValue): RclState { return this.change('deactivate', rv); }
  cleanup(rv?: RclCallbackReturnValue): RclState { return this.change('cleanup', rv); }
  shutdown(rv?: RclCallbackReturnValue): RclState { return this.change('shutdown', rv); }

  private run(via: SL, prev: RclState): CallbackReturnCode {
    const cb = this.callbacks.get(via);
    if (!cb) return SUCCESS;
    try { return cb(prev); } catch { return ERROR; }
  }

  private change(t: string, rv?: RclCallbackReturnValue): RclState {
    const m = MACHINE[t]!;
    if (!m.from.includes(this.state)) throw new Error(`No transition available from state ${t}`);
    const prev = this.currentState;
    this.state = m.via;
    this.history.push(m.via);
    let code = this.run(m.via, prev);
    if (rv) rv.value = code;
    if (code === SUCCESS) this.state = m.ok;
    else if (code === FAILURE) this.state = m.fail ?? prev.label as SL;
    else {
      this.state = 'errorprocessing';
      this.history.push('errorprocessing');
      code = this.run('errorprocessing', prev);
      if (rv) rv.value = code;
      this.state = code === SUCCESS ? 'unconfigured' : 'finalized';
    }
    this.history.push(this.state);
    return this.currentState;
  }
}

// --- the module ---

export interface RclDouble extends Rcl { readonly graph: Graph; inits: number }

/**
 * A fresh double (one process's rclnodejs) on its own graph, or on `graph` to join another
 * double's: two processes on one DDS graph, each with its own context, whose nodes hear each
 * other's topics and services. `init` must be awaited before nodes exist, as with rclnodejs.
 */
export function rclDouble(graph: Graph = new Graph()): RclDouble {
  const mine = new Set<DoubleNode>();
  // Nodes join this double's graph and belong to its context (shutdown destroys only them).
  const own = <C extends abstract new (...a: any[]) => DoubleNode>(Base: C) => {
    abstract class Owned extends Base {
      constructor(...a: any[]) {
        if (!up) throw new Error('rclnodejs double: init() first');
        currentGraph = graph;
        super(...a);
        mine.add(this);
      }
    }
    return Owned;
  };
  let up = false;
  const double: RclDouble = {
    graph,
    inits: 0,
    async init() {
      if (up) throw new Error('The context has already been initialized.');
      up = true;
      double.inits++;
      currentGraph = graph;
    },
    shutdown() {
      if (!up) throw new Error('The context has already been shut down.');
      up = false;
      // Only this context's nodes: another process on the same graph keeps its own.
      for (const n of [...graph.nodes]) if (mine.has(n)) n.destroy();
    },
    isShutdown: () => !up,
    Node: own(DoubleNode) as unknown as RclDouble['Node'],
    lifecycle: { LifecycleNode: own(DoubleLifecycleNode) as unknown as RclDouble['lifecycle']['LifecycleNode'], CallbackReturnValue },
    Parameter, ParameterDescriptor, IntegerRange, FloatingPointRange,
    QoS: { profileDefault: 'qos_profile_default', profileSystemDefault: 'qos_profile_system_default', profileSensorData: 'qos_profile_sensor_data', profileServicesDefault: 'qos_profile_services_default' },
  };
  return double;
}
