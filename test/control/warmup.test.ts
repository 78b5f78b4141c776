// Start-up: the tick path is warmed on a throwaway loop before the epoch, and the real timer's
// margin widens when the event loop wakes late.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ControlLoop, ObservationStore, loadRobotDescription, nextTimerMarginMs, warmUpControlPath } from '../../src/control/index.js';
import { packagePath, systemClock } from '../../src/core/index.js';
import { KinematicArm, makeChunk, reference, rigStreams, robot } from './support.js';

const simRobotDescription = () => loadRobotDescription(packagePath('hw-profiles', 'robots', 'vlad-sim-arm.yaml'));

for (const [join, output] of [['replace', 'forward'], ['ensemble', 'forward'], ['rtc', 'forward'], ['rtc', 'trajectory']] as const) {
  test(`warm-up (${join}, ${output}) drives the throwaway loop through run, hold and stop, with clamps and chunk joins`, async () => {
    const r = await warmUpControlPath({ rateHz: 200, robotDescription: await simRobotDescription(), join: { method: join }, output, ticks: 1200 });
    assert.equal(r.ticks, 1200);
    assert.ok(r.chunks >= 20, `chunks ${r.chunks}`);
    assert.ok((r.states.run ?? 0) > 600, JSON.stringify(r.states));
    assert.ok((r.states.hold ?? 0) > 0 && (r.states.stop ?? 0) > 0, JSON.stringify(r.states));
    assert.ok(r.clamps > 0, 'the safety filter clamped something');
  });
}

test('run() warms up first and nothing of the warm-up reaches the real robot', async () => {
  const desc = robot(3);
  const arm = new KinematicArm(systemClock, desc, undefined, 0.01);
  const obs = new ObservationStore(arm, rigStreams(100));
  const loop = new ControlLoop({
    rateHz: 100, robot: arm, observations: obs, robotDescription: desc, warmUpTicks: 800,
    planner: { plan: async (o) => makeChunk(o.stampNs, 0.01, 50, 3, (i, j) => 0.1 * reference(i * 0.01, j)) },
  });
  const done = loop.run();
  setTimeout(() => loop.stop(), 120);
  const acc = await done;
  loop.close();
  assert.equal(loop.warmUp?.ticks, 800);
  assert.ok(acc.ticks > 0);
  // The real robot saw only the real loop's steps, on the real epoch's grid (the warm-up's run on
  // a virtual clock near t = 1 s).
  assert.equal(arm.commands.length, acc.ticks);
  for (const [i, c] of arm.commands.entries()) {
    assert.equal(c.stampNs, loop.epoch! + BigInt(c.step) * loop.periodNs);
    if (i > 0) assert.ok(c.step > arm.commands[i - 1]!.step);
  }
  assert.ok(arm.commands[0]!.stampNs > 10_000_000_000n, 'a real clock stamp');
  assert.deepEqual(arm.violations, []);
});

test('timer margin: widened at once past a late wake, capped, then decays back to the minimum', () => {
  assert.equal(nextTimerMarginMs(1.5, -0.3, 1.5, 4), 1.5);
  assert.equal(nextTimerMarginMs(1.5, 2.0, 1.5, 4), 2.5);
  assert.equal(nextTimerMarginMs(1.5, 9.0, 1.5, 4), 4);
  let m = 4;
  for (let i = 0; i < 100; i++) m = nextTimerMarginMs(m, 0, 1.5, 4);
  assert.ok(m > 1.5 && m < 1.5 + 2.5 / Math.E + 0.01, `after 100 quiet ticks ${m}`);
  for (let i = 0; i < 1000; i++) m = nextTimerMarginMs(m, 0, 1.5, 4);
  assert.ok(m - 1.5 < 1e-3);
});
