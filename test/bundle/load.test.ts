// Loading failures: every one is a clear error naming the file and the field, and nothing serves.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFile, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { BundleError } from '../../src/bundle/index.js';
import { PolicyEngine } from '../../src/policy/index.js';
import { bundlePath, scratchCopy, type ScratchBundle } from '../support/bundles.js';

const TINY = 'vlad-tiny-flow-quantile';
const quiet = { log: () => {}, warmUpRuns: 0 };

async function expectLoadError(b: ScratchBundle, file: string, field: RegExp, message: RegExp): Promise<void> {
  await assert.rejects(PolicyEngine.open(b.dir, quiet), (err: unknown) => {
    assert.ok(err instanceof BundleError, `expected BundleError, got ${String(err)}`);
    assert.equal(err.file, file);
    assert.match(err.field, field);
    assert.match(err.message, message);
    return true;
  });
}

async function withScratch(name: string, fn: (b: ScratchBundle) => Promise<void>): Promise<void> {
  const b = await scratchCopy(name);
  try { await fn(b); } finally { await b.cleanup(); }
}

test('the unmodified scratch copy loads (the failures below are caused by the edits)', async () => {
  await withScratch(TINY, async (b) => {
    const engine = await PolicyEngine.open(b.dir, quiet);
    await engine.close();
  });
});

test('a missing file is named', async () => {
  await withScratch(TINY, async (b) => {
    await rm(join(b.dir, 'expert.onnx'));
    await expectLoadError(b, 'expert.onnx', /\(file\)/, /missing/);
  });
});

test('a missing manifest is named', async () => {
  await withScratch(TINY, async (b) => {
    await rm(join(b.dir, 'manifest.json'));
    await expectLoadError(b, 'manifest.json', /\(file\)/, /missing/);
  });
});

test('a hash mismatch names the file and both hashes', async () => {
  await withScratch(TINY, async (b) => {
    const path = join(b.dir, 'tokenizer.json');
    await writeFile(path, (await readFile(path, 'utf8')).replace('"[UNK]"', '"[unk]"'));
    await expectLoadError(b, 'tokenizer.json', /^sha256$/, /is [0-9a-f]{64}, manifest.json files says [0-9a-f]{64}/);
  });
});

test('a file the manifest does not list is refused', async () => {
  await withScratch(TINY, async (b) => {
    await writeFile(join(b.dir, 'extra.onnx'), 'x');
    await expectLoadError(b, 'extra.onnx', /\(file\)/, /not listed/);
  });
});

test('a graph whose shapes differ from the manifest is named with both shapes', async () => {
  await withScratch(TINY, async (b) => {
    // The base bundle's prefix has 3 layers of width 128 over 59 tokens; the tiny manifest declares 2 x 89 x 32.
    await copyFile(join(bundlePath('vlad-base-flow'), 'prefix.onnx'), join(b.dir, 'prefix.onnx'));
    await b.rehash('prefix.onnx');
    await expectLoadError(b, 'prefix.onnx', /^outputs\.prefix_kv\.shape$/, /graph has \[3, 2, 1, 59, 128\], manifest.json says \[2, 2, 1, 89, 32\]/);
  });
});

test('a graph whose inputs differ from the manifest is named', async () => {
  await withScratch(TINY, async (b) => {
    // The L1 expert has no time input.
    await copyFile(join(bundlePath('vlad-tiny-l1'), 'expert.onnx'), join(b.dir, 'expert.onnx'));
    await b.rehash('expert.onnx');
    await expectLoadError(b, 'expert.onnx', /^inputs\.t$/, /declared in manifest.json but the graph's inputs are/);
  });
});

test('a wrong dtype is named with both dtypes', async () => {
  await withScratch(TINY, async (b) => {
    await b.editManifest((m) => { m.graphs.prefix.inputs.find((i: any) => i.name === 'tokens').dtype = 'int32'; });
    await expectLoadError(b, 'prefix.onnx', /^inputs\.tokens\.dtype$/, /graph has int64, manifest.json says int32/);
  });
});

test('an unknown expert kind is refused before any graph loads', async () => {
  await withScratch(TINY, async (b) => {
    await b.editManifest((m) => { m.expert.kind = 'autoregressive'; });
    await expectLoadError(b, 'manifest.json', /^expert\.kind$/, /unknown expert kind/);
  });
});

async function editGoldenTensor(b: ScratchBundle, ref: string, edit: (v: Float32Array) => void): Promise<void> {
  const m = await b.manifest();
  const t = m.golden.tensors[ref];
  const path = join(b.dir, m.golden.file);
  const buf = await readFile(path);
  const view = new Float32Array(buf.buffer, buf.byteOffset + t.offset, t.length / 4);
  edit(view);
  await writeFile(path, buf);
  await b.rehash(m.golden.file);
}

test('NaN in a golden reference output fails the bundle', async () => {
  await withScratch(TINY, async (b) => {
    const m = await b.manifest();
    const sample = m.golden.cases.find((c: any) => c.graph === 'sample');
    await editGoldenTensor(b, sample.outputs.actions, (v) => { v[3] = Number.NaN; });
    await expectLoadError(b, 'golden.bin', /outputs\.actions$/, /contains NaN or Inf/);
  });
});

test('a golden output that ORT does not reproduce fails the self-test with the error figure', async () => {
  await withScratch(TINY, async (b) => {
    const m = await b.manifest();
    const expertCase = m.golden.cases.find((c: any) => c.graph === 'expert');
    await editGoldenTensor(b, expertCase.outputs.out, (v) => { v[0] = v[0]! + 0.5; });
    await expectLoadError(b, 'golden.bin', /^expert\.out$/, /golden self-test failed: max relative error .* > 0\.0001/);
  });
});

test('a tokenizer that does not reproduce the golden ids is refused', async () => {
  await withScratch(TINY, async (b) => {
    await b.editManifest((m) => { m.golden.instruction_tokens[0] += 1; });
    await expectLoadError(b, 'tokenizer.json', /instruction_tokens/, /encodes to \[/);
  });
});
