import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { BundleError, canonicalManifest, parseManifest } from '../../src/bundle/index.js';
import { bundlePath } from '../support/bundles.js';

const baseText = () => readFile(join(bundlePath('vlad-base-flow'), 'manifest.json'), 'utf8');

function expectError(text: string, field: RegExp, message: RegExp): void {
  assert.throws(() => parseManifest(text), (err: unknown) => {
    assert.ok(err instanceof BundleError, `expected BundleError, got ${String(err)}`);
    assert.equal(err.file, 'manifest.json');
    assert.match(err.field, field);
    assert.match(err.message, message);
    return true;
  });
}

function edited(text: string, edit: (m: any) => void): string {
  const m = JSON.parse(text);
  edit(m);
  return JSON.stringify(m);
}

test('the shipped manifest parses and declares what the runtime needs', async () => {
  const m = parseManifest(await baseText());
  assert.equal(m.expert.kind, 'flow_matching');
  assert.deepEqual(m.io.cameras.map((c) => c.name), ['scene', 'wrist']);
  assert.ok(m.graphs.prefix && m.graphs.expert && m.graphs.energy && m.graphs.train_step && m.graphs.loss);
  assert.equal(m.signature, null);
});

test('an unknown expert kind is rejected naming the field and the known kinds', async () => {
  expectError(edited(await baseText(), (m) => { m.expert.kind = 'consistency'; }), /^expert\.kind$/, /unknown expert kind 'consistency'.*flow_matching, ddim, l1_regression/);
});

test('sampler noise_scale: a temperature in [0, 4] for noise-driven experts only', async () => {
  const text = await baseText();
  assert.equal(parseManifest(edited(text, (m) => { m.expert.sampler.noise_scale = 0.25; })).expert.sampler.noise_scale, 0.25);
  expectError(edited(text, (m) => { m.expert.sampler.noise_scale = -1; }), /^expert\.sampler\.noise_scale$/, />= 0/);
  expectError(edited(text, (m) => { m.expert.kind = 'l1_regression'; m.expert.sampler = { steps: 1, noise_scale: 0.5 }; }), /^expert\.sampler\.noise_scale$/, /uses no noise/);
});

test('unknown fields, wrong types and missing fields are errors that name the field', async () => {
  const text = await baseText();
  expectError(edited(text, (m) => { m.io.fps = 30; }), /^io\.fps$/, /unknown field/);
  expectError(edited(text, (m) => { m.io.chunk_length = '50'; }), /^io\.chunk_length$/, /integer/);
  expectError(edited(text, (m) => { delete m.tokenizer; }), /^tokenizer$/, /required/);
  expectError(edited(text, (m) => { m.schema_version = 2; }), /^schema_version$/, /unsupported schema version 2/);
  expectError('{ not json', /\(root\)/, /not valid JSON/);
});

test('semantic checks: lora layout, unhashed files, golden references', async () => {
  const text = await baseText();
  expectError(edited(text, (m) => { m.lora.layout[1].offset += 1; }), /^lora\.layout\[1\]\.offset$/, /contiguous/);
  expectError(edited(text, (m) => { m.lora.size += 1; }), /^lora\.size$/, /layout covers/);
  expectError(edited(text, (m) => { delete m.files['expert.onnx']; }), /^graphs\.expert\.file$/, /no sha256/);
  expectError(edited(text, (m) => { m.golden.cases[0].outputs.prefix_kv = 'nope'; }), /^golden\.cases\[0\]$/, /unknown golden tensor 'nope'/);
  expectError(edited(text, (m) => { m.expert.kind = 'ddim'; }), /alphas_cumprod/, /required for a ddim expert/);
  expectError(edited(text, (m) => { m.files['../escape'] = 'a'.repeat(64); }), /^files$/, /.+/);
});

test('the canonical form ignores key order, whitespace and the signature', async () => {
  const m = parseManifest(await baseText());
  const reverseKeys = (v: unknown): unknown => Array.isArray(v) ? v.map(reverseKeys)
    : v && typeof v === 'object' ? Object.fromEntries(Object.entries(v).reverse().map(([k, x]) => [k, reverseKeys(x)])) : v;
  const reordered = reverseKeys(m) as typeof m;
  const signed = { ...m, signature: { alg: 'ed25519' as const, key_id: 'k', value: 'c2ln' } };
  assert.equal(canonicalManifest(m), canonicalManifest(reordered));
  assert.equal(canonicalManifest(m), canonicalManifest(signed));
  assert.notEqual(canonicalManifest(m), canonicalManifest({ ...m, version: '9.9.9' }));
});
