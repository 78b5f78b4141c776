// Adversarial policies against the whole loop: whatever the planner emits, the kinematic arm's
// commanded positions, velocities and accelerations stay within the robot description every tick.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Observation } from '../../src/core/contracts.js';
import type { JoinConfig } from '../../src/control/index.js';
import { makeChunk, reference, rig, robot, type ChunkFn } from './support.js';

const EPOCH = 1_000_000_000n;
const H = 25;
const A = 4;

function lcg(seed: number) {
  let s = seed >>> 0;
  return () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32;
}

const tOf = (obs: Observation) => Number(obs.stampNs - EPOCH) / 1e9;

const POLICIES: Record<string, () => ChunkFn> = {
  nan: () => (obs) => makeChunk(obs.stampNs, 0.01, H, A, () => Number.NaN),
  'partial nan/inf': () => { const u = lcg(1); return (obs) => makeChunk(obs.stampNs, 0.01, H, A, (i, j) => [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, reference(tOf(obs) + i * 0.01, j)][Math.floor(u() * 4)]!); },
  huge: () => { let n = 0; return (obs) => { n++; return makeChunk(obs.stampNs, 0.01, H, A, (_, j) => (n % 2 ? 1 : -1) * 1e9 * (j + 1)); }; },
  'max float': () => (obs) => makeChunk(obs.stampNs, 0.01, H, A, (i) => (i % 2 ? 3.4e38 : -3.4e38)),
  'bang-bang oscillation': () => (obs) => makeChunk(obs.stampNs, 0.01, H, A, (i) => (i % 2 ? 0.99 : -0.99)),
  'oscillation at the limit': () => (obs) => makeChunk(obs.stampNs, 0.005, H, A, (i, j) => 1 + 0.5 * Math.sin(i * 2.1 + j)),
  'random garbage': () => { const u = lcg(7); return (obs) => makeChunk(obs.stampNs, 0.01, H, A, () => (u() - 0.5) * 10 ** Math.floor(u() * 12)); },
  'chunk jumps between extremes': () => { let n = 0; return (obs) => { n++; return makeChunk(obs.stampNs, 0.01, H, A, () => (n % 2 ? 0.95 : -0.95)); }; },
  'stops answering': () => { let n = 0; return (obs) => { n++; return n < 4 ? makeChunk(obs.stampNs, 0.01, H, A, (i, j) => reference(tOf(obs) + i * 0.01, j)) : new Promise(() => {}); }; },
  'answers very late': () => (obs) => makeChunk(obs.stampNs, 0.01, H, A, (i, j) => reference(tOf(obs) + i * 0.01, j)),
  'future t0 and wrong shapes': () => { let n = 0; return (obs) => { n++; const c = makeChunk(obs.stampNs + (n % 2 ? 10_000_000_000n : 0n), 0.01, H, A, () => 0.5); return n % 3 === 0 ? { ...c, actions: new Float32Array(3) } : c; }; },
  'tiny dt': () => (obs) => makeChunk(obs.stampNs, 1e-6, H, A, (i) => (i % 2 ? 1 : -1)),
};

const JOINS: JoinConfig[] = [{ method: 'replace' }, { method: 'ensemble', decay: 0.1 }, { method: 'rtc' }];

for (const [name, policy] of Object.entries(POLICIES)) {
  test(`adversarial policy '${name}': every tick stays within position, velocity and acceleration limits`, async () => {
    for (const join of JOINS) {
      const desc = robot(A, { velocity: 1.5, acceleration: 15, emergency_deceleration: 30, max_step: 0.012 });
      const latency = name === 'answers very late' ? 2 : 0.03;
      const r = rig({ make: policy(), joints: A, desc, latencyS: latency, loop: { join, maxPlanWaitS: 0.5 }, maxAgeS: 0.1, start: [0.9, -0.9, 0, 0.5] });
      await r.run(0, 250, (k) => {
        if (k === 150) r.loop.hardStop(true);
        if (k === 170) r.loop.hardStop(false);
        if (k === 200) r.obs.publishing = false;
      });
      assert.equal(r.arm.commands.length, 250, `${join.method}: a command every tick`);
      assert.deepEqual(r.arm.violations, [], `${join.method}: ${r.arm.violations.slice(0, 3).join('; ')}`);
      for (const c of r.arm.commands) {
        for (let j = 0; j < A; j++) {
          const p = c.positions[j]!;
          assert.ok(Number.isFinite(p) && p >= -1 && p <= 1, `${join.method} step ${c.step}: ${p}`);
        }
        for (let j = 0; j < A; j++) {
          const prev = r.arm.commands[c.step - 1];
          if (prev) assert.ok(Math.abs(c.positions[j]! - prev.positions[j]!) <= 0.012 + 1e-12, `${join.method} step ${c.step}: max step`);
        }
      }
      assert.ok(r.arm.v.every((v) => v === 0), `${join.method}: at rest after the observations went stale`);
    }
  });
}
