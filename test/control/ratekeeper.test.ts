import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Ratekeeper, TickAccountant } from '../../src/control/index.js';
import { percentile } from '../../src/core/stats.js';

test('ratekeeper accounting: absolute deadlines, late ticks are misses, lost slots are skipped not burst', () => {
  const logs: string[] = [];
  const acc = new TickAccountant(1_000_000_000n, 100, undefined, (l) => logs.push(l));
  const at = (ms: number) => 1_000_000_000n + BigInt(Math.round(ms * 1e6));
  let t = acc.begin(at(0.1));
  assert.deepEqual([t.step, t.misses, t.skipped], [0, 0, 0]);
  assert.ok(Math.abs(t.lateS - 0.0001) < 1e-12);
  t = acc.begin(at(10.0));
  assert.equal(t.step, 1);
  t = acc.begin(at(22.5)); // 2.5 ms late: over the 2 ms tolerance (20% of 10 ms)
  assert.deepEqual([t.step, t.misses, t.skipped], [2, 1, 0]);
  assert.ok(acc.lagging);
  assert.match(logs[0]!, /control loop lagging: step 2 2\.50 ms late/);
  t = acc.begin(at(30.0));
  assert.equal(acc.lagging, false);
  t = acc.begin(at(75.3)); // steps 4..6 lost; step 7 is due at 70 ms and runs 5.3 ms late
  assert.deepEqual([t.step, t.skipped, t.misses], [7, 3, 4]);
  assert.ok(Math.abs(t.lateS - 0.0053) < 1e-9);
  assert.equal(t.scheduledNs, at(70));
  t = acc.begin(at(80.0));
  assert.equal(t.step, 8, 'realigned to the grid: no catch-up burst');
  assert.deepEqual([acc.ticks, acc.misses, acc.skipped], [6, 5, 3]);
});

test('ratekeeper on real timers (short): drift-free, never early', async () => {
  const rk = new Ratekeeper({ rateHz: 200 });
  const ac = new AbortController();
  const late: number[] = [];
  const margins: number[] = [];
  const start = process.hrtime.bigint();
  let last = -1;
  const done = rk.run((t) => { late.push(t.lateS); margins.push(t.marginS); last = t.step; if (t.step >= 199) ac.abort(); }, ac.signal);
  const acc = await done;
  const elapsedS = Number(process.hrtime.bigint() - start) / 1e9;
  // 200 steps at 5 ms: 1.0 s after the first deadline, whatever the jitter (no accumulation).
  // Timing figures belong to `vlad control jitter` / `vlad bench control`; other test files share the
  // CPU here, so only the schedule's shape is asserted: no accumulated drift, no early tick.
  assert.ok(elapsedS > 0.99 && elapsedS < 1.3, `elapsed ${elapsedS}`);
  // Every slot up to the last one is either ticked or skipped (a late tick may skip past 199).
  assert.ok(last >= 199 && last <= 202, `last step ${last}`);
  assert.equal(acc.ticks + acc.skipped, last + 1);
  assert.ok(late.every((l) => l >= 0), 'never early');
  assert.ok(percentile(late, 50) < 0.005, `median lateness ${percentile(late, 50)}`);
  // The adaptive timer margin stays within [1.5 ms, 40% of the period].
  assert.ok(margins.every((m) => m >= 0.0015 - 1e-12 && m <= 0.002 + 1e-12), `margins ${Math.min(...margins)}..${Math.max(...margins)}`);
});
