// Outgoing messages: the control loop's trajectories as trajectory_msgs/JointTrajectory (stamped
// or start-now), whole chunks with finite-difference velocities, the forward controller's
// Float64MultiArray, and the time helpers; checked against hand-computed values and against the
// simulated arm's JTC sampler, which must see the same reference from the message as from the loop.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readManifest } from '../../../src/bundle/index.js';
import type { JointTrajectory } from '../../../src/core/index.js';
import {
  checkFresh, chunkTrajectory, durationToSeconds, forwardCommandMessage, nsToTime, RosInputError, secondsToDuration, timeToNs, trajectoryMessage,
  type JointTrajectoryMsg,
} from '../../../src/io/ros/index.js';
import { JtcSampler } from '../../../src/sim/jtc.js';
import { bundlePath } from '../../support/bundles.js';

const NAMES = ['a', 'b'];
const loopTrajectory: JointTrajectory = {
  stampNs: 10_000_000_000n, // the loop's step time (monotonic)
  jointNames: NAMES,
  reason: 'plan',
  points: [
    { positions: Float64Array.of(0.1, -0.2), velocities: Float64Array.of(1, -1), timeFromStartS: 0.01 },
    { positions: Float64Array.of(0.12, -0.22), velocities: Float64Array.of(2, -2), timeFromStartS: 0.02 },
    { positions: Float64Array.of(0.15, -0.25), velocities: Float64Array.of(3, -3), timeFromStartS: 0.03 },
  ],
};

test('time helpers: ns <-> {sec, nanosec}, durations normalized, refusals', () => {
  assert.deepEqual(nsToTime(1_500_000_001n), { sec: 1, nanosec: 500_000_001 });
  assert.equal(timeToNs({ sec: 1_700_000_000, nanosec: 999_999_999 }), 1_700_000_000_999_999_999n);
  assert.deepEqual(secondsToDuration(0.02), { sec: 0, nanosec: 20_000_000 });
  assert.deepEqual(secondsToDuration(2.5), { sec: 2, nanosec: 500_000_000 });
  assert.deepEqual(secondsToDuration(-0.25), { sec: -1, nanosec: 750_000_000 });
  assert.equal(durationToSeconds({ sec: -1, nanosec: 750_000_000 }), -0.25);
  assert.throws(() => nsToTime(-1n), RangeError);
  assert.throws(() => nsToTime(2n ** 31n * 1_000_000_000n), RangeError);
  const now = 100_000_000_000n;
  checkFresh({ sec: 99, nanosec: 950_000_000 }, now, 0.1, 'js'); // 50 ms old
  checkFresh({ sec: 0, nanosec: 0 }, now, 0.1, 'js'); // unstamped: not judged
  assert.throws(() => checkFresh({ sec: 99, nanosec: 800_000_000 }, now, 0.1, 'js'), (e: Error) => e instanceof RosInputError && e.reason === 'stale' && /0\.200 s old/.test(e.message));
});

test('a loop trajectory, stamped in ROS time: the same points, velocities and times', () => {
  const offset = 1_700_000_000_000_000_000n - 10_000_000_000n; // ROS time of monotonic 10 s = 1.7e9 s
  const m = trajectoryMessage(loopTrajectory, { rosOffsetNs: offset });
  assert.deepEqual(m.header.stamp, { sec: 1_700_000_000, nanosec: 0 });
  assert.deepEqual(m.joint_names, NAMES);
  assert.equal(m.points.length, 3);
  assert.deepEqual(m.points.map((p) => p.time_from_start), [{ sec: 0, nanosec: 10_000_000 }, { sec: 0, nanosec: 20_000_000 }, { sec: 0, nanosec: 30_000_000 }]);
  assert.deepEqual(Array.from(m.points[1]!.positions), [0.12, -0.22]);
  assert.deepEqual(Array.from(m.points[2]!.velocities), [3, -3], 'the last point keeps its velocity unless asked');
  assert.equal(m.points[0]!.accelerations.length, 0);
  assert.notEqual(m.points[0]!.positions, loopTrajectory.points[0]!.positions, 'a copy: the loop may reuse its arrays');
  const rest = trajectoryMessage(loopTrajectory, { rosOffsetNs: offset, endAtRest: true });
  assert.deepEqual(Array.from(rest.points[2]!.velocities), [0, 0]);
  assert.deepEqual(Array.from(rest.points[1]!.velocities), [2, -2]);
});

test('start-now form: stamp zero, point times shifted by how late the message is, points already due dropped', () => {
  const m = trajectoryMessage(loopTrajectory, { nowNs: loopTrajectory.stampNs + 15_000_000n });
  assert.deepEqual(m.header.stamp, { sec: 0, nanosec: 0 });
  assert.equal(m.points.length, 2);
  assert.deepEqual(m.points.map((p) => p.time_from_start), [{ sec: 0, nanosec: 5_000_000 }, { sec: 0, nanosec: 15_000_000 }]);
  assert.deepEqual(Array.from(m.points[0]!.positions), [0.12, -0.22]);
  const unshifted = trajectoryMessage(loopTrajectory);
  assert.deepEqual(unshifted.points.map((p) => p.time_from_start.nanosec), [10_000_000, 20_000_000, 30_000_000]);
});

test('a chunk as a trajectory: action i at i*dt from t0, finite-difference velocities, at rest at the end', () => {
  const dt = 0.02;
  // Joint a: 0, 0.1, 0.3, 0.6; joint b: 1, 1, 0.8, 0.8.
  const actions = Float32Array.of(0, 1, 0.1, 1, 0.3, 0.8, 0.6, 0.8);
  const t = chunkTrajectory({ t0Ns: 5_000_000_000n, dt, horizon: 4, actionDim: 2, actions }, NAMES);
  assert.equal(t.stampNs, 5_000_000_000n);
  assert.deepEqual(t.points.map((p) => p.timeFromStartS), [0, 0.02, 0.04, 0.06]);
  const v = t.points.map((p) => Array.from(p.velocities));
  const f = (x: number) => Math.fround(x);
  const close = (a: number[], b: number[]) => a.every((x, i) => Math.abs(x - b[i]!) < 1e-5);
  assert.ok(close(v[0]!, [(f(0.1) - 0) / dt, 0]), `v0 ${v[0]}`); // forward difference: 5, 0
  assert.ok(close(v[1]!, [(f(0.3) - 0) / (2 * dt), (f(0.8) - 1) / (2 * dt)]), `v1 ${v[1]}`); // 7.5, -5
  assert.ok(close(v[2]!, [(f(0.6) - f(0.1)) / (2 * dt), (f(0.8) - 1) / (2 * dt)]), `v2 ${v[2]}`); // 12.5, -5
  assert.deepEqual(v[3], [0, 0]);
  assert.deepEqual(Array.from(t.points[2]!.positions), [f(0.3), f(0.8)]);
  // Actions already due are left out; times stay relative to t0.
  const late = chunkTrajectory({ t0Ns: 5_000_000_000n, dt, horizon: 4, actionDim: 2, actions }, NAMES, 5_020_000_000n);
  assert.deepEqual(late.points.map((p) => p.timeFromStartS), [0.04, 0.06]);
  assert.throws(() => chunkTrajectory({ t0Ns: 0n, dt, horizon: 4, actionDim: 2, actions }, ['a']), /2 actions per step, 1 joint names/);
});

test('a shipped bundle\'s chunk shape: chunk_length points at control_dt; the sim JTC samples the message as it samples the loop\'s trajectory', async () => {
  const io = (await readManifest(bundlePath('vlad-base-flow'))).io;
  const H = io.chunk_length, A = io.action_dim, dt = io.control_dt;
  const names = (io.action_names ?? io.state_names)!;
  const actions = new Float32Array(H * A);
  for (let i = 0; i < H; i++) for (let j = 0; j < A; j++) actions[i * A + j] = 0.3 * Math.sin(i * dt * (j + 1)) + 0.01 * j;
  const traj = chunkTrajectory({ t0Ns: 2_000_000_000n, dt, horizon: H, actionDim: A, actions }, names);
  const msg = trajectoryMessage(traj, { rosOffsetNs: 0n });
  assert.equal(msg.points.length, H);
  assert.deepEqual(msg.points[H - 1]!.time_from_start, secondsToDuration((H - 1) * dt));
  assert.deepEqual(msg.header.stamp, { sec: 2, nanosec: 0 });

  const fromLoop = new JtcSampler(A, H);
  const fromMsg = new JtcSampler(A, H);
  const fill = (jtc: JtcSampler, stampNs: number, pts: { t: number; p: ArrayLike<number>; v: ArrayLike<number> }[]) => {
    const b = jtc.incoming;
    b.stampNs = stampNs;
    b.count = pts.length;
    pts.forEach((x, k) => { b.times[k] = x.t; b.positions.set(Array.from(x.p), k * A); b.velocities.set(Array.from(x.v), k * A); });
    jtc.commit();
  };
  const start = new Float64Array(A);
  fromLoop.reset(start);
  fromMsg.reset(start);
  fill(fromLoop, Number(traj.stampNs), traj.points.map((p) => ({ t: p.timeFromStartS, p: p.positions, v: p.velocities })));
  fill(fromMsg, Number(timeToNs(msg.header.stamp)), msg.points.map((p: JointTrajectoryMsg['points'][number]) => ({ t: durationToSeconds(p.time_from_start), p: p.positions, v: p.velocities })));
  for (let k = 0; k <= 260; k++) {
    const t = 2e9 + k * 4e6; // the sim's 250 Hz physics ticks, past the end
    assert.equal(fromLoop.sample(t), fromMsg.sample(t));
    for (let j = 0; j < A; j++) assert.ok(Math.abs(fromLoop.reference[j]! - fromMsg.reference[j]!) < 1e-9, `tick ${k} joint ${j}`);
  }
  assert.ok(Math.abs(fromMsg.reference[0]! - actions[(H - 1) * A]!) < 1e-9, 'holds the last action after the end');
});

test('forward command: the positions in joint order, empty layout, a copy', () => {
  const positions = Float64Array.of(0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.04);
  const m = forwardCommandMessage({ positions });
  assert.deepEqual(Array.from(m.data), [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.04]);
  assert.deepEqual(m.layout, { dim: [], data_offset: 0 });
  positions[0] = 9;
  assert.equal(m.data[0], 0.1);
});
