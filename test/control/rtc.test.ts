import { test } from 'node:test';
import assert from 'node:assert/strict';
import { guidanceWeight, numericGuidedExpert, prefixWeights, rtcGuidance, rtcGuidedVelocity, rtcSample, type GuidedExpertCall } from '../../src/policy/index.js';
import type { ActionChunk, Observation } from '../../src/core/contracts.js';
import type { PlanRequest } from '../../src/control/index.js';
import { rig, reference } from './support.js';

/** Deterministic standard normals (Box-Muller over an LCG). */
function normals(n: number, seed: number): Float32Array {
  let s = seed >>> 0 || 1;
  const u = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) + 0.5) / 2 ** 32;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = Math.sqrt(-2 * Math.log(u())) * Math.cos(2 * Math.PI * u());
  return out;
}

/**
 * The exact flow-matching velocity for data a ~ N(mu, sigma^2) per element (vlad convention
 * x_t = t n + (1-t) a): E[a|x] = mu + (1-t) sigma^2 (x - (1-t) mu) / s2, s2 = t^2 + (1-t)^2 sigma^2,
 * v = (x - E[a|x]) / t, so the denoised estimate x - t v is E[a|x] and its Jacobian is
 * (1-t) sigma^2 / s2 times the identity: the VJP is known exactly.
 */
function gaussianExpert(mu: Float32Array, sigma: number) {
  const post = (x: number, m: number, t: number) => m + ((1 - t) * sigma * sigma * (x - (1 - t) * m)) / (t * t + (1 - t) * (1 - t) * sigma * sigma);
  const velocity = (x: Float32Array, t: number) => Float32Array.from(x, (xi, i) => (xi - post(xi, mu[i]!, t)) / t);
  const exact: GuidedExpertCall = async (x, t, target, weights) => {
    const jac = ((1 - t) * sigma * sigma) / (t * t + (1 - t) * (1 - t) * sigma * sigma);
    const vjp = Float32Array.from(x, (xi, i) => (target[i]! - post(xi, mu[i]!, t)) * weights[i]! * jac);
    return { velocity: velocity(x, t), vjp };
  };
  return { velocity, exact };
}

test('rtc: soft mask is 1 over the frozen prefix, decays exponentially over the overlap, 0 after', () => {
  const w = prefixWeights(10, 3, 7);
  assert.deepEqual([...w.subarray(0, 3)], [1, 1, 1]);
  assert.deepEqual([...w.subarray(7)], [0, 0, 0]);
  for (let i = 3; i < 7; i++) assert.ok(w[i]! < w[i - 1]! && w[i]! > 0, `w[${i}] = ${w[i]}`);
  // Kinetix's formula at i = 4: x = (3-1-4)/(7-3+1)+1 = 0.6; x (e^x - 1)/(e - 1).
  assert.ok(Math.abs(w[4]! - (0.6 * Math.expm1(0.6)) / (Math.E - 1)) < 1e-6);
  assert.deepEqual([...prefixWeights(6, 2, 4, 'hard')], [1, 1, 0, 0, 0, 0]);
  const lin = prefixWeights(6, 2, 4, 'linear');
  assert.ok(Math.abs(lin[2]! - 2 / 3) < 1e-6 && Math.abs(lin[3]! - 1 / 3) < 1e-6);
});

test('rtc: guidance weight is the PiGDM schedule, clipped to beta', () => {
  assert.equal(guidanceWeight(1, 5), 5, 'pure noise: clip');
  assert.equal(guidanceWeight(0, 5), 5);
  assert.ok(Math.abs(guidanceWeight(0.5, 100) - 2) < 1e-12, 'minimum 2 at t = 1/2');
  // The paper's form in tau = 1 - t.
  const tau = 0.3, paper = ((1 - tau) / tau) * ((tau * tau + (1 - tau) ** 2) / (1 - tau) ** 2);
  assert.ok(Math.abs(guidanceWeight(0.7, 100) - paper) < 1e-9);
  assert.equal(guidanceWeight(0.9, 5), 5, 'near the ends it is clipped');
});

test('rtc: the VJP contract matches autodiff of a non-diagonal linear expert (transpose, sign)', async () => {
  // v = M x + b t: A1 = x - t v, dA1/dx = I - t M, so g = (I - t M)^T e = e - t M^T e.
  const n = 6;
  const M = normals(n * n, 7).map((x) => 0.3 * x);
  const b = normals(n, 8);
  const velocity = (x: Float32Array, t: number) => {
    const v = new Float32Array(n);
    for (let i = 0; i < n; i++) { let s = b[i]! * t; for (let j = 0; j < n; j++) s += M[i * n + j]! * x[j]!; v[i] = s; }
    return v;
  };
  const x = normals(n, 9), target = normals(n, 10), weights = Float32Array.from([1, 1, 0.5, 0.2, 0, 0]);
  const t = 0.6;
  const v = velocity(x, t);
  const e = Float32Array.from(x, (xi, i) => (target[i]! - (xi - t * v[i]!)) * weights[i]!);
  const expected = Float32Array.from(e, (ei, j) => { let s = ei; for (let i = 0; i < n; i++) s -= t * M[i * n + j]! * e[i]!; return s; });
  const got = await numericGuidedExpert(velocity)(x, t, target, weights);
  for (let j = 0; j < n; j++) assert.ok(Math.abs(got.vjp[j]! - expected[j]!) < 2e-3, `vjp[${j}] ${got.vjp[j]} vs ${expected[j]}`);
  const guided = await rtcGuidedVelocity(numericGuidedExpert(velocity), x, t, target, weights, 5);
  const c = guidanceWeight(t, 5);
  for (let j = 0; j < n; j++) assert.ok(Math.abs(guided[j]! - (v[j]! - c * expected[j]!)) < 1e-2);
});

test('rtc: guided sampling inpaints the frozen prefix, blends the overlap, leaves the tail free', async () => {
  const H = 20, A = 2, steps = 10, beta = 5;
  const mu = new Float32Array(H * A);
  const { velocity, exact } = gaussianExpert(mu, 1);
  const noise = normals(H * A, 3);
  const target = Float32Array.from({ length: H * A }, (_, i) => (Math.floor(i / A) < 12 ? 0.8 : 0));
  const g = rtcGuidance(target, 12, H, A, 4);
  const guided = await rtcSample(exact, noise, g, steps, beta);
  // Unguided: the same Euler integration with a zero mask.
  const free = await rtcSample(exact, noise, rtcGuidance(target, 12, H, A, 0, 'hard'), steps, beta);
  const err = (x: Float32Array, i: number) => Math.abs(x[i]! - target[i]!);
  for (let i = 0; i < 4 * A; i++) assert.ok(err(guided, i) < 0.12, `frozen ${i}: guided ${guided[i]} free ${free[i]} target ${target[i]}`);
  for (let i = 12 * A; i < H * A; i++) assert.equal(guided[i], free[i], 'the tail (weight 0) is untouched by guidance when actions are independent');
  // In the overlap the pull weakens with the mask.
  const meanErr = (x: Float32Array, from: number, to: number) => { let s = 0; for (let i = from * A; i < to * A; i++) s += err(x, i); return s / ((to - from) * A); };
  assert.ok(meanErr(guided, 0, 4) < 0.2 * meanErr(free, 0, 4), `frozen: guided ${meanErr(guided, 0, 4)} free ${meanErr(free, 0, 4)}`);
  assert.ok(meanErr(guided, 0, 4) < meanErr(guided, 8, 12));
  // The numeric VJP agrees with the analytic one along a whole guided run.
  const numeric = await rtcSample(numericGuidedExpert(velocity), noise, g, steps, beta);
  for (let i = 0; i < H * A; i++) assert.ok(Math.abs(numeric[i]! - guided[i]!) < 5e-3, `numeric vs exact at ${i}`);
});

test('rtc in the loop: chunk boundaries are smoother than plain replacement and ensembling', async (t) => {
  // Each chunk is a fresh sample around the reference: a random per-joint offset (sigma 0.15) that
  // stays constant over the chunk. A guided planner continues the executing plan (frozen d
  // actions, soft blend over the overlap); plain replacement jumps by the offset difference.
  const H = 30, A = 3, dt = 0.01, sigma = 0.15;
  const EPOCH = 1_000_000_000n;
  const boundaryJump = async (method: 'replace' | 'ensemble' | 'rtc') => {
    let n = 0;
    const { exact } = gaussianExpert(new Float32Array(H * A), 1);
    const make = async (obs: Observation, req: PlanRequest): Promise<ActionChunk> => {
      n++;
      const t0S = Number(obs.stampNs - EPOCH) / 1e9;
      const mu = new Float32Array(H * A);
      for (let i = 0; i < H; i++) for (let j = 0; j < A; j++) mu[i * A + j] = reference(t0S + i * dt, j);
      const offs = normals(A, 100 + n);
      const noise = new Float32Array(H * A);
      for (let i = 0; i < H; i++) for (let j = 0; j < A; j++) noise[i * A + j] = offs[j]!;
      // Sample in normalized space (x - mu) / sigma, where the data is N(0, 1) and the expert exact.
      let target = new Float32Array(0), len = 0, frozen = 0;
      if (method === 'rtc' && req.prefix) {
        len = Math.min(req.prefix.length, H);
        frozen = req.prefix.frozenSteps;
        target = Float32Array.from({ length: len * A }, (_, i) => (req.prefix!.actions[i]! - mu[i]!) / sigma);
      }
      const x = await rtcSample(exact, noise, rtcGuidance(target, len, H, A, frozen), 10, 5);
      return { t0Ns: obs.stampNs, dt, horizon: H, actionDim: A, actions: x.map((xi, i) => mu[i]! + sigma * xi), modelVersion: 'gauss@0', adapterVersion: 'base', noiseSeed: n, inferenceDelaySteps: 0 };
    };
    const join = method === 'rtc' ? { method: 'rtc' as const } : method === 'ensemble' ? { method: 'ensemble' as const, decay: 0.5 } : { method: 'replace' as const };
    const r = rig({ make, latencyS: 0.06, loop: { join, replanThreshold: 0.6 } });
    const rows: { chunk: number; d: Float64Array }[] = [];
    r.loop.addTap((rec) => { if (rec.desired) rows.push({ chunk: rec.chunkSeq, d: rec.desired }); });
    await r.run(0, 300);
    let boundary = 0, inner = 0, innerN = 0;
    for (let i = 1; i < rows.length; i++) {
      let jump = 0;
      for (let j = 0; j < A; j++) jump = Math.max(jump, Math.abs(rows[i]!.d[j]! - rows[i - 1]!.d[j]!));
      if (rows[i]!.chunk !== rows[i - 1]!.chunk) boundary = Math.max(boundary, jump);
      else { inner += jump; innerN++; }
    }
    return { ratio: boundary / (inner / innerN), chunks: r.loop.snapshot().chunksAccepted };
  };
  const rep = await boundaryJump('replace');
  const ens = await boundaryJump('ensemble');
  const rtc = await boundaryJump('rtc');
  t.diagnostic(`boundary jump / mean in-chunk step: replace ${rep.ratio.toFixed(2)}, ensemble ${ens.ratio.toFixed(2)}, rtc ${rtc.ratio.toFixed(2)}`);
  assert.ok(rep.chunks > 10 && rtc.chunks > 10);
  assert.ok(rtc.ratio < 0.25 * rep.ratio, `rtc ${rtc.ratio.toFixed(2)} vs replace ${rep.ratio.toFixed(2)}`);
  assert.ok(rtc.ratio < ens.ratio, `rtc ${rtc.ratio.toFixed(2)} vs ensemble ${ens.ratio.toFixed(2)}`);
  assert.ok(rtc.ratio < 4, `rtc boundary jump ratio ${rtc.ratio.toFixed(2)}`);
});
