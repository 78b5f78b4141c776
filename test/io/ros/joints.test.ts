// JointState messages into the state vector by name: the configure-time name check against the
// shipped bundle, the robot description and the launch params file; order, sums (a two-finger
// gripper's opening), and every refusal, counted per topic and reason the way a subscription does.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { readManifest } from '../../../src/bundle/index.js';
import { loadRobotDescription } from '../../../src/control/index.js';
import { readYamlFile } from '../../../src/core/index.js';
import { checkJointNames, InputCounters, JointStateMapper, RosConfigError, RosInputError, type JointStateMsg, type RosInputReason } from '../../../src/io/ros/index.js';
import { bundlePath, repoRoot } from '../../support/bundles.js';

const header = { stamp: { sec: 5, nanosec: 0 }, frame_id: '' };
const ARM = ['joint1', 'joint2', 'joint3', 'joint4', 'joint5', 'joint6', 'gripper'];
const msg = (name: string[], position: number[] | Float64Array, velocity: number[] | Float64Array = [], effort: number[] = []): JointStateMsg => ({ header, name, position, velocity, effort });

function refusal(reason: RosInputReason, f: () => unknown): string {
  try { f(); } catch (e) {
    assert.ok(e instanceof RosInputError, String(e));
    assert.equal(e.reason, reason, e.message);
    return e.message;
  }
  assert.fail(`expected '${reason}'`);
}

test('configure: the bundle, the robot description and the launch params name the same joints; a mismatch is one error naming all of it', async () => {
  const manifest = await readManifest(bundlePath('vlad-base-flow'));
  const robot = await loadRobotDescription(join(repoRoot, 'hw-profiles', 'robots', 'example-arm.yaml'));
  const params = (await readYamlFile(join(repoRoot, 'launch', 'vlad.params.yaml'), 'params')) as { vlad: { ros__parameters: { joint_names: string[] } } };
  const jointNames = params.vlad.ros__parameters.joint_names;
  assert.deepEqual(jointNames, manifest.io.state_names);
  checkJointNames(jointNames, robot.joints.map((j) => j.name));
  checkJointNames(jointNames, [...robot.joints.map((j) => j.name)].reverse()); // order is the mapper's job, not a mismatch

  const published = ['joint1', 'joint2', 'joint3', 'joint4', 'joint5', 'joint6', 'finger_l', 'finger_r', 'base_yaw'];
  assert.throws(() => checkJointNames(jointNames, published), (e: Error) => {
    assert.ok(e instanceof RosConfigError);
    assert.match(e.message, /missing: gripper/);
    assert.match(e.message, /extra: finger_l, finger_r, base_yaw/);
    return true;
  });
  // The two fingers give the gripper dimension (as the simulated arm's state does); the base is ignored.
  checkJointNames(jointNames, published, { sums: { gripper: ['finger_l', 'finger_r'] }, ignore: ['base_yaw'] });
  assert.throws(() => checkJointNames(['a', 'a'], ['a']), /listed twice: a/);
  assert.throws(() => checkJointNames(ARM, published, { sums: { hand: ['finger_l'] } }), /'hand' is not a configured joint/);
});

test('a message in any order lands in the configured order, velocities with it; the order is re-read when it changes', () => {
  const m = new JointStateMapper(ARM);
  const names = ['gripper', 'joint6', 'joint5', 'joint4', 'joint3', 'joint2', 'joint1'];
  const s = m.map(msg(names, Float64Array.of(0.04, 6, 5, 4, 3, 2, 1), Float64Array.of(-0.01, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1)), 123n);
  assert.equal(s.stampNs, 123n);
  assert.deepEqual(Array.from(s.positions), [1, 2, 3, 4, 5, 6, 0.04]);
  assert.deepEqual(Array.from(s.velocities!), [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, -0.01]);
  // The same order again (the cached plan), then another order with plain arrays.
  assert.deepEqual(Array.from(m.map(msg(names, [0, 0, 0, 0, 0, 0.5, 0.7]), 124n).positions), [0.7, 0.5, 0, 0, 0, 0, 0]);
  const t = m.map(msg(ARM, [1.5, 2.5, 3.5, 4.5, 5.5, 6.5, 0.01]), 125n);
  assert.deepEqual(Array.from(t.positions), [1.5, 2.5, 3.5, 4.5, 5.5, 6.5, 0.01]);
  assert.equal(t.velocities, undefined, 'no velocities published');
});

test('a two-finger gripper: the opening is the sum of the fingers (sim/world.ts), ignored joints are read past', () => {
  const m = new JointStateMapper(ARM, { sums: { gripper: ['finger_l', 'finger_r'] }, ignore: ['base_yaw'] });
  const s = m.map(msg(['finger_r', 'joint1', 'joint2', 'joint3', 'base_yaw', 'joint4', 'joint5', 'joint6', 'finger_l'], [0.017, 1, 2, 3, NaN, 4, 5, 6, 0.013], [0.001, 0, 0, 0, 0, 0, 0, 0, 0.002]), 1n);
  assert.ok(Math.abs(s.positions[6]! - 0.03) < 1e-12, `opening ${s.positions[6]}`);
  assert.deepEqual(Array.from(s.positions).slice(0, 6), [1, 2, 3, 4, 5, 6]);
  assert.ok(Math.abs(s.velocities![6]! - 0.003) < 1e-12);
  refusal('missing_joint', () => m.map(msg(['joint1', 'joint2', 'joint3', 'joint4', 'joint5', 'joint6', 'finger_l'], [1, 2, 3, 4, 5, 6, 0.01]), 2n));
  assert.throws(() => new JointStateMapper(ARM, { sums: { gripper: ['joint1', 'finger_r'] } }), /'joint1' is read twice/);
});

test('refusals: NaN / Inf position, unknown, missing or repeated joint, names and arrays of different lengths', () => {
  const m = new JointStateMapper(ARM);
  const good = [1, 2, 3, 4, 5, 6, 0.04];
  assert.match(refusal('nan', () => m.map(msg(ARM, [1, 2, NaN, 4, 5, 6, 0.04]), 1n)), /'joint3' is NaN/);
  refusal('nan', () => m.map(msg(ARM, [1, 2, 3, 4, 5, Infinity, 0.04]), 1n));
  assert.match(refusal('unknown_joint', () => m.map(msg([...ARM, 'elbow_extra'], [...good, 0]), 1n)), /unknown joint elbow_extra/);
  assert.match(refusal('missing_joint', () => m.map(msg(ARM.slice(0, 6), good.slice(0, 6)), 1n)), /missing joint gripper/);
  refusal('unknown_joint', () => m.map(msg([...ARM.slice(0, 6), 'joint1'], good), 1n));
  assert.match(refusal('length', () => m.map(msg(ARM, good.slice(0, 6)), 1n)), /7 names, 6 positions/);
  refusal('length', () => m.map(msg(ARM, good, [0, 0]), 1n));
  // NaN velocities (a driver without an estimate) drop the velocities, not the message.
  const s = m.map(msg(ARM, good, [0, 0, NaN, 0, 0, 0, 0]), 9n);
  assert.deepEqual(Array.from(s.positions), good);
  assert.equal(s.velocities, undefined);
});

test('a subscription counts what it accepts and refuses per topic and reason, and never throws', () => {
  const m = new JointStateMapper(ARM);
  const counters = new InputCounters(['/joint_states', '/cameras/scene/image_raw']);
  const good = msg(ARM, [1, 2, 3, 4, 5, 6, 0.04]);
  const inputs = [good, msg(ARM, [1, 2, NaN, 4, 5, 6, 0.04]), msg([...ARM, 'x'], [1, 2, 3, 4, 5, 6, 0.04, 0]), good, msg(ARM, [1])];
  const out = inputs.map((x, i) => counters.guard('/joint_states', () => m.map(x, BigInt(i)), BigInt(1000 + i)));
  assert.deepEqual(out.map((s) => s === undefined), [false, true, true, false, true]);
  assert.equal(counters.guard('/joint_states', () => { throw new TypeError('a bug'); }), undefined);
  const [js, cam] = counters.window();
  assert.equal(js!.topic, '/joint_states');
  assert.equal(js!.accepted, 2);
  assert.equal(js!.badTotal, 4);
  assert.deepEqual([js!.bad.nan, js!.bad.unknown_joint, js!.bad.length, js!.bad.internal, js!.bad.missing_joint], [1, 1, 1, 1, 0]);
  assert.equal(js!.lastStampNs, 1003n);
  assert.equal(js!.lastError, 'a bug');
  assert.deepEqual(js!.window, { accepted: 2, bad: 4 });
  assert.deepEqual([cam!.accepted, cam!.badTotal, cam!.lastStampNs], [0, 0, undefined]);
  // A new window starts after window(); totals stay.
  const [again] = counters.snapshot();
  assert.deepEqual(again!.window, { accepted: 0, bad: 0 });
  assert.equal(again!.accepted, 2);
});
