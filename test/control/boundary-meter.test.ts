import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BoundaryMeter, type TickRecord } from '../../src/control/index.js';

const tick = (step: number, chunkSeq: number, q: number | undefined): TickRecord => ({
  step, scheduledNs: 0n, actualNs: 0n, state: 'run', source: q === undefined ? 'hold' : 'policy', commander: 'policy', chunkSeq, chunk: undefined, observation: undefined,
  desired: q === undefined ? undefined : Float64Array.from([q, 0]),
  planned: q === undefined ? undefined : Float64Array.from([q, 0]),
  command: { stampNs: 0n, step, positions: new Float64Array(2), velocities: new Float64Array(2) },
});

test('boundary meter: jumps where a new chunk takes effect, over the mean step inside chunks', () => {
  const m = new BoundaryMeter();
  // Chunk 1 moves 0.1 a tick; chunk 2 starts 0.5 away (a jump of 0.6), then moves 0.1 a tick;
  // a hold (no desired action) in between is not a step; chunk 3 continues seamlessly (0.1).
  const qs: [number, number | undefined][] = [[1, 0], [1, 0.1], [1, 0.2], [2, 0.8], [2, 0.9], [2, 1.0], [2, undefined], [2, 1.1], [3, 1.2], [3, 1.3]];
  qs.forEach(([seq, q], i) => m.tap(tick(i, seq, q)));
  assert.equal(m.boundaryJumps.length, 2);
  assert.ok(Math.abs(m.boundaryJumps[0]! - 0.6) < 1e-12 && Math.abs(m.boundaryJumps[1]! - 0.1) < 1e-12, `${m.boundaryJumps}`);
  assert.ok(Math.abs(m.meanInChunkStep - 0.1) < 1e-12, `mean in-chunk step ${m.meanInChunkStep}`);
  assert.ok(Math.abs(m.ratio - 6) < 1e-9);
  assert.deepEqual(m.boundaryRatios.map((r) => Math.round(r * 1e9) / 1e9), [6, 1]);
});
