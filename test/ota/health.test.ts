// The health window decides on counts alone (virtual seconds, no wall clock): it passes only
// after N chunks and T seconds clean, and fails at the first threshold crossed, naming it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HealthWindow, type HealthThresholds } from '../../src/ota/index.js';

const T: HealthThresholds = { chunks: 10, seconds: 2, maxNonFinite: 0, maxClampRise: 0.2, baselineClampRate: 0.3, latencyBudgetMs: 100, maxWatchdogEvents: 0 };

function run(w: HealthWindow, ticks: number, startS: number, each: (i: number) => void = () => undefined): ReturnType<HealthWindow['evaluate']> {
  let v = w.evaluate(startS);
  for (let i = 0; i < ticks && v.state === 'pending'; i++) {
    each(i);
    w.tick();
    if (i % 5 === 0) w.plan(20, true);
    v = w.evaluate(startS + (i + 1) * 0.02);
  }
  return v;
}

test('a clean window passes once both N chunks and T seconds have passed', () => {
  const w = new HealthWindow('b@1.0.0', T, 0);
  const v = run(w, 99, 0); // 20 chunks but only 1.98 s
  assert.equal(v.state, 'pending');
  const v2 = run(w, 2, 1.98);
  assert.equal(v2.state, 'passed');
  assert.equal(v2.state === 'passed' && v2.summary.chunks, 21);
});

test('each threshold fails the window with its reason', () => {
  assert.equal(run(new HealthWindow('b', T, 0), 500, 0).state, 'passed', 'control: nothing wrong passes');
  const w1 = new HealthWindow('b', T, 0);
  const v1 = run(w1, 500, 0, (i) => { if (i === 30) w1.plan(20, false); });
  assert.equal(v1.state, 'failed');
  assert.match(v1.state === 'failed' ? v1.reason : '', /1 non-finite output/);
  const w2 = new HealthWindow('b', T, 0);
  const v2 = run(w2, 500, 0, (i) => { if (i === 40) w2.clamp(true); });
  assert.match(v2.state === 'failed' ? v2.reason : '', /non-finite/);
  const w3 = new HealthWindow('b', T, 0);
  const v3 = run(w3, 500, 0, (i) => { if (i % 2 === 0) w3.clamp(); });
  assert.match(v3.state === 'failed' ? v3.reason : '', /clamped 5\d\.\d% of ticks, the replaced model 30\.0%/);
  const w4 = new HealthWindow('b', T, 0);
  const v4 = run(w4, 500, 0, (i) => { if (i === 10) w4.watchdogEvent('planner_timeout'); });
  assert.match(v4.state === 'failed' ? v4.reason : '', /1 watchdog fault/);
  const w5 = new HealthWindow('b', T, 0);
  const v5 = run(w5, 500, 0, (i) => { if (i % 5 === 0) w5.plan(250, true); });
  assert.match(v5.state === 'failed' ? v5.reason : '', /inference p95 250 ms over the 100 ms budget/);
  // Not the model's faults: a hard stop and its release, stale inputs, a clamp rate within the allowed rise.
  const w6 = new HealthWindow('b', T, 0);
  const v6 = run(w6, 500, 0, (i) => { if (i === 3) { w6.watchdogEvent('hard_stop'); w6.watchdogEvent('hard_stop_released'); w6.watchdogEvent('obs_stale'); w6.watchdogEvent('operator_stale'); } if (i % 3 === 0) w6.clamp(); });
  assert.equal(v6.state, 'passed', JSON.stringify(v6));
});
