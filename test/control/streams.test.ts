// The observation store: per-stream alive / freq_ok from the streams table, and per consumer which
// stream is stale (the watchdog's question), not one global age.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ObservationStore, type StreamSpec } from '../../src/control/index.js';
import type { CameraFrame, JointState } from '../../src/core/index.js';

const streams: StreamSpec[] = [
  { name: 'joint_states', source: 'joint_states', rateHz: 100, maxAgeS: 0.05, requiredBy: ['policy', 'operator', 'hold'] },
  { name: 'camera/scene', source: 'camera', camera: 'scene', rateHz: 30, maxAgeS: 0.1, requiredBy: ['policy'] },
  { name: 'teleop', source: 'teleop', rateHz: 50, maxAgeS: 0.1, requiredBy: [] },
];

test('each stream is alive while younger than its limit and freq_ok near its declared rate; each consumer asks for its own streams', () => {
  let state: JointState | undefined;
  let frame: CameraFrame | undefined;
  const store = new ObservationStore({ readState: () => state, readFrame: () => frame }, streams);
  store.setInstruction('touch the ball');
  const ms = (x: number) => BigInt(Math.round(x * 1e6));
  assert.equal(store.staleFor('hold', 0n), 'joint_states', 'nothing yet');
  // 1 s of joint states at 100 Hz and frames at 30 Hz (a frame every 33.3 ms).
  for (let t = 0; t <= 1000; t += 10) {
    state = { stampNs: ms(t), positions: [t / 1000] };
    if (t % 30 === 0 || t - Number(frame?.stampNs ?? -1e9) / 1e6 >= 33) frame = { seq: t + 1, stampNs: ms(t), images: { scene: { width: 1, height: 1, data: new Uint8Array(3) } } };
    store.poll(ms(t));
  }
  const s = Object.fromEntries(store.status(ms(1000)).map((x) => [x.name, x]));
  assert.equal(s.joint_states!.alive, true);
  assert.equal(s.joint_states!.freqOk, true, `joint_states at ${s.joint_states!.rateHz} Hz`);
  assert.ok(Math.abs(s['camera/scene']!.rateHz - 30) < 6, `camera at ${s['camera/scene']!.rateHz} Hz`);
  assert.equal(s['camera/scene']!.freqOk, true);
  assert.equal(s.teleop!.alive, false, 'no operator ever');
  assert.equal(store.staleFor('policy', ms(1000)), undefined);
  const obs = store.latest()!;
  assert.equal(obs.instruction, 'touch the ball');
  assert.deepEqual(Object.keys(obs.staleness!), ['joint_states', 'camera/scene']);
  // The camera freezes: the policy's inputs go stale after 100 ms, an operator's and a hold's do not.
  for (let t = 1010; t <= 1200; t += 10) { state = { stampNs: ms(t), positions: [t / 1000] }; store.poll(ms(t)); }
  assert.equal(store.staleFor('policy', ms(1200)), 'camera/scene');
  assert.equal(store.staleFor('operator', ms(1200)), undefined);
  assert.equal(store.staleFor('hold', ms(1200)), undefined);
  // Joint states at a third of their rate: alive, but not freq_ok.
  for (let t = 1230; t <= 2500; t += 30) { state = { stampNs: ms(t), positions: [0] }; store.poll(ms(t)); }
  const slow = store.status(ms(2500)).find((x) => x.name === 'joint_states')!;
  assert.deepEqual([slow.alive, slow.freqOk], [true, false]);
  assert.ok(Math.abs(slow.rateHz - 33.3) < 1, `${slow.rateHz} Hz`);
});

test('the streams table is checked: duplicate names, missing rates or limits, a camera stream without a camera', () => {
  const d = { readState: () => undefined, readFrame: () => undefined };
  assert.throws(() => new ObservationStore(d, [streams[0]!, streams[0]!]), /'joint_states' listed twice/);
  assert.throws(() => new ObservationStore(d, [{ ...streams[0]!, rateHz: 0 }]), /needs rateHz > 0 and maxAgeS > 0/);
  assert.throws(() => new ObservationStore(d, [{ name: 'camera/x', source: 'camera', rateHz: 30, maxAgeS: 0.1, requiredBy: [] }]), /names no camera/);
});
