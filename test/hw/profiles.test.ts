import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { loadProfile, openWithFallback, parseProfile, profilesDir } from '../../src/hw/index.js';
import { bundlePath } from '../support/bundles.js';

test('every shipped hw-profile validates, and the required targets exist', async () => {
  const files = (await readdir(profilesDir())).filter((f) => f.endsWith('.yaml'));
  const names = files.map((f) => f.replace(/\.yaml$/, '')).sort();
  assert.deepEqual(names, ['cpu', 'jetson-agx-orin', 'jetson-orin-nano', 'jetson-thor', 'x86-cuda']);
  for (const name of names) {
    const p = await loadProfile(name);
    assert.equal(p.name, name, `${name}.yaml names itself`);
    assert.equal(p.execution_providers.at(-1)!.name, 'cpu', `${name} falls back to cpu last`);
  }
});

test('the evaluation matrix profiles (models/toolchain/eval-profiles) validate and differ from cpu only in N and K', async () => {
  const dir = join(profilesDir(), '..', 'models', 'toolchain', 'eval-profiles');
  const files = (await readdir(dir)).filter((f) => f.endsWith('.yaml'));
  assert.ok(files.length >= 6);
  const cpu = await loadProfile('cpu');
  for (const f of files) {
    const p = await loadProfile(join(dir, f));
    assert.deepEqual({ ...p, name: cpu.name, description: cpu.description, denoising_steps: cpu.denoising_steps, candidates: cpu.candidates }, cpu, f);
  }
});

test('profile errors name the file and the field', async () => {
  const text = await readFile(join(profilesDir(), 'cpu.yaml'), 'utf8');
  assert.throws(() => parseProfile(text.replace('control_rate_hz: 50', 'control_rate_hz: 5000'), 'x.yaml'), /x\.yaml: control_rate_hz: must be <= 1000/);
  assert.throws(() => parseProfile(`${text}\nturbo: true\n`, 'x.yaml'), /x\.yaml: turbo: unknown field/);
  assert.throws(() => parseProfile(text.replace('- name: cpu', '- name: npu'), 'x.yaml'), /execution_providers\.0\.name/);
  assert.throws(() => parseProfile('a: [', 'x.yaml'), /not valid YAML/);
  await assert.rejects(loadProfile('no-such-board'), /no such hardware profile 'no-such-board'/);
});

test('provider fallback: unavailable providers are skipped with a reason, unpassable options reported', async () => {
  const profile = await loadProfile('jetson-agx-orin');
  const model = join(bundlePath('vlad-tiny-l1'), 'prefix.onnx');
  // As on a CPU-only build: neither GPU provider is compiled in.
  const { session, choice } = await openWithFallback(model, profile, ['cpu']);
  try {
    assert.equal(choice.name, 'cpu');
    assert.deepEqual(choice.skipped.map((s) => s.name), ['tensorrt', 'cuda']);
    assert.match(choice.summary, /execution provider: cpu \(profile jetson-agx-orin\)/);
    assert.match(choice.summary, /tensorrt: not compiled into this onnxruntime-node build/);
  } finally {
    await session.release();
  }
  // With this machine's real build: cuda is listed but its libraries are absent, so creation fails.
  const x86 = await loadProfile('x86-cuda');
  const real = await openWithFallback(model, x86);
  try {
    assert.equal(real.choice.name, 'cpu');
    assert.ok(real.choice.skipped.every((s) => s.reason.length > 0));
  } finally {
    await real.session.release();
  }
  // An option the Node binding cannot forward is reported for the provider that was chosen.
  const { session: s2, choice: c2 } = await openWithFallback(model, { ...x86, execution_providers: [{ name: 'cpu', options: { use_arena: true, enable_cpu_mem_arena_shrinkage: true } }] });
  try {
    assert.deepEqual(c2.unpassable, ['cpu.enable_cpu_mem_arena_shrinkage']);
    assert.match(c2.summary, /not passable through onnxruntime-node, ignored: cpu\.enable_cpu_mem_arena_shrinkage/);
  } finally {
    await s2.release();
  }
});
