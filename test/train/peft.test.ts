// PEFT adapter directories: the packed vector of the shipped base bundle to PEFT tensors and back
// (exact), the names, shapes and config PEFT and the toolchain read, the maths of the fused qkv
// mapping, and every malformed file refused with an error that names what is wrong.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { goldenTensor, readManifest, type Manifest } from '../../src/bundle/index.js';
import {
  PEFT_CONFIG_FILE, PEFT_WEIGHTS_FILE, decodeSafetensors, encodeSafetensors, loraKey, packToPeft, peftModules,
  readPeftAdapter, writePeftAdapter, type F32Tensor,
} from '../../src/train/index.js';
import { bundlePath } from '../support/bundles.js';

const BUNDLE = 'vlad-base-flow';

async function fixture(): Promise<{ m: Manifest; vector: Float32Array; dir: string; cleanup: () => Promise<void> }> {
  const m = await readManifest(bundlePath(BUNDLE));
  const golden = await readFile(join(bundlePath(BUNDLE), m.golden.file));
  // The golden random LoRA (build_bundle.py rand_lora): every A and B entry non-zero.
  const vector = goldenTensor(golden, m.golden.tensors['expert_lora.lora']!) as Float32Array;
  const root = await mkdtemp(join(tmpdir(), 'vlad-peft-'));
  return { m, vector, dir: join(root, 'adapter'), cleanup: () => rm(root, { recursive: true, force: true }) };
}

const entry = (m: Manifest, name: string) => m.lora.layout.find((e) => e.name === name)!;

test('pack -> PEFT files -> pack is exact, and the files say what PEFT writes', async () => {
  const { m, vector, dir, cleanup } = await fixture();
  try {
    assert.equal(vector.length, 27648);
    await writePeftAdapter(dir, m, vector);
    const back = await readPeftAdapter(dir, m.lora);
    assert.deepEqual(Buffer.from(back.vector.buffer), Buffer.from(vector.buffer, vector.byteOffset, vector.byteLength));
    assert.equal(back.baseModel, 'vlad-base-flow@1.6.0');
    const cfg = JSON.parse(await readFile(join(dir, PEFT_CONFIG_FILE), 'utf8'));
    assert.equal(cfg.peft_type, 'LORA');
    assert.equal(cfg.r, 8);
    assert.equal(cfg.lora_alpha, 16);
    assert.equal(cfg.bias, 'none');
    assert.deepEqual(cfg.rank_pattern, { qkv: 24 });
    assert.deepEqual(cfg.alpha_pattern, { qkv: 48 });
    for (const path of ['expert.layers.2.qkv', 'expert.layers.0.o', 'expert.layers.1.up', 'expert.layers.2.down']) assert.match(path, new RegExp(`^(?:${cfg.target_modules})$`));
    for (const path of ['prefix.layers.0.o', 'energy.block.up', 'expert.layers.0.qkv.lora_A']) assert.doesNotMatch(path, new RegExp(`^(?:${cfg.target_modules})$`));
    const bytes = await readFile(join(dir, PEFT_WEIGHTS_FILE));
    const headerLen = Number(bytes.readBigUInt64LE(0));
    assert.equal(headerLen % 8, 0, 'header padded to 8 bytes');
    const { tensors, metadata } = decodeSafetensors(bytes);
    assert.deepEqual(metadata, { format: 'pt' });
    assert.equal(tensors.size, 3 * 4 * 2);
    assert.deepEqual(tensors.get('base_model.model.expert.layers.0.qkv.lora_A.weight')!.shape, [24, 64]);
    assert.deepEqual(tensors.get('base_model.model.expert.layers.0.qkv.lora_B.weight')!.shape, [384, 24]);
    assert.deepEqual(tensors.get('base_model.model.expert.layers.1.o.lora_A.weight')!.shape, [8, 128]);
    assert.deepEqual(tensors.get('base_model.model.expert.layers.1.o.lora_B.weight')!.shape, [64, 8]);
    assert.deepEqual(tensors.get('base_model.model.expert.layers.2.up.lora_B.weight')!.shape, [128, 8]);
    assert.deepEqual(tensors.get('base_model.model.expert.layers.2.down.lora_A.weight')!.shape, [8, 128]);
    // Spot values against the layout: layer 1's k is qkv block 1 (rows 128..255 of B, columns 8..15).
    const kB = entry(m, 'expert.layers.1.attn.k.B'), kA = entry(m, 'expert.layers.1.attn.k.A');
    const B = tensors.get(loraKey('expert.layers.1.qkv', 'B'))!, A = tensors.get(loraKey('expert.layers.1.qkv', 'A'))!;
    assert.equal(B.data[(128 + 5) * 24 + 8 + 3], vector[kB.offset + 5 * 8 + 3]);
    assert.equal(B.data[(128 + 5) * 24 + 3], 0, 'off-diagonal block is zero');
    assert.equal(A.data[(8 + 2) * 64 + 7], vector[kA.offset + 2 * 64 + 7]);
  } finally {
    await cleanup();
  }
});

test('each PEFT module delta (alpha_eff / r_eff) B A is exactly the layout targets\' (alpha / r) B_i A_i stacked', async () => {
  const { m, vector, cleanup } = await fixture();
  try {
    const tensors = packToPeft(m.lora, vector);
    const matmul = (b: Float32Array, a: Float32Array, n: number, r: number, k: number, bStride = r, bCol = 0) => {
      const out = new Float64Array(n * k);
      for (let i = 0; i < n; i++) for (let j = 0; j < k; j++) { let s = 0; for (let q = 0; q < r; q++) s += b[i * bStride + bCol + q]! * a[q * k + j]!; out[i * k + j] = s; }
      return out;
    };
    const scale = m.lora.alpha / m.lora.rank;
    for (const mod of peftModules(m.lora)) {
      const A = tensors.get(loraKey(mod.path, 'A'))!, B = tensors.get(loraKey(mod.path, 'B'))!;
      const [rEff, fanIn] = mod.shapeA;
      const fused = matmul(B.data, A.data, mod.shapeB[0], rEff, fanIn);
      const effScale = (m.lora.alpha * mod.blocks.length) / rEff;
      mod.blocks.forEach((blk, i) => {
        const [r] = blk.a.shape as [number, number];
        const [fanOut] = blk.b.shape as [number, number];
        const own = matmul(vector.subarray(blk.b.offset), vector.subarray(blk.a.offset), fanOut, r, fanIn);
        for (let row = 0; row < fanOut; row++) for (let col = 0; col < fanIn; col++) {
          // The same products summed in the same order (zeros add nothing): equal to the last bit.
          assert.equal(effScale * fused[(i * fanOut + row) * fanIn + col]!, scale * own[row * fanIn + col]!, `${mod.path} block ${i} [${row}, ${col}]`);
        }
      });
    }
  } finally {
    await cleanup();
  }
});

test('safetensors: the encoder\'s output follows the spec byte for byte on a small example', () => {
  const t = new Map<string, F32Tensor>([['b', { shape: [2], data: Float32Array.of(1, -2) }], ['a', { shape: [1, 1], data: Float32Array.of(0.5) }]]);
  const bytes = encodeSafetensors(t);
  const n = Number(Buffer.from(bytes).readBigUInt64LE(0));
  const header = Buffer.from(bytes.subarray(8, 8 + n)).toString('utf8');
  assert.equal(header.trimEnd(), '{"a":{"dtype":"F32","shape":[1,1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}');
  assert.equal((8 + n) % 8, 0);
  assert.deepEqual([...new Float32Array(bytes.slice(8 + n).buffer)], [0.5, 1, -2]);
});

/** Rewrites the safetensors header of a copy of `bytes` with `edit`; keeps the data. */
function withHeader(bytes: Buffer, edit: (h: Record<string, any>) => void, data?: Buffer): Buffer {
  const n = Number(bytes.readBigUInt64LE(0));
  const h = JSON.parse(bytes.subarray(8, 8 + n).toString('utf8'));
  edit(h);
  const json = Buffer.from(JSON.stringify(h));
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length));
  return Buffer.concat([len, json, data ?? bytes.subarray(8 + n)]);
}

test('bad adapter files are refused with an error naming the file and the rule; nothing half-read is returned', async () => {
  const { m, vector, dir, cleanup } = await fixture();
  try {
    await writePeftAdapter(dir, m, vector);
    const good = await readFile(join(dir, PEFT_WEIGHTS_FILE));
    const goodCfg = JSON.parse(await readFile(join(dir, PEFT_CONFIG_FILE), 'utf8'));
    const n = Number(good.readBigUInt64LE(0));
    const header = JSON.parse(good.subarray(8, 8 + n).toString('utf8'));
    const qkvB = header['base_model.model.expert.layers.0.qkv.lora_B.weight'];
    const qkvA = header['base_model.model.expert.layers.0.qkv.lora_A.weight'];
    const nanData = Buffer.from(good.subarray(8 + n));
    nanData.writeFloatLE(Number.NaN, qkvA.data_offsets[0] + 4 * 10);
    const crossData = Buffer.from(good.subarray(8 + n));
    crossData.writeFloatLE(0.25, qkvB.data_offsets[0] + 4 * 20); // row 0 (q block), column 20 (v's columns)
    const cases: [string, Buffer, RegExp][] = [
      ['truncated', good.subarray(0, good.length - 3), /adapter_model\.safetensors: the tensors cover \d+ bytes of a \d+-byte buffer: truncated/],
      ['trailing bytes', Buffer.concat([good, Buffer.alloc(4)]), /trailing bytes/],
      ['too short', good.subarray(0, 5), /too short/],
      ['header past the end', Buffer.concat([Buffer.from([0xff, 0xff, 0, 0, 0, 0, 0, 0]), good.subarray(8, 100)]), /runs past the end of the file/],
      ['header not JSON', withHeader(good, () => undefined).fill(0x7b, 8, 12), /not valid UTF-8 JSON/],
      ['NaN', withHeader(good, () => undefined, nanData), /qkv\.lora_A\.weight': value NaN at index 10/],
      ['F16', withHeader(good, (h) => { h['base_model.model.expert.layers.0.o.lora_A.weight'].dtype = 'F16'; }), /dtype F16, this reader takes F32 only/],
      ['unknown dtype', withHeader(good, (h) => { h['base_model.model.expert.layers.0.o.lora_A.weight'].dtype = 'F33'; }), /unknown dtype "F33"/],
      ['shape vs span', withHeader(good, (h) => { h['base_model.model.expert.layers.0.o.lora_A.weight'].shape = [8, 127]; }), /span 4096 bytes, shape \[8,127\] F32 needs 4064/],
      ['overlap', withHeader(good, (h) => { const e = h['base_model.model.expert.layers.0.o.lora_A.weight']; e.data_offsets = [e.data_offsets[0] - 4, e.data_offsets[1] - 4]; }), /overlaps|hole/],
      ['wrong shape for the layout', withHeader(good, (h) => { h['base_model.model.expert.layers.0.o.lora_A.weight'].shape = [16, 64]; }), /r \(or rank_pattern\) gives expert\.layers\.0\.o rank 8, its lora_A has 16 rows/],
      ['missing tensor', withHeader(good, (h) => { h['base_model.model.expert.layers.9.o.lora_A.weight'] = h['base_model.model.expert.layers.0.o.lora_A.weight']; delete h['base_model.model.expert.layers.0.o.lora_A.weight']; }), /1 tensor\(s\) missing, e\.g\. 'base_model\.model\.expert\.layers\.0\.o\.lora_A\.weight'/],
      ['q, k, v mixed in qkv', withHeader(good, () => undefined, crossData), /qkv\.lora_B\.weight\[0, 20\] is 0\.25: qkv's lora_B must be block-diagonal/],
    ];
    for (const [what, bytes, re] of cases) {
      await writeFile(join(dir, PEFT_WEIGHTS_FILE), bytes);
      await assert.rejects(readPeftAdapter(dir, m.lora), (err: Error) => { assert.match(err.message, re, what); assert.match(err.message, /^adapter .*adapter: /, what); return true; }, what);
    }
    await writeFile(join(dir, PEFT_WEIGHTS_FILE), good);
    const configCases: [string, (c: Record<string, any>) => void, RegExp][] = [
      ['alpha', (c) => { c.lora_alpha = 32; }, /lora_alpha \(or alpha_pattern\) scales expert\.layers\.0\.o by 32\/8 = 4, this bundle's LoRA scale is alpha\/rank = 16\/8 = 2/],
      ['alpha_pattern dropped', (c) => { c.alpha_pattern = {}; }, /scales expert\.layers\.0\.qkv by 16\/24/],
      ['rslora', (c) => { c.use_rslora = true; }, /use_rslora is true/],
      ['peft type', (c) => { c.peft_type = 'IA3'; }, /peft_type is "IA3", expected "LORA"/],
      ['targets', (c) => { c.target_modules = ['qkv', 'o', 'up']; }, /target_modules does not select expert\.layers\.0\.down/],
      ['bias', (c) => { c.bias = 'all'; }, /bias is "all"/],
    ];
    for (const [what, edit, re] of configCases) {
      const c = structuredClone(goodCfg);
      edit(c);
      await writeFile(join(dir, PEFT_CONFIG_FILE), JSON.stringify(c));
      await assert.rejects(readPeftAdapter(dir, m.lora), re, what);
    }
    await writeFile(join(dir, PEFT_CONFIG_FILE), '{"peft_type": "LORA",');
    await assert.rejects(readPeftAdapter(dir, m.lora), /adapter_config\.json: .*JSON/);
    // A list of module names (PEFT's other spelling) is read too.
    await writeFile(join(dir, PEFT_CONFIG_FILE), JSON.stringify({ ...goodCfg, target_modules: ['qkv', 'o', 'up', 'down'] }));
    assert.equal((await readPeftAdapter(dir, m.lora)).vector.length, m.lora.size);
    await assert.rejects(writePeftAdapter(dir, m, new Float32Array(10)), /10 values, manifest lora\.size is 27648/);
    const inf = Float32Array.from(vector); inf[5] = Infinity;
    await assert.rejects(writePeftAdapter(dir, m, inf), /NaN or Inf/);
  } finally {
    await cleanup();
  }
});
