// The policy engine end to end on the shipped bundles: parity, samplers, adapters, replay.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Observation } from '../../src/core/contracts.js';
import { readManifest } from '../../src/bundle/index.js';
import { PolicyEngine, gaussianNoise } from '../../src/policy/index.js';
import { bundlePath, shippedBundles } from '../support/bundles.js';

const quiet = { log: () => {}, warmUpRuns: 1 };

function observation(seed: number, instruction = 'pick up the blue cube'): Observation {
  const img = (k: number) => {
    const data = new Uint8Array(96 * 96 * 3);
    const n = gaussianNoise(seed * 10 + k, data.length);
    for (let i = 0; i < data.length; i++) data[i] = Math.max(0, Math.min(255, 128 + 60 * n[i]!));
    return { width: 96, height: 96, data };
  };
  return { stampNs: 123n, images: { scene: img(0), wrist: img(1) }, state: Float32Array.from([0, -0.5, 0.8, 0, 0.4, 0, 0.02]), instruction };
}

test('golden parity: every shipped bundle reproduces its PyTorch reference within tolerance', async () => {
  const names = await shippedBundles();
  assert.ok(names.length >= 4, `expected the shipped bundles, found ${names.join(', ')}`);
  for (const name of names) {
    const engine = await PolicyEngine.open(bundlePath(name), { ...quiet, selfTest: 'all' });
    try {
      const report = await engine.selfTest('all');
      assert.ok(report.ok, `${name}: ${JSON.stringify(report.cases.filter((c) => !c.ok))}`);
      assert.ok(report.cases.some((c) => c.graph === 'sample'), `${name} has a sampler golden case`);
      for (const c of report.cases) assert.ok(c.maxRelError <= 1e-4, `${name} ${c.graph}.${c.output}: ${c.maxRelError}`);
    } finally {
      await engine.close();
    }
  }
});

test('each sampler kind serves a chunk from the bundle that declares it', async () => {
  for (const [name, kind, steps] of [['vlad-base-flow', 'flow_matching', 10], ['vlad-tiny-flow-quantile', 'flow_matching', 4], ['vlad-tiny-ddim', 'ddim', 10], ['vlad-tiny-l1', 'l1_regression', 1]] as const) {
    const engine = await PolicyEngine.open(bundlePath(name), quiet);
    try {
      assert.equal(engine.samplerKind, kind);
      const r = await engine.infer(observation(1));
      assert.equal(r.timings.expertStepMs.length, steps, `${name}: one timing per expert step`);
      assert.equal(r.chunk.actions.length, 50 * 7);
      assert.ok(r.chunk.actions.every(Number.isFinite));
      assert.equal(r.chunk.t0Ns, 123n);
      assert.equal(r.chunk.dt, 0.02);
      assert.equal(r.chunk.modelVersion, `${name}@${name === 'vlad-base-flow' ? '1.6.0' : '0.1.0'}`);
      assert.ok(r.timings.totalMs >= r.timings.prefixMs);
    } finally {
      await engine.close();
    }
  }
});

test('deterministic replay: a noise seed reproduces a chunk bit for bit; run seeds drive the sequence', async () => {
  const a = await PolicyEngine.open(bundlePath('vlad-tiny-flow-quantile'), { ...quiet, seed: 11 });
  const b = await PolicyEngine.open(bundlePath('vlad-tiny-flow-quantile'), { ...quiet, seed: 11 });
  const c = await PolicyEngine.open(bundlePath('vlad-tiny-flow-quantile'), { ...quiet, seed: 12 });
  try {
    const seqA = [await a.infer(observation(1)), await a.infer(observation(2))];
    const seqB = [await b.infer(observation(1)), await b.infer(observation(2))];
    const seqC = [await c.infer(observation(1))];
    assert.deepEqual(seqA.map((r) => r.chunk.actions), seqB.map((r) => r.chunk.actions));
    assert.notEqual(seqA[0]!.chunk.noiseSeed, seqA[1]!.chunk.noiseSeed);
    assert.notDeepEqual(seqA[0]!.chunk.actions, seqC[0]!.chunk.actions);
    const replay = await c.infer(observation(1), { noiseSeed: seqA[0]!.chunk.noiseSeed });
    assert.deepEqual(replay.chunk.actions, seqA[0]!.chunk.actions);
    assert.equal(replay.chunk.noiseSeed, seqA[0]!.chunk.noiseSeed);
  } finally {
    await Promise.all([a.close(), b.close(), c.close()]);
  }
});

test('noise scale (sampling temperature): 0 makes every noise seed give the same chunk, 1 is the bundle default', async () => {
  const cold = await PolicyEngine.open(bundlePath('vlad-tiny-flow-quantile'), { ...quiet, noiseScale: 0 });
  const unit = await PolicyEngine.open(bundlePath('vlad-tiny-flow-quantile'), { ...quiet, noiseScale: 1 });
  const plain = await PolicyEngine.open(bundlePath('vlad-tiny-flow-quantile'), quiet);
  const warm = await PolicyEngine.open(bundlePath('vlad-tiny-flow-quantile'), { ...quiet, noiseScale: 0.5 });
  try {
    const obs = observation(3);
    const [c1, c2] = [await cold.infer(obs, { noiseSeed: 1 }), await cold.infer(obs, { noiseSeed: 2 })];
    assert.deepEqual(c1.chunk.actions, c2.chunk.actions, 'no noise: the seed does not matter');
    const [u1, u2] = [await unit.infer(obs, { noiseSeed: 1 }), await unit.infer(obs, { noiseSeed: 2 })];
    assert.notDeepEqual(u1.chunk.actions, u2.chunk.actions);
    assert.deepEqual((await plain.infer(obs, { noiseSeed: 1 })).chunk.actions, u1.chunk.actions, 'the tiny bundle declares no noise_scale: 1');
    const w1 = (await warm.infer(obs, { noiseSeed: 1 })).chunk.actions;
    const dist = (a: Float32Array, b: Float32Array) => Math.hypot(...Array.from(a, (x, i) => x - b[i]!));
    assert.ok(dist(w1, c1.chunk.actions) > 0 && dist(w1, c1.chunk.actions) < dist(u1.chunk.actions, c1.chunk.actions), 'half the noise lands between');
  } finally {
    await Promise.all([cold.close(), unit.close(), plain.close(), warm.close()]);
  }
  await assert.rejects(PolicyEngine.open(bundlePath('vlad-tiny-flow-quantile'), { ...quiet, noiseScale: -0.5 }), /noiseScale: expected a number in \[0, 4\], got -0.5/);
});

test('LoRA slots: zero-B adapter == base exactly, a real adapter changes the chunk, swapping back is bit-identical', async () => {
  const dir = bundlePath('vlad-base-flow');
  const m = await readManifest(dir);
  const engine = await PolicyEngine.open(dir, quiet);
  try {
    const obs = observation(3);
    const seed = 99;
    const base = (await engine.infer(obs, { noiseSeed: seed })).chunk;
    assert.equal(base.adapterVersion, 'base');
    const noise = gaussianNoise(5, m.lora.size);
    const zeroB = new Float32Array(m.lora.size);
    const real = new Float32Array(m.lora.size);
    for (const e of m.lora.layout) {
      const n = e.shape.reduce((x, y) => x * y, 1);
      for (let i = e.offset; i < e.offset + n; i++) {
        if (e.name.endsWith('.A')) { zeroB[i] = 0.1 * noise[i]!; real[i] = 0.1 * noise[i]!; }
        else real[i] = 0.05 * noise[i]!;
      }
    }
    assert.ok(zeroB.some((v) => v !== 0), 'the zero-B adapter has non-zero A matrices');
    await engine.loadAdapter('zero-b', zeroB, 'zero-b@1');
    await engine.loadAdapter('real', real, 'real@1');
    await engine.activateAdapter('zero-b');
    const z = (await engine.infer(obs, { noiseSeed: seed })).chunk;
    assert.equal(z.adapterVersion, 'zero-b@1');
    assert.deepEqual(z.actions, base.actions);
    await engine.activateAdapter('real');
    const r = (await engine.infer(obs, { noiseSeed: seed })).chunk;
    assert.equal(r.adapterVersion, 'real@1');
    const diff = r.actions.reduce((mx, v, i) => Math.max(mx, Math.abs(v - base.actions[i]!)), 0);
    assert.ok(diff > 1e-3, `adapter changed the chunk by only ${diff}`);
    await engine.activateAdapter('base');
    assert.deepEqual((await engine.infer(obs, { noiseSeed: seed })).chunk.actions, base.actions);
    await engine.activateAdapter('real');
    assert.deepEqual((await engine.infer(obs, { noiseSeed: seed })).chunk.actions, r.actions);
  } finally {
    await engine.close();
  }
});

test('bad adapters are refused and leave the active one in place', async () => {
  const engine = await PolicyEngine.open(bundlePath('vlad-tiny-flow-quantile'), quiet);
  try {
    const size = engine.manifest.lora.size;
    await assert.rejects(engine.loadAdapter('a', new Float32Array(size - 1), 'v'), /expected 3584 values .*got 3583/);
    const nan = new Float32Array(size); nan[7] = Number.NaN;
    await assert.rejects(engine.loadAdapter('a', nan, 'v'), /NaN or Inf/);
    await assert.rejects(engine.loadAdapter('base', new Float32Array(size), 'v'), /reserved/);
    await assert.rejects(engine.activateAdapter('missing'), /no adapter in slot 'missing'/);
    const r = await engine.infer(observation(1));
    assert.equal(r.chunk.adapterVersion, 'base');
  } finally {
    await engine.close();
  }
});

test('best-of-K ranks K candidates with the energy head and keeps the lowest energy', async () => {
  const engine = await PolicyEngine.open(bundlePath('vlad-base-flow'), quiet);
  try {
    const r = await engine.infer(observation(4), { candidates: 4, noiseSeed: 5 });
    assert.equal(r.energies?.length, 4);
    assert.equal(r.chosen, r.energies!.indexOf(Math.min(...r.energies!)));
    assert.equal(new Set(r.energies).size, 4, 'candidates differ');
    assert.equal(r.timings.expertStepMs.length, 10, 'all K candidates share one expert call per step');
    // The chosen candidate is the same chunk plain sampling would give for that slice of the noise.
    const again = await engine.infer(observation(4), { candidates: 4, noiseSeed: 5 });
    assert.deepEqual(again.chunk.actions, r.chunk.actions);
  } finally {
    await engine.close();
  }
  const tiny = await PolicyEngine.open(bundlePath('vlad-tiny-l1'), quiet);
  try {
    await assert.rejects(tiny.infer(observation(1), { candidates: 4 }), /needs an energy head/);
  } finally {
    await tiny.close();
  }
});

test('observations that do not fit the bundle get clear errors and the engine keeps serving', async () => {
  const engine = await PolicyEngine.open(bundlePath('vlad-tiny-flow-quantile'), quiet);
  try {
    const good = observation(1);
    await assert.rejects(engine.infer({ ...good, images: { scene: good.images.scene! } }), /no image for camera 'wrist'/);
    await assert.rejects(engine.infer({ ...good, images: { ...good.images, wrist: { width: 64, height: 64, data: new Uint8Array(64 * 64 * 3) } } }), /camera 'wrist': image is 64x64/);
    await assert.rejects(engine.infer({ ...good, state: new Float32Array(6) }), /state has 6 values, .* expects 7/);
    await assert.rejects(engine.infer({ ...good, state: Float32Array.from([0, 0, Number.NaN, 0, 0, 0, 0]) }), /NaN or Inf/);
    const r = await engine.infer(good);
    assert.equal(r.chunk.actions.length, 350);
  } finally {
    await engine.close();
  }
});

test('the main thread keeps running timers while the worker plans chunks', async () => {
  const engine = await PolicyEngine.open(bundlePath('vlad-base-flow'), quiet);
  try {
    let ticks = 0;
    const timer = setInterval(() => { ticks++; }, 1);
    const t0 = performance.now();
    let chunks = 0;
    while (performance.now() - t0 < 300) { await engine.infer(observation(1)); chunks++; }
    clearInterval(timer);
    // A blocked loop would deliver ~one tick per chunk; a free loop delivers several per chunk.
    assert.ok(ticks > chunks * 2, `${ticks} timer ticks during ${chunks} chunks`);
  } finally {
    await engine.close();
  }
});

test('RTC: with expert_vjp the chunk is pulled onto the executing prefix; without it the prefix is ignored', async () => {
  const engine = await PolicyEngine.open(bundlePath('vlad-base-flow'), quiet);
  try {
    assert.ok(engine.manifest.graphs.expert_vjp, 'the default bundle ships expert_vjp');
    const obs = observation(6);
    const free = await engine.infer(obs, { noiseSeed: 8 });
    assert.equal(free.rtcGuided, false);
    // Ask to continue a plan that differs from the free chunk: frozen rows must follow it. The plan
    // is the model's own sample from other noise, as in closed loop (the chunk still executing).
    // (A per-element zig-zag off the free chunk is off the data manifold: the trained field
    // contracts those directions hard and PiGDM's first-order pull cannot follow them.)
    const H = 50, A = 7, frozen = 5, overlap = 20;
    const target = (await engine.infer(obs, { noiseSeed: 9 })).chunk.actions.slice(0, overlap * A);
    const guided = await engine.infer(obs, { noiseSeed: 8, rtc: { actions: target, length: overlap, frozenSteps: frozen, maxGuidance: 10 } });
    assert.equal(guided.rtcGuided, true);
    assert.equal(guided.timings.expertStepMs.length, 10);
    const dist = (a: Float32Array, rows: number) => { let s = 0; for (let i = 0; i < rows * A; i++) s += (a[i]! - target[i]!) ** 2; return Math.sqrt(s); };
    assert.ok(dist(guided.chunk.actions, frozen) < 0.5 * dist(free.chunk.actions, frozen),
      `frozen rows: guided ${dist(guided.chunk.actions, frozen)} vs free ${dist(free.chunk.actions, frozen)}`);
    assert.ok(guided.chunk.actions.every(Number.isFinite));
    assert.equal(guided.chunk.actions.length, H * A);
    await assert.rejects(engine.infer(obs, { rtc: { actions: target, length: overlap, frozenSteps: -1 } }), /frozenSteps/);
  } finally {
    await engine.close();
  }
  const ddim = await PolicyEngine.open(bundlePath('vlad-tiny-ddim'), quiet);
  try {
    const r = await ddim.infer(observation(6), { rtc: { actions: new Float32Array(70), length: 10, frozenSteps: 2 } });
    assert.equal(r.rtcGuided, false);
  } finally {
    await ddim.close();
  }
});
