import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ActionQueue } from '../../src/control/index.js';
import { followReference, makeChunk, reference, rig } from './support.js';

const EPOCH = 1_000_000_000n;

test('queue: chunk actions are indexed by absolute step from t0 and interpolated in time', () => {
  const q = new ActionQueue({ method: 'replace' }, 0.01, 2);
  // dt 0.025 s (40 Hz policy) on a 100 Hz loop: action i at 0.1 + 0.025 i s.
  const c = makeChunk(0n, 0.025, 5, 2, (i, j) => i * 10 + j);
  q.add(c, 0.1, 12);
  const out = new Float64Array(2);
  assert.equal(q.sample(11, out), false, 'no action before the chunk arrived (step 11 ran before it)');
  assert.equal(q.sample(12, out), true);
  assert.deepEqual([...out].map((x) => +x.toFixed(9)), [8, 9], 'step 12 = 0.12 s = action 0.8 -> 8, 9');
  assert.equal(q.sample(20, out), true);
  assert.deepEqual([...out], [40, 41], 'step 20 = 0.2 s = the last action');
  assert.equal(q.sample(21, out), false, 'past the end of the chunk nothing is covered');
  assert.equal(q.lastCoveredStep(), 20);
  assert.equal(q.remainingSteps(15), 5);
  q.prune(21);
  assert.equal(q.size, 0);
});

test('queue: replacement keeps only the newest chunk; ensembling averages with ACT exponential weights', () => {
  const out = new Float64Array(1);
  const rep = new ActionQueue({ method: 'replace' }, 0.01, 1);
  rep.add(makeChunk(0n, 0.01, 50, 1, () => 1), 0, 1);
  rep.add(makeChunk(0n, 0.01, 50, 1, () => 3), 0.1, 12);
  assert.equal(rep.size, 1);
  rep.sample(12, out);
  assert.equal(out[0], 3);

  const decay = 0.5;
  const ens = new ActionQueue({ method: 'ensemble', decay }, 0.01, 1);
  ens.add(makeChunk(0n, 0.01, 50, 1, () => 1), 0, 1);
  ens.add(makeChunk(0n, 0.01, 50, 1, () => 3), 0.1, 12);
  ens.add(makeChunk(0n, 0.01, 50, 1, () => 7), 0.2, 22);
  ens.sample(11, out);
  assert.equal(out[0], 1, 'before the second chunk lands only the first acts');
  ens.sample(15, out);
  const w1 = Math.exp(-decay);
  assert.ok(Math.abs(out[0]! - (1 + 3 * w1) / (1 + w1)) < 1e-12, `two chunks: ${out[0]}`);
  ens.sample(30, out);
  const w2 = Math.exp(-2 * decay);
  assert.ok(Math.abs(out[0]! - (1 + 3 * w1 + 7 * w2) / (1 + w1 + w2)) < 1e-12, `three chunks: ${out[0]}`);
  ens.sample(55, out);
  assert.ok(Math.abs(out[0]! - (3 + 7 * w1) / (1 + w1)) < 1e-12, 'the oldest chunk ended at step 49');
  ens.prune(55);
  assert.equal(ens.size, 2);
});

test('loop: re-plans asynchronously at the threshold, records d for every chunk, never runs past actions', async () => {
  const H = 20, dt = 0.01;
  const r = rig({ make: followReference(dt, H, 3, EPOCH), latencyS: (n) => [0.034, 0.05, 0.021, 0.077][(n - 1) % 4]!, loop: { replanThreshold: 0.5 } });
  // Remaining horizon at the moment each request went out (after the start-up request).
  const remainingAtRequest: number[] = [];
  r.loop.addTap((rec) => {
    if (r.planner.requests.length > remainingAtRequest.length + 1) remainingAtRequest.push(r.loop.actionQueue.remainingSteps(rec.step));
  });
  await r.run(0, 200);
  const stats = r.loop.snapshot();
  assert.ok(stats.chunksAccepted >= 8, `${stats.chunksAccepted} chunks`);
  // d = ceil(latency / period) for every chunk, in request order.
  const expected = [4, 5, 3, 8];
  stats.delays.forEach((d, i) => assert.equal(d, expected[i % 4], `chunk ${i}: d=${d}`));
  assert.ok(remainingAtRequest.length >= 7);
  for (const rem of remainingAtRequest) assert.ok(rem <= 0.5 * (H - 1) && rem >= 0.5 * (H - 1) - 1, `re-planned with ${rem} steps left`);
  // Every executed desired action is the reference at that step's time: the actions for steps
  // that passed during inference were skipped, not replayed late.
  let running = 0;
  const r2 = rig({ make: followReference(dt, H, 3, EPOCH), latencyS: 0.05 });
  r2.loop.addTap((rec) => {
    if (rec.state !== 'run' || !rec.planned) return;
    running++;
    const tS = Number(rec.scheduledNs - EPOCH) / 1e9;
    for (let j = 0; j < 3; j++) assert.ok(Math.abs(rec.planned[j]! - reference(tS, j)) < 1e-6, `step ${rec.step} joint ${j}: ${rec.planned[j]} vs ${reference(tS, j)}`);
  });
  await r2.run(0, 150);
  assert.ok(running > 100, `${running} running steps`);
  // The loop kept executing while each request was in flight: no chunk gap after start-up.
  assert.equal(r2.loop.snapshot().watchdogEvents.chunk_overdue, undefined);
});

test('loop: with a small threshold the re-plan still comes early enough to cover the measured delay', async () => {
  // Threshold 0.05 of a 20-step chunk is 1 step, but answers take 80 ms = 8 steps at 100 Hz: the
  // loop asks when the remainder falls to d + 1 = 9 steps instead, so the next chunk lands in time.
  const H = 20, dt = 0.01;
  const r = rig({ make: followReference(dt, H, 3, EPOCH), latencyS: 0.08, loop: { replanThreshold: 0.05 } });
  const remainingAtRequest: number[] = [];
  let starved = 0;
  r.loop.addTap((rec) => {
    if (r.planner.requests.length > remainingAtRequest.length + 1) remainingAtRequest.push(r.loop.actionQueue.remainingSteps(rec.step));
    if (r.loop.snapshot().chunksAccepted > 0 && !rec.desired) starved++;
  });
  await r.run(0, 200);
  assert.ok(remainingAtRequest.length >= 5, `${remainingAtRequest.length} re-plans`);
  for (const rem of remainingAtRequest) assert.ok(rem >= 8 && rem <= 9, `re-planned with ${rem} steps left`);
  assert.equal(starved, 0, 'no tick without an action once the first chunk arrived');
  assert.equal(r.loop.snapshot().watchdogEvents.chunk_overdue, undefined);
});

test('loop: a chunk dt different from the loop period is interpolated linearly in time', async () => {
  // 20 Hz policy chunks on a 200 Hz loop.
  const r = rig({ rateHz: 200, make: (obs) => makeChunk(obs.stampNs, 0.05, 10, 3, (i, j) => 0.01 * i + 0.1 * j), latencyS: 0.02 });
  const desired: { step: number; d: Float64Array; chunk: number }[] = [];
  r.loop.addTap((rec) => { if (rec.planned) desired.push({ step: rec.step, d: rec.planned, chunk: rec.chunkSeq }); });
  await r.run(0, 40);
  assert.ok(desired.length > 20);
  // Within one chunk the desired value advances 0.01 per 0.05 s = 0.001 per 5 ms step.
  for (let i = 1; i < desired.length; i++) {
    if (desired[i]!.chunk !== desired[i - 1]!.chunk) continue;
    const dv = desired[i]!.d[0]! - desired[i - 1]!.d[0]!;
    assert.ok(Math.abs(dv - 0.001) < 1e-6, `step ${desired[i]!.step}: ${dv}`);
  }
  const d0 = r.loop.snapshot().delays[0]!;
  assert.equal(d0, 4, '20 ms at 200 Hz is 4 steps');
});

test('loop: chunks that do not fit are dropped with a reason; stale chunks never execute', async () => {
  let n = 0;
  const r = rig({
    make: (obs) => {
      n++;
      if (n === 1) return makeChunk(obs.stampNs, 0.01, 10, 2, () => 0); // wrong action dim
      if (n === 2) return makeChunk(obs.stampNs, 0.01, 3, 3, () => 0.2); // ends before it lands
      return makeChunk(obs.stampNs, 0.01, 30, 3, () => 0.1);
    },
    latencyS: 0.05,
    loop: { maxPlanWaitS: 5 },
  });
  await r.run(0, 60);
  const s = r.loop.snapshot();
  assert.equal(s.chunksDropped, 2);
  assert.ok(r.logs.some((l) => /invalid.*action dim 2, robot has 3 joints/.test(l)), r.logs.join('\n'));
  assert.ok(r.logs.some((l) => /stale.*ends before step/.test(l)), r.logs.join('\n'));
  assert.ok(r.arm.commands.every((c) => c.positions.every((p) => Math.abs(p - 0.2) > 1e-9)), 'the stale chunk never commanded anything');
  assert.ok(s.chunksAccepted >= 1);
});
