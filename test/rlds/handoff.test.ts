// The recorder's hand-off to its encoder: the shared step ring (no message per step), repeated
// camera frames (copied and encoded once), and what happens when the ring is full.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openRecorder, openDataset, validateDataset, EncodedImage, type RecordStep, type Tensor } from '../../src/rlds/index.js';
import { tempDir, testImage } from './helpers.js';

const spec = { cameras: [{ name: 'scene', height: 12, width: 16, channels: 3 }, { name: 'wrist', height: 8, width: 8, channels: 3 }], stateDim: 2, actionDim: 2 };

/** Step t; the images change every `frameEvery` steps (a camera slower than the loop). */
function step(t: number, frameEvery = 1, instruction?: string): RecordStep {
  const f = Math.floor(t / frameEvery);
  return {
    images: { scene: testImage(12, 16, f), wrist: testImage(8, 8, 1000 + f) },
    state: Float32Array.of(t, -t), action: Float32Array.of(t * 0.5, 1), mode: 'policy',
    stampNs: 1_000_000n + BigInt(t), ...(instruction ? { instruction } : {}),
  };
}

async function pixels(obs: Record<string, unknown>, cam: string): Promise<Buffer> {
  return Buffer.from((await (obs[cam] as EncodedImage).decode()).data);
}

test('a synchronous burst of 300 steps into a 300-slot ring is recorded whole and in order, strings included', async () => {
  const root = tempDir('burst');
  const rec = await openRecorder({ root, name: 'vlad_burst', spec, imageEncoding: 'png', maxQueueSteps: 300 });
  rec.beginEpisode({ instruction: 'burst' });
  for (let t = 0; t < 300; t++) assert.equal(rec.addStep(step(t, 1, t >= 150 ? 'second half' : undefined)), true, `step ${t}`);
  assert.equal(rec.stats().queueDepth > 0, true);
  const r = await rec.endEpisode({ success: true });
  assert.deepEqual([r.steps, r.droppedSteps], [300, 0]);
  await rec.close();
  const ep = await (await openDataset(root)).episode(0);
  assert.equal(ep.numSteps, 300);
  for (let t = 0; t < 300; t++) {
    const s = ep.step(t);
    assert.deepEqual(Array.from((s.action as Tensor).data as Float32Array), [t * 0.5, 1], `action of step ${t}`);
    assert.equal((s.provenance as Record<string, unknown>).timestamp_ns, 1_000_000n + BigInt(t));
    assert.equal(s.language_instruction, t >= 150 ? 'second half' : 'burst');
    if (t % 37 === 0) assert.ok((await pixels(s.observation as Record<string, unknown>, 'scene')).equals(Buffer.from(testImage(12, 16, t))), `pixels of step ${t}`);
  }
});

test('repeated camera frames are copied and encoded once, yet every step stores its own image', async () => {
  const root = tempDir('repeat');
  const rec = await openRecorder({ root, name: 'vlad_repeat', spec, imageEncoding: 'png' });
  for (let e = 0; e < 2; e++) {
    rec.beginEpisode({ instruction: `episode ${e}` });
    for (let t = 0; t < 40; t++) { await rec.whenWritable(); assert.equal(rec.addStep(step(t, 7)), true); }
    await rec.endEpisode({ success: false });
  }
  // 40 steps show 6 distinct frames per camera; each episode's first step carries its images anew.
  assert.equal(rec.stats().repeatedImages, 2 * 2 * (40 - 6));
  await rec.close();
  const v = await validateDataset(root);
  assert.ok(v.ok, v.problems[0]);
  const ds = await openDataset(root);
  for (let e = 0; e < 2; e++) {
    const ep = await ds.episode(e);
    assert.equal(ep.numSteps, 40);
    for (let t = 0; t < 40; t++) {
      const obs = ep.step(t).observation as Record<string, unknown>;
      const f = Math.floor(t / 7);
      assert.ok((await pixels(obs, 'scene')).equals(Buffer.from(testImage(12, 16, f))), `scene e${e} t${t}`);
      assert.ok((await pixels(obs, 'wrist')).equals(Buffer.from(testImage(8, 8, 1000 + f))), `wrist e${e} t${t}`);
    }
  }
});

test('a full ring drops steps and counts them; the recorded steps are exactly the accepted ones, in order', async () => {
  const root = tempDir('full');
  const rec = await openRecorder({ root, name: 'vlad_full', spec, imageEncoding: 'png', maxQueueSteps: 3 });
  rec.beginEpisode({ instruction: 'overflow' });
  const accepted: number[] = [];
  for (let t = 0; t < 200; t++) if (rec.addStep(step(t))) accepted.push(t);
  const dropped = 200 - accepted.length;
  assert.ok(accepted.length >= 3 && dropped > 0, `accepted ${accepted.length}`);
  assert.deepEqual(accepted.slice(0, 3), [0, 1, 2]);
  assert.equal(rec.stats().droppedFrames, dropped);
  // Room comes back once the encoder catches up; later steps are recorded again.
  for (let t = 200; t < 210; t++) { await rec.whenWritable(); assert.equal(rec.addStep(step(t)), true); accepted.push(t); }
  const r = await rec.endEpisode({ success: false });
  assert.deepEqual([r.steps, r.droppedSteps], [accepted.length, dropped]);
  await rec.close();
  const ep = await (await openDataset(root)).episode(0);
  assert.equal((ep.metadata().episode_metadata as Record<string, unknown>).dropped_steps, dropped);
  const stamps = Array.from({ length: ep.numSteps }, (_, i) => Number((ep.step(i).provenance as Record<string, unknown>).timestamp_ns as bigint - 1_000_000n));
  assert.deepEqual(stamps, accepted);
  for (const [i, t] of accepted.entries()) {
    if (i % 4 !== 0) continue;
    assert.ok((await pixels(ep.step(i).observation as Record<string, unknown>, 'wrist')).equals(Buffer.from(testImage(8, 8, 1000 + t))), `pixels of step ${t}`);
  }
});
