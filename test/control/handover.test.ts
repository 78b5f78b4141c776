// Modes and hand-overs on the kinematic arm in virtual time: who commands each tick, what is
// recorded as its provenance, and that no change of commander jumps (the blend keeps the command
// continuous before the safety filter has to step in).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { TickRecord } from '../../src/control/index.js';
import { followReference, rig, robot } from './support.js';

const EPOCH = 1_000_000_000n;
const MAX_STEP = 0.02;
const desc = robot(3, { velocity: 2, acceleration: 20, emergency_deceleration: 40, max_step: MAX_STEP });

function recorder(r: ReturnType<typeof rig>): TickRecord[] {
  const recs: TickRecord[] = [];
  r.loop.addTap((rec) => recs.push(rec));
  return recs;
}

/**
 * Largest per-joint change between consecutive commands (after the safety filter), and between
 * consecutive targets before it (the previous tick's target, or its command when it held).
 */
function jumps(recs: readonly TickRecord[], at: number): { command: number; desired: number } {
  const prev = recs[at - 1]!, cur = recs[at]!;
  let command = 0, desired = 0;
  for (let j = 0; j < 3; j++) {
    command = Math.max(command, Math.abs(cur.command.positions[j]! - prev.command.positions[j]!));
    if (cur.desired) desired = Math.max(desired, Math.abs(cur.desired[j]! - (prev.desired ?? prev.command.positions)[j]!));
  }
  return { command, desired };
}

const far = [0.6, -0.5, 0.4];

test('intervention: the operator takes over at its first command and hands back on release; both hand-overs are blended, never a jump', async () => {
  const r = rig({ desc, make: followReference(0.01, 30, 3, EPOCH), latencyS: 0.03, loop: { mode: 'intervention', handover: { blendS: 0.2, releaseAfterS: 1, operatorTimeoutS: 0.25 } } });
  const recs = recorder(r);
  await r.run(0, 100);
  assert.equal(r.loop.state, 'run');
  assert.ok(recs.slice(50).every((x) => x.source === 'policy' && x.chunk), 'the policy drives, every step carries its chunk');
  // The operator, up to 0.9 rad away from where the policy is, sends commands from step 100 on.
  await r.run(100, 400, () => r.operator.send(far));
  assert.equal(r.loop.operatorEngaged, true);
  const takeover = recs.findIndex((x) => x.step >= 100 && x.source === 'intervention');
  assert.equal(recs[takeover]!.step, 100, 'the first operator command takes over at once');
  for (let i = takeover; i < takeover + 200; i++) {
    const j = jumps(recs, i);
    assert.ok(j.command <= MAX_STEP + 1e-12, `command step ${j.command} at ${recs[i]!.step}`);
    assert.ok(j.desired <= MAX_STEP + 1e-12, `the blend alone keeps the target within one step: ${j.desired} at ${recs[i]!.step}`);
  }
  assert.ok(recs.slice(300, 400).every((x) => x.source === 'intervention'));
  assert.ok(Math.abs(r.arm.q[0]! - far[0]!) < 1e-6, 'the arm reached the operator\'s target');
  assert.equal(r.planner.requests.filter((q) => Number(q.obs.stampNs - EPOCH) >= 1.05e9 && Number(q.obs.stampNs - EPOCH) < 4e9).length, 0, 'no planning while the operator commands');
  // Release: the arm stands still (hold) until the policy's first new chunk lands, then blends into it.
  r.operator.send(far, { release: true });
  await r.run(400, 700);
  assert.equal(r.loop.operatorEngaged, false);
  const back = recs.findIndex((x) => x.step >= 400 && x.source === 'policy');
  assert.ok(back > 0 && recs.slice(recs.findIndex((x) => x.step === 400), back).every((x) => x.source === 'hold'), 'hold between the release and the first chunk');
  for (let i = back; i < back + 200; i++) {
    const j = jumps(recs, i);
    assert.ok(j.command <= MAX_STEP + 1e-12 && j.desired <= MAX_STEP + 1e-12, `hand-back step ${JSON.stringify(j)} at ${recs[i]!.step}`);
  }
  const snap = r.loop.snapshot();
  assert.deepEqual(snap.handovers, { takeover: 1, release: 1, silence: 0 });
  assert.ok(snap.steps.intervention >= 100 && snap.steps.policy > 100 && snap.steps.hold > 0, JSON.stringify(snap.steps));
  assert.deepEqual(r.arm.violations, []);
});

test('intervention: an operator that falls silent is held, then the policy takes back after release_after_s', async () => {
  const r = rig({ desc, make: followReference(0.01, 30, 3, EPOCH), latencyS: 0.03, loop: { mode: 'intervention', handover: { blendS: 0.1, releaseAfterS: 0.5, operatorTimeoutS: 0.1 } } });
  const recs = recorder(r);
  await r.run(0, 60);
  await r.run(60, 80, () => r.operator.send(far));
  await r.run(80, 220);
  const silent = recs.filter((x) => x.step >= 80);
  // 0.1 s of its last command, then a hold (the watchdog: operator_stale), then the policy after 0.5 s.
  assert.ok(silent.slice(0, 10).every((x) => x.source === 'intervention'));
  assert.equal(r.loop.snapshot().watchdogEvents.operator_stale, 1);
  const back = silent.findIndex((x) => x.source === 'policy');
  assert.ok(back >= 50, `the policy takes back only after the silence: ${back} ticks`);
  assert.deepEqual(r.loop.snapshot().handovers, { takeover: 1, release: 0, silence: 1 });
  assert.deepEqual(r.arm.violations, []);
});

test('teleop: the operator drives from its first command (blended), perturbations are flagged, a silent operator means a hold; idle holds still', async () => {
  const r = rig({ desc, make: followReference(0.01, 30, 3, EPOCH), latencyS: 0.03, loop: { mode: 'teleop', handover: { blendS: 0.2, releaseAfterS: 1, operatorTimeoutS: 0.1 } } });
  const recs = recorder(r);
  await r.run(0, 20);
  assert.ok(recs.every((x) => x.source === 'hold'), 'nothing moves before the operator speaks');
  assert.equal(r.planner.requests.length, 0, 'teleop never plans');
  await r.run(20, 120, (k) => r.operator.send(far, { perturbation: k >= 100 }));
  const driven = recs.filter((x) => x.step >= 20 && x.step < 120);
  assert.ok(driven.every((x) => x.source === (x.step >= 100 ? 'perturbation' : 'teleop')), JSON.stringify(driven.map((x) => x.source)));
  for (let i = recs.findIndex((x) => x.step === 20); i < recs.findIndex((x) => x.step === 50); i++) assert.ok(jumps(recs, i).desired <= MAX_STEP + 1e-12);
  await r.run(120, 160);
  assert.equal(r.loop.snapshot().watchdogEvents.operator_stale, 1);
  assert.ok(recs.slice(-20).every((x) => x.source === 'hold'));
  r.loop.setMode('idle');
  await r.run(160, 200, () => r.operator.send([0, 0, 0]));
  assert.ok(recs.slice(-40).every((x) => x.source === 'hold'), 'idle: the operator commands nothing');
  assert.ok(r.arm.v.every((v) => v === 0), 'at rest');
  assert.deepEqual(r.arm.violations, []);
});

test('autonomous -> teleop -> autonomous: every switch is blended and the policy plans afresh', async () => {
  const r = rig({ desc, make: followReference(0.01, 30, 3, EPOCH), latencyS: 0.03, loop: { mode: 'autonomous', handover: { blendS: 0.2, releaseAfterS: 1, operatorTimeoutS: 0.25 } } });
  const recs = recorder(r);
  await r.run(0, 80);
  r.operator.send(far); // sent before the switch: ignored
  r.loop.setMode('teleop');
  await r.run(80, 100);
  assert.ok(recs.slice(-20).every((x) => x.source === 'hold'), 'a command from before the mode switch commands nothing');
  await r.run(100, 180, () => r.operator.send(far));
  r.loop.setMode('autonomous');
  const before = r.planner.requests.length;
  await r.run(180, 260);
  assert.ok(r.planner.requests.length > before, 'a new plan was asked for');
  for (let i = 1; i < recs.length; i++) assert.ok(jumps(recs, i).command <= MAX_STEP + 1e-12, `step ${recs[i]!.step}`);
  assert.ok(recs.slice(-30).every((x) => x.source === 'policy'));
  assert.deepEqual(r.arm.violations, []);
});
