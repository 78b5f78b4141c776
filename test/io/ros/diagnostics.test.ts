// The DiagnosticArray's content: each status's level at and just past its threshold, the values
// as strings, hardware_id and stamp; topic statuses from real subscription counters.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  controlStatus, diagnosticArray, DiagnosticLevel, InputCounters, plannerStatus, recorderStatus, RosInputError, streamStatuses, topicStatuses,
  type DiagnosticsInput,
} from '../../../src/io/ros/index.js';

const { OK, WARN, ERROR, STALE } = DiagnosticLevel;
const dist = (p99: number) => ({ p50: p99 / 2, p99, max: p99 * 1.5, n: 100 });

function healthy(): DiagnosticsInput {
  return {
    hardwareId: 'example-arm', lifecycle: 'active', mode: 'autonomous',
    control: { state: 'run', hardStop: false, rateHz: 50, jitterMs: dist(1), deadlineMisses: 0, ticks: 1000 },
    planner: { latencyMs: dist(120), chunks: 40, budgetMs: 200 },
    recorder: { steps: 500, episodes: 2, droppedFrames: 0, queueDepth: 3 },
    streams: [
      { name: 'joint_states', alive: true, freqOk: true, rateHz: 100, ageS: 0.004, samples: 900 },
      { name: 'camera/scene', alive: true, freqOk: true, rateHz: 30, ageS: 0.02, samples: 300 },
    ],
    model: { name: 'vlad-base-flow', version: '1.0.0', adapter: 'base' },
    inputs: [],
  };
}
const withControl = (c: Partial<DiagnosticsInput['control']>): DiagnosticsInput => ({ ...healthy(), control: { ...healthy().control, ...c } });
const withPlanner = (p: Partial<DiagnosticsInput['planner']>): DiagnosticsInput => ({ ...healthy(), planner: { ...healthy().planner, ...p } });

test('a healthy daemon: every status OK, values as strings, one hardware_id, the stamp', () => {
  const a = diagnosticArray(healthy(), 1_700_000_000_250_000_000n);
  assert.deepEqual(a.header.stamp, { sec: 1_700_000_000, nanosec: 250_000_000 });
  assert.deepEqual(a.status.map((s) => s.name), ['vlad: control loop', 'vlad: planner', 'vlad: recorder', 'vlad: stream joint_states', 'vlad: stream camera/scene']);
  assert.deepEqual(a.status.map((s) => s.level), [OK, OK, OK, OK, OK]);
  assert.ok(a.status.every((s) => s.hardware_id === 'example-arm'));
  const values = Object.fromEntries(a.status[0]!.values.map((kv) => [kv.key, kv.value]));
  assert.equal(values.watchdog, 'run');
  assert.equal(values.rate_hz, '50');
  assert.equal(values.jitter_p99_ms, '1');
  assert.ok(a.status.every((s) => s.values.every((kv) => typeof kv.value === 'string')));
  const planner = Object.fromEntries(a.status[1]!.values.map((kv) => [kv.key, kv.value]));
  assert.deepEqual([planner.model, planner.model_version, planner.adapter, planner.latency_p99_ms], ['vlad-base-flow', '1.0.0', 'base', '120']);
});

test('control loop: jitter and missed deadlines at and past their thresholds, the watchdog\'s states', () => {
  // 50 Hz: a 20 ms period. p99 jitter: WARN above half a period, ERROR above a whole one.
  assert.equal(controlStatus(withControl({ jitterMs: dist(10) })).level, OK);
  assert.equal(controlStatus(withControl({ jitterMs: dist(10.01) })).level, WARN);
  assert.equal(controlStatus(withControl({ jitterMs: dist(20) })).level, WARN);
  assert.equal(controlStatus(withControl({ jitterMs: dist(20.01) })).level, ERROR);
  // Missed deadlines: WARN above 1% of ticks, ERROR above 5%.
  assert.equal(controlStatus(withControl({ deadlineMisses: 10 })).level, OK);
  assert.equal(controlStatus(withControl({ deadlineMisses: 11 })).level, WARN);
  assert.equal(controlStatus(withControl({ deadlineMisses: 50 })).level, WARN);
  assert.match(controlStatus(withControl({ deadlineMisses: 51 })).message, /5\.1% deadlines missed/);
  assert.equal(controlStatus(withControl({ deadlineMisses: 51 })).level, ERROR);
  assert.equal(controlStatus(withControl({ state: 'waiting' })).level, OK);
  assert.equal(controlStatus(withControl({ state: 'hold' })).level, WARN);
  assert.equal(controlStatus(withControl({ state: 'stop' })).level, ERROR);
  assert.equal(controlStatus(withControl({ hardStop: true })).level, ERROR);
  const off = controlStatus({ ...withControl({ state: null }), lifecycle: 'inactive' });
  assert.equal(off.level, STALE);
  assert.match(off.message, /inactive/);
  // The worst problem wins: holding (WARN) with jitter over a period (ERROR).
  assert.equal(controlStatus(withControl({ state: 'hold', jitterMs: dist(25) })).level, ERROR);
});

test('planner: p99 against its budget (WARN over 1x, ERROR over 2x); no model is STALE', () => {
  assert.equal(plannerStatus(withPlanner({ latencyMs: dist(200) })).level, OK);
  assert.equal(plannerStatus(withPlanner({ latencyMs: dist(201) })).level, WARN);
  assert.equal(plannerStatus(withPlanner({ latencyMs: dist(400) })).level, WARN);
  assert.equal(plannerStatus(withPlanner({ latencyMs: dist(401) })).level, ERROR);
  assert.equal(plannerStatus(withPlanner({ latencyMs: dist(5000), budgetMs: 0 })).level, OK, 'no budget: not judged');
  assert.equal(plannerStatus(withPlanner({ latencyMs: null })).message, 'no plan yet');
  assert.equal(plannerStatus({ ...healthy(), model: null }).level, STALE);
});

test('recorder and streams', () => {
  const r = healthy().recorder!;
  assert.equal(recorderStatus({ ...healthy(), recorder: null }).level, OK);
  assert.equal(recorderStatus({ ...healthy(), recorder: { ...r, droppedFrames: 1 } }).level, WARN);
  assert.equal(recorderStatus({ ...healthy(), recorder: { ...r, queueDepth: 64 } }).level, OK);
  assert.equal(recorderStatus({ ...healthy(), recorder: { ...r, queueDepth: 65 } }).level, WARN);
  assert.equal(recorderStatus({ ...healthy(), recorder: { ...r, lastError: 'disk full' } }).message, 'disk full');
  assert.equal(recorderStatus({ ...healthy(), recorder: { ...r, lastError: 'disk full' } }).level, ERROR);
  const streams = streamStatuses({
    ...healthy(),
    streams: [
      { name: 'joint_states', alive: true, freqOk: false, rateHz: 40, ageS: 0.01, samples: 50 },
      { name: 'camera/scene', alive: false, freqOk: false, rateHz: 0, ageS: 1.5, samples: 50 },
      { name: 'camera/wrist', alive: false, freqOk: false, rateHz: 0, ageS: Infinity, samples: 0 },
    ],
  });
  assert.deepEqual(streams.map((s) => s.level), [WARN, ERROR, STALE]);
  assert.match(streams[1]!.message, /1\.5 s old/);
});

test('topics: judged on the last window of the subscription counters', () => {
  const c = new InputCounters(['/joint_states', '/cameras/scene/image_raw', '/cameras/wrist/image_raw']);
  for (let i = 0; i < 9; i++) c.accepted('/joint_states', BigInt(i));
  c.rejected('/joint_states', 'nan', "joint_states: position of 'joint3' is NaN");
  c.guard('/cameras/scene/image_raw', () => { throw new RosInputError('encoding', "scene: encoding '16UC1' is not read"); });
  for (let i = 0; i < 3; i++) c.accepted('/cameras/wrist/image_raw');
  const first = topicStatuses({ ...healthy(), inputs: c.window() });
  assert.deepEqual(first.map((s) => s.level), [WARN, ERROR, OK]);
  assert.match(first[0]!.message, /1 of 10 messages refused: .*joint3/);
  const v = Object.fromEntries(first[0]!.values.map((kv) => [kv.key, kv.value]));
  assert.deepEqual([v.accepted, v.refused, v['refused.nan'], v['refused.size']], ['9', '1', '1', undefined]);
  // Next window: no new refusals, so back to OK while the totals remain.
  c.accepted('/joint_states');
  const second = topicStatuses({ ...healthy(), inputs: c.window() });
  assert.equal(second[0]!.level, OK);
  assert.equal(Object.fromEntries(second[0]!.values.map((kv) => [kv.key, kv.value])).refused, '1');
});
