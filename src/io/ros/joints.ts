// sensor_msgs/JointState to the state vector, by name. The map is built once at configure from
// the configured joint order (the `joint_names` parameter, which is the bundle's state order and
// the robot description's joint order); each message is then read by name, whatever order the
// robot publishes in. A message that does not fit is refused whole (RosInputError), never half used.
//
// Names map 1:1 by default. A state entry may instead be the sum of several published joints: a
// parallel gripper whose two finger joints each report their travel gives its opening as their
// sum, which is how the simulated arm builds its gripper dimension (sim/world.ts: finger_l +
// finger_r). The robot description has no such field, so the driver passes it (`sums`).
import type { JointState } from '../../core/index.js';
import { RosConfigError, RosInputError } from './errors.js';
import type { Float64Seq, JointStateMsg } from './messages.js';

export interface JointMapOptions {
  /** State name -> the published joint names whose positions (and velocities) add up to it. */
  readonly sums?: Readonly<Record<string, readonly string[]>>;
  /** Published joints the policy does not use (a mobile base, a second arm): read past, not refused. */
  readonly ignore?: readonly string[];
}

/** The published joint names each state entry reads, in state order. */
export function sourceJoints(stateNames: readonly string[], opts: JointMapOptions = {}): string[][] {
  for (const k of Object.keys(opts.sums ?? {})) {
    if (!stateNames.includes(k)) throw new RosConfigError(`joint sums: '${k}' is not a configured joint (${stateNames.join(', ')})`);
  }
  return stateNames.map((n) => {
    const s = opts.sums?.[n];
    if (s !== undefined && s.length === 0) throw new RosConfigError(`joint sums: '${n}' sums no joints`);
    return s ? [...s] : [n];
  });
}

/**
 * Configure-time check of the configured joints against what the robot has (its published
 * JointState names, or another list that must agree): every missing and every extra joint in one
 * error, so a wrong params file is fixed in one go.
 */
export function checkJointNames(expected: readonly string[], available: readonly string[], opts: JointMapOptions = {}): void {
  const wanted = sourceJoints(expected, opts).flat();
  const problems: string[] = [];
  const dup = wanted.filter((n, i) => wanted.indexOf(n) !== i);
  if (dup.length) problems.push(`listed twice: ${[...new Set(dup)].join(', ')}`);
  const have = new Set(available);
  const missing = wanted.filter((n) => !have.has(n));
  const ignore = new Set(opts.ignore ?? []);
  const extra = available.filter((n) => !wanted.includes(n) && !ignore.has(n));
  if (missing.length) problems.push(`missing: ${missing.join(', ')}`);
  if (extra.length) problems.push(`extra: ${extra.join(', ')} (add them to the ignored joints if the policy does not use them)`);
  if (problems.length) throw new RosConfigError(`joint names do not match the robot's [${available.join(', ')}]: ${problems.join('; ')}`);
}

/** Reads JointState messages into the configured state order. */
export class JointStateMapper {
  readonly stateNames: readonly string[];
  private readonly sources: string[][];
  private readonly ignore: ReadonlySet<string>;
  /** Published name -> state index, for the names we read. */
  private readonly slot = new Map<string, number>();
  /** The last message's name order and, per message index, its state slot (-1: ignored): reused while the order repeats. */
  private lastNames: readonly string[] = [];
  private lastPlan: Int32Array = new Int32Array(0);

  constructor(stateNames: readonly string[], opts: JointMapOptions = {}) {
    this.stateNames = [...stateNames];
    this.sources = sourceJoints(stateNames, opts);
    this.ignore = new Set(opts.ignore ?? []);
    this.sources.forEach((names, i) => {
      for (const n of names) {
        if (this.slot.has(n)) throw new RosConfigError(`joint '${n}' is read twice (joint names and sums overlap)`);
        this.slot.set(n, i);
      }
    });
  }

  /** The joint state the message carries, stamped `stampNs` (the driver's clock). Throws RosInputError. */
  map(msg: JointStateMsg, stampNs: bigint, what = 'joint_states'): JointState {
    const names = msg.name;
    const n = names.length;
    if (msg.position.length !== n) throw new RosInputError('length', `${what}: ${n} names, ${msg.position.length} positions`);
    const plan = this.plan(names, what);
    const positions = this.gather(plan, msg.position);
    for (let i = 0; i < n; i++) {
      if (plan[i]! >= 0 && !Number.isFinite(msg.position[i]!)) throw new RosInputError('nan', `${what}: position of '${names[i]}' is ${msg.position[i]}`);
    }
    // Velocities are optional (empty is allowed by the message); non-finite ones are dropped, not
    // refused: drivers without a velocity estimate publish NaN, and the positions are still good.
    let velocities: Float64Array | undefined;
    if (msg.velocity.length === n && n > 0) {
      const v = this.gather(plan, msg.velocity);
      if (v.every(Number.isFinite)) velocities = v;
    } else if (msg.velocity.length !== 0) {
      throw new RosInputError('length', `${what}: ${n} names, ${msg.velocity.length} velocities`);
    }
    return velocities ? { stampNs, positions, velocities } : { stampNs, positions };
  }

  private gather(plan: Int32Array, values: Float64Seq): Float64Array {
    const out = new Float64Array(this.stateNames.length);
    for (let i = 0; i < plan.length; i++) { const s = plan[i]!; if (s >= 0) out[s]! += values[i]!; }
    return out;
  }

  /** Where each of the message's joints goes; checks every configured joint is there exactly once. */
  private plan(names: readonly string[], what: string): Int32Array {
    if (sameNames(names, this.lastNames)) return this.lastPlan;
    const plan = new Int32Array(names.length);
    const seen = new Set<string>();
    const unknown: string[] = [];
    names.forEach((name, i) => {
      if (seen.has(name)) throw new RosInputError('unknown_joint', `${what}: joint '${name}' listed twice`);
      seen.add(name);
      const s = this.slot.get(name);
      if (s === undefined && !this.ignore.has(name)) unknown.push(name);
      plan[i] = s ?? -1;
    });
    if (unknown.length) throw new RosInputError('unknown_joint', `${what}: unknown joint${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')}`);
    const missing = [...this.slot.keys()].filter((k) => !seen.has(k));
    if (missing.length) throw new RosInputError('missing_joint', `${what}: missing joint${missing.length > 1 ? 's' : ''} ${missing.join(', ')}`);
    this.lastNames = [...names];
    this.lastPlan = plan;
    return plan;
  }
}

function sameNames(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length || a.length === 0) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
