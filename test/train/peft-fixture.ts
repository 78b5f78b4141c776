// Writes what models/toolchain/test_peft.py checks vlad against: a PEFT adapter directory written
// by vlad, and the chunk vlad (PolicyEngine: ORT in its worker) plans with that adapter, read back
// from disk, for the golden observation of the base bundle and a fixed noise seed.
//   node dist/test/train/peft-fixture.js OUT_DIR
// OUT_DIR/adapter/{adapter_config.json, adapter_model.safetensors}
// OUT_DIR/chunk.json: bundle dir, state (physical units), instruction, noise seed, steps, the
// initial noise (normalized, scaled) and the chunk's actions (physical units), with and without
// the adapter.
import { readFile, writeFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { goldenTensor, readBundle } from '../../src/bundle/index.js';
import { Normalizer, PolicyEngine, gaussianNoise } from '../../src/policy/index.js';
import { readPeftAdapter, writePeftAdapter } from '../../src/train/index.js';
import { bundlePath } from '../support/bundles.js';

export const FIXTURE_BUNDLE = 'vlad-base-flow';
export const FIXTURE_NOISE_SEED = 4242;

export interface PeftFixture {
  bundle: string;
  instruction: string;
  state: number[];
  noise_seed: number;
  steps: number;
  /** The sampler's initial x (gaussianNoise(seed) * noise_scale), [H * A], normalized space. */
  noise: number[];
  actions: number[];
  base_actions: number[];
  horizon: number;
  action_dim: number;
}

export async function writePeftFixture(out: string): Promise<PeftFixture> {
  const dir = bundlePath(FIXTURE_BUNDLE);
  const { manifest: m, normStats } = await readBundle(dir);
  const golden = await readFile(join(dir, m.golden.file));
  const tensor = (name: string) => goldenTensor(golden, m.golden.tensors[name]!);
  // The golden observation: its images, and the state whose normalization is the golden one.
  const images = tensor('prefix.images') as Uint8Array;
  const state = new Normalizer(m.normalization.mode, normStats.state).unnormalize(tensor('prefix.state') as Float32Array);
  const instruction = m.golden.instruction!;
  const c = m.io.cameras;
  const px = c[0]!.height * c[0]!.width * 3;
  const obs = {
    stampNs: 0n, state, instruction,
    images: Object.fromEntries(c.map((cam, i) => [cam.name, { width: cam.width, height: cam.height, data: images.slice(i * px, (i + 1) * px) }])),
  };
  const adapterDir = join(out, 'adapter');
  await mkdir(out, { recursive: true });
  await writePeftAdapter(adapterDir, m, tensor('expert_lora.lora') as Float32Array);
  const { vector } = await readPeftAdapter(adapterDir, m.lora);
  const engine = await PolicyEngine.open(dir, { selfTest: 'none', warmUpRuns: 0 });
  try {
    const base = await engine.infer(obs, { noiseSeed: FIXTURE_NOISE_SEED });
    await engine.loadAdapter('peft', vector, 'peft-fixture');
    await engine.activateAdapter('peft');
    const adapted = await engine.infer(obs, { noiseSeed: FIXTURE_NOISE_SEED });
    if (adapted.chunk.adapterVersion !== 'peft-fixture') throw new Error(`the chunk was planned with adapter '${adapted.chunk.adapterVersion}'`);
    const n = m.io.chunk_length * m.io.action_dim;
    const scale = m.expert.sampler.noise_scale ?? 1;
    const fixture: PeftFixture = {
      bundle: dir, instruction, state: [...state], noise_seed: FIXTURE_NOISE_SEED, steps: engine.steps,
      noise: [...gaussianNoise(FIXTURE_NOISE_SEED, n)].map((x) => Math.fround(x * scale)),
      actions: [...adapted.chunk.actions], base_actions: [...base.chunk.actions],
      horizon: m.io.chunk_length, action_dim: m.io.action_dim,
    };
    await writeFile(join(out, 'chunk.json'), `${JSON.stringify(fixture)}\n`);
    return fixture;
  } finally {
    await engine.close();
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const out = process.argv[2];
  if (!out) { process.stderr.write('usage: node dist/test/train/peft-fixture.js OUT_DIR\n'); process.exit(2); }
  await writePeftFixture(out);
  process.stdout.write(`wrote ${join(out, 'adapter')} and ${join(out, 'chunk.json')}\n`);
}
