// The simulated JointTrajectoryController's sampler on its own: spline through the points, hold
// after the end, and replacement from the new trajectory's stamp.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { JtcSampler, type TrajectoryBuffer } from '../../src/sim/jtc.js';

const q = (t: number) => 0.3 + 0.5 * t * t - 0.2 * t * t * t; // q'(0) = 0
const dq = (t: number) => 1.0 * t - 0.6 * t * t;

/** Every joint of the trajectory follows pos/vel. */
function fill(buf: TrajectoryBuffer, dim: number, stampNs: number, times: number[], pos: (t: number) => number, vel: (t: number) => number): void {
  buf.stampNs = stampNs;
  buf.count = times.length;
  times.forEach((t, k) => {
    buf.times[k] = t;
    for (let j = 0; j < dim; j++) { buf.positions[k * dim + j] = pos(t); buf.velocities[k * dim + j] = vel(t); }
  });
}

test('JTC sampler: a cubic through positions + velocities is reproduced exactly, then the last point holds', () => {
  const jtc = new JtcSampler(1, 16);
  jtc.reset([q(0)]);
  assert.equal(jtc.sample(0), false, 'nothing to follow yet');
  fill(jtc.incoming, 1, 1e9, [0.1, 0.25, 0.5, 0.8, 1.0], q, dq);
  jtc.commit();
  assert.equal(jtc.sample(0.5e9), false, 'not before its stamp');
  for (let k = 0; k < 100; k++) {
    const t = k / 100;
    assert.equal(jtc.sample(1e9 + t * 1e9), true);
    assert.ok(Math.abs(jtc.reference[0]! - q(t)) < 1e-9, `q at ${t}: ${jtc.reference[0]} vs ${q(t)}`);
    assert.ok(Math.abs(jtc.referenceVelocity[0]! - dq(t)) < 1e-6, `dq at ${t}`);
  }
  jtc.sample(5e9);
  assert.equal(jtc.reference[0], q(1.0));
  assert.equal(jtc.referenceVelocity[0], 0);
});

test('JTC sampler: a new trajectory takes over at its own stamp, continuing from the reference there', () => {
  const jtc = new JtcSampler(2, 16);
  jtc.reset([0, 0]);
  fill(jtc.incoming, 2, 0, [0.5, 1.0], (t) => t, () => 1);
  jtc.commit();
  jtc.sample(0);
  // B starts at 0.6 s, towards -1 by 1.6 s.
  fill(jtc.incoming, 2, 0.6e9, [1.0], () => -1, () => 0);
  jtc.commit();
  jtc.sample(0.55e9);
  assert.ok(Math.abs(jtc.reference[0]! - 0.55) < 1e-9, 'A still runs before B\'s stamp');
  jtc.sample(0.6e9);
  assert.ok(Math.abs(jtc.reference[0]! - 0.6) < 1e-9, 'B starts where A was');
  assert.ok(Math.abs(jtc.referenceVelocity[0]! - 1) < 1e-9, 'and with A\'s velocity');
  jtc.sample(0.61e9);
  assert.ok(Math.abs(jtc.reference[0]! - 0.6) < 0.011, 'no jump after the switch');
  jtc.sample(1.6e9);
  assert.deepEqual(Array.from(jtc.reference), [-1, -1]);
  jtc.reset([0.2, 0.2]);
  assert.equal(jtc.sample(2e9), false, 'a forward command ends trajectory mode');
  assert.equal(jtc.reference[0], 0.2);
});
