import { test } from 'node:test';
import assert from 'node:assert/strict';
import { followReference, makeChunk, rig } from './support.js';

const EPOCH = 1_000_000_000n;

/** Largest |Δv| / dt over the commands (the arm also checks it against the limits). */
function assertSmooth(commands: { positions: Float64Array }[], amax: number, dt = 0.01) {
  for (let k = 2; k < commands.length; k++) {
    for (let j = 0; j < commands[k]!.positions.length; j++) {
      const a = (commands[k]!.positions[j]! - 2 * commands[k - 1]!.positions[j]! + commands[k - 2]!.positions[j]!) / (dt * dt);
      assert.ok(Math.abs(a) <= amax + 1e-6, `tick ${k} joint ${j}: acceleration ${a}`);
    }
  }
}

test('watchdog: stale observations -> decelerate and hold; fresh data -> a new plan -> recovery', async () => {
  const r = rig({ make: followReference(0.01, 30, 3, EPOCH), latencyS: 0.03, maxAgeS: 0.05 });
  await r.run(0, 100);
  assert.equal(r.loop.state, 'run');
  const moving = Math.max(...r.arm.v.map(Math.abs));
  assert.ok(moving > 0.3, `moving at ${moving}`);
  r.obs.publishing = false; // camera/state stream freezes
  const modes: string[] = [];
  r.loop.addTap((rec) => modes.push(rec.state));
  await r.run(100, 160);
  const holdAt = modes.indexOf('hold');
  assert.ok(holdAt >= 4 && holdAt <= 6, `hold after the 0.05 s threshold: tick ${holdAt}`);
  assert.equal(r.loop.snapshot().watchdogEvents.obs_stale, 1);
  assert.ok(r.arm.v.every((v) => v === 0), 'at rest after braking');
  const held = Float64Array.from(r.arm.q);
  r.obs.publishing = true;
  await r.run(160, 260);
  assert.equal(r.loop.state, 'run');
  assert.equal(r.loop.snapshot().watchdogEvents.recovered, 1);
  const firstRunAgain = modes.indexOf('run', holdAt);
  assert.ok(firstRunAgain > 60, 'stayed in hold until a chunk planned after the fault landed');
  assert.ok(r.arm.commands.slice(0, 160).length === 160);
  assert.ok(held.every(Number.isFinite));
  assertSmooth(r.arm.commands, 20);
  assert.deepEqual(r.arm.violations, []);
});

test('watchdog: an overdue chunk (planner stops answering) -> hold, and planner timeouts are retried', async () => {
  const r = rig({ make: followReference(0.01, 30, 3, EPOCH), latencyS: 0.03, loop: { maxPlanWaitS: 0.2 } });
  await r.run(0, 80);
  r.planner.silent = true;
  await r.run(80, 200);
  const s = r.loop.snapshot();
  assert.equal(r.loop.state, 'hold');
  assert.equal(s.watchdogEvents.chunk_overdue, 1);
  assert.ok((s.watchdogEvents.planner_timeout ?? 0) >= 1, 'the silent request was abandoned');
  assert.ok(r.planner.requests.length >= 4, 'and retried');
  assert.ok(r.arm.v.every((v) => v === 0));
  r.planner.silent = false;
  await r.run(200, 300);
  assert.equal(r.loop.state, 'run');
  assertSmooth(r.arm.commands, 20);
  assert.deepEqual(r.arm.violations, []);
});

test('watchdog: the hard stop always wins (emergency deceleration), latches, and releases into hold', async () => {
  const r = rig({ make: followReference(0.01, 30, 3, EPOCH), latencyS: 0.02 });
  await r.run(0, 100);
  r.loop.hardStop(true);
  const modes: string[] = [];
  r.loop.addTap((rec) => modes.push(rec.state));
  await r.run(100, 150);
  assert.ok(modes.every((m) => m === 'stop'));
  assert.ok(r.arm.v.every((v) => v === 0));
  const requestsDuringStop = r.planner.requests.length;
  await r.run(150, 170);
  assert.equal(r.planner.requests.length, requestsDuringStop, 'no planning while stopped');
  r.loop.hardStop(false);
  await r.run(170, 250);
  const s = r.loop.snapshot();
  assert.equal(s.watchdogEvents.hard_stop, 1);
  assert.equal(s.watchdogEvents.hard_stop_released, 1);
  assert.equal(r.loop.state, 'run');
  assertSmooth(r.arm.commands, 40);
  assert.deepEqual(r.arm.violations, []);
  // A hard stop also wins over a stale/overdue state and over fresh chunks arriving meanwhile.
  r.loop.hardStop(true);
  r.obs.publishing = false;
  await r.run(250, 300);
  assert.equal(r.loop.state, 'stop');
});

test('output: trajectory mode sends JTC points (time_from_start increasing, velocities) that match forward mode', async () => {
  const make = followReference(0.02, 25, 3, EPOCH);
  const fwd = rig({ make, latencyS: 0.03 });
  const make2 = followReference(0.02, 25, 3, EPOCH);
  const trj = rig({ make: make2, latencyS: 0.03, loop: { output: 'trajectory' } });
  await fwd.run(0, 60);
  await trj.run(0, 60);
  assert.equal(trj.arm.commands.length, 0, 'no per-tick commands in trajectory mode');
  // The first chunk's trajectory, the blended one when the policy takes the arm, the second chunk's.
  assert.ok(trj.arm.trajectories.length >= 3);
  const t = trj.arm.trajectories.at(-1)!;
  assert.equal(t.reason, 'plan');
  assert.deepEqual(t.jointNames, ['j0', 'j1', 'j2']);
  for (let i = 1; i < t.points.length; i++) assert.ok(t.points[i]!.timeFromStartS > t.points[i - 1]!.timeFromStartS);
  assert.ok(Math.abs(t.points[1]!.timeFromStartS - t.points[0]!.timeFromStartS - 0.02) < 1e-9, 'one point per chunk dt');
  // Each point is what forward mode commanded at that step.
  const byStep = new Map(fwd.arm.commands.map((c) => [c.stampNs, c]));
  let matched = 0;
  for (const p of t.points) {
    const stamp = t.stampNs + BigInt(Math.round(p.timeFromStartS * 1e9));
    const c = byStep.get(stamp);
    if (!c) continue;
    matched++;
    for (let j = 0; j < 3; j++) {
      assert.ok(Math.abs(c.positions[j]! - p.positions[j]!) < 1e-9, `position at ${p.timeFromStartS}`);
      assert.ok(Math.abs(c.velocities[j]! - p.velocities[j]!) < 1e-9, `velocity at ${p.timeFromStartS}`);
    }
  }
  assert.ok(matched >= 3, `${matched} points matched`);
  // A hold sends a braking trajectory ending at rest.
  trj.loop.hardStop(true);
  await trj.run(60, 62);
  const stop = trj.arm.trajectories.at(-1)!;
  assert.equal(stop.reason, 'stop');
  assert.ok(stop.points.at(-1)!.velocities.every((v) => v === 0));
});

test('loop: planner errors are counted and retried without a storm', async () => {
  let n = 0;
  const r = rig({ make: (obs) => { n++; if (n <= 3) throw new Error('worker crashed'); return makeChunk(obs.stampNs, 0.01, 30, 3, () => 0.1); }, latencyS: 0.01 });
  await r.run(0, 100);
  const s = r.loop.snapshot();
  assert.equal(s.plannerErrors, 3);
  assert.ok(r.planner.requests.length < 12, `${r.planner.requests.length} requests`);
  assert.equal(r.loop.state, 'run');
  assert.ok(r.logs.some((l) => /planner failed: worker crashed/.test(l)));
});
