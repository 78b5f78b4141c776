// The fixture writer that models/toolchain/test_peft.py holds model.py against (CI runs no Python,
// so the node half is checked here): the adapter it writes is read back whole, and the chunk it
// planned with it through the policy worker differs from the base chunk for the same noise.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readManifest } from '../../src/bundle/index.js';
import { readPeftAdapter } from '../../src/train/index.js';
import { bundlePath } from '../support/bundles.js';
import { FIXTURE_BUNDLE, writePeftFixture } from './peft-fixture.js';

test('peft-fixture writes an adapter that reads back whole and a chunk that the adapter changes', async () => {
  const out = await mkdtemp(join(tmpdir(), 'vlad-peft-fixture-'));
  try {
    const fx = await writePeftFixture(out);
    const m = await readManifest(bundlePath(FIXTURE_BUNDLE));
    const { vector, baseModel } = await readPeftAdapter(join(out, 'adapter'), m.lora);
    assert.equal(vector.length, m.lora.size);
    assert.equal(baseModel, `${m.name}@${m.version}`);
    assert.deepEqual(JSON.parse(await readFile(join(out, 'chunk.json'), 'utf8')), fx);
    assert.equal(fx.actions.length, m.io.chunk_length * m.io.action_dim);
    assert.equal(fx.noise.length, fx.actions.length);
    assert.ok(fx.actions.every(Number.isFinite));
    const moved = Math.max(...fx.actions.map((a, i) => Math.abs(a - fx.base_actions[i]!)));
    assert.ok(moved > 0.01, `the adapter moved the chunk by only ${moved}`);
  } finally {
    await rm(out, { recursive: true, force: true });
  }
});
