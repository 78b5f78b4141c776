import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, existsSync, mkdirSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { once } from 'node:events';
import { openRecorder, openDataset, validateDataset, type RecordStep } from '../../src/rlds/index.js';
import { encodeExample } from '../../src/rlds/example.js';
import { headerFeatures, stepFeatures } from '../../src/rlds/episode.js';
import { frameRecord } from '../../src/rlds/tfrecord.js';
import { tempDir, testImage } from './helpers.js';

const spec = { cameras: [{ name: 'image', height: 8, width: 12, channels: 3 }], stateDim: 3, actionDim: 2 };
const step = (t: number, over: Partial<RecordStep> = {}): RecordStep => ({
  images: { image: testImage(8, 12, t) }, state: Float32Array.of(t, 1, 2), action: Float32Array.of(0.5, t), mode: 'teleop', ...over,
});

test('bad step data aborts only that episode, with a clear error, and the dataset stays valid', async () => {
  const root = tempDir('bad');
  const rec = await openRecorder({ root, name: 'vlad_bad', spec });
  assert.throws(() => rec.addStep(step(0)), /no episode is recording/);
  const aborted: [string, Error][] = [];
  rec.on('episode-aborted', (id: string, e: Error) => aborted.push([id, e]));

  const a = rec.beginEpisode({ instruction: 'nan action' });
  assert.equal(rec.addStep(step(0)), true);
  assert.equal(rec.addStep(step(1, { action: Float32Array.of(0, NaN) })), false);
  assert.equal(rec.addStep(step(2)), false, 'an aborted episode takes no more steps');
  await assert.rejects(rec.endEpisode({ success: true }), /step\.action: contains NaN/);

  const b = rec.beginEpisode({ instruction: 'wrong image' });
  assert.equal(rec.addStep(step(0, { images: { image: new Uint8Array(10) } })), false);
  await assert.rejects(rec.endEpisode({ success: true }), /step\.images\.image: 10 bytes, expected 8x12x3 = 288/);

  rec.beginEpisode({ instruction: 'wrong state length' });
  assert.equal(rec.addStep(step(0, { state: new Float32Array(4) })), false);
  rec.abortEpisode();

  const c = rec.beginEpisode({ instruction: 'fine' });
  for (let t = 0; t < 3; t++) assert.equal(rec.addStep(step(t)), true);
  const r = await rec.endEpisode({ success: true });
  assert.equal(r.episodeId, c);
  assert.deepEqual(aborted.map(([id]) => id), [a, b, aborted[2]![0]]);
  assert.equal(rec.stats().abortedEpisodes, 3);
  assert.throws(() => rec.beginEpisode({ instruction: '' }), /instruction must be a non-empty string/);
  await rec.close();
  assert.ok((await validateDataset(root)).ok);
  const ds = await openDataset(root);
  assert.equal(ds.episodeCount, 1);
  assert.equal(((await ds.episode(0)).metadata().episode_metadata as Record<string, unknown>).episode_id, c);
});

test('disk full while journaling (real ENOSPC from /dev/full) aborts that episode only', { skip: !existsSync('/dev/full') && 'no /dev/full' }, async () => {
  const root = tempDir('full');
  const journalDir = join(root, 'journal');
  mkdirSync(journalDir, { recursive: true });
  symlinkSync('/dev/full', join(journalDir, 'doomed.journal'));
  const rec = await openRecorder({ root, name: 'vlad_full', spec, journalDir });
  const abortedEvent = once(rec, 'episode-aborted');
  rec.beginEpisode({ instruction: 'x', episodeId: 'doomed' });
  rec.addStep(step(0));
  const [, err] = await abortedEvent;
  assert.match((err as Error).message, /episode doomed: cannot start journal .*doomed\.journal.*\(disk full\)/);
  await assert.rejects(rec.endEpisode({ success: true }), /disk full/);
  rec.beginEpisode({ instruction: 'x', episodeId: 'survivor' });
  rec.addStep(step(0));
  await rec.endEpisode({ success: true });
  await rec.close();
  assert.ok((await validateDataset(root)).ok);
  assert.equal((await openDataset(root)).episodeCount, 1);
});

test('disk full while appending to the shard: episode refused, dataset valid', { skip: !existsSync('/dev/full') && 'no /dev/full' }, async () => {
  const root = tempDir('fullshard');
  const dir = join(root, 'vlad_fullshard', '1.0.0');
  mkdirSync(dir, { recursive: true });
  symlinkSync('/dev/full', join(dir, 'vlad_fullshard-train.tfrecord-00000'));
  const rec = await openRecorder({ root, name: 'vlad_fullshard', spec });
  rec.beginEpisode({ instruction: 'x' });
  rec.addStep(step(0));
  await assert.rejects(rec.endEpisode({ success: true }), /cannot append episode .* \(disk full\)/);
  await rec.close();
  assert.ok((await validateDataset(root)).ok);
});

test('restart recovery: a torn shard tail is cut, finished episodes kept, a partial episode comes back truncated', async () => {
  const root = tempDir('recover');
  let rec = await openRecorder({ root, name: 'vlad_recover', spec, imageEncoding: 'png', maxEpisodesPerShard: 10 });
  const done = rec.beginEpisode({ instruction: 'finished' });
  for (let t = 0; t < 4; t++) rec.addStep(step(t));
  await rec.endEpisode({ success: true });
  const journalDir = join(root, '.vlad-journal', 'vlad_recover', '1.0.0');
  // What a crash leaves: the recorder's files as they are (no close), a half-written record at the
  // end of the open shard, and the journal of an episode in progress.
  await Promise.all([rec['worker'].terminate(), rec['writer'].terminate()]);
  const shard = join(root, 'vlad_recover', '1.0.0', 'vlad_recover-train.tfrecord-00000');
  appendFileSync(shard, frameRecord(new Uint8Array(1000)).subarray(0, 500));
  const header = { episodeId: 'partial', instruction: 'cut short', robot: 'r', hwProfile: 'h', startTime: '2026-01-01T00:00:00.000Z' };
  const steps = [0, 1, 2].map((t) => stepFeatures({
    encodedImages: [['image', new Uint8Array([0x89, 0x50, 0x4e, 0x47])]], state: Float32Array.of(t, 0, 0), action: Float32Array.of(t, t),
    instruction: 'cut short', discount: 1, mode: 'policy', modelVersion: 'm', adapterVersion: '', noiseSeed: 7n, inferenceDelaySteps: 1, stampNs: 5n,
  }));
  writeFileSync(join(journalDir, 'partial.journal'), Buffer.concat([
    frameRecord(encodeExample(headerFeatures(header))), ...steps.map((s) => frameRecord(encodeExample(s))), Buffer.from([1, 2, 3]),
  ]));
  rec = await openRecorder({ root, name: 'vlad_recover', spec, imageEncoding: 'png' });
  assert.deepEqual(rec.recovery, { truncatedShardBytes: 500, adoptedEpisodes: 1, recoveredEpisodes: ['partial'], discardedEpisodes: [] });
  await rec.close();
  assert.deepEqual(readdirSync(journalDir), []);
  const ds = await openDataset(root);
  assert.equal(ds.episodeCount, 2);
  assert.equal(((await ds.episode(0)).metadata().episode_metadata as Record<string, unknown>).episode_id, done);
  const p = await ds.episode(1);
  assert.equal(p.numSteps, 3);
  assert.deepEqual(p.metadata().episode_metadata, { episode_id: 'partial', success: false, truncated: true, start_time: header.startTime, robot: 'r', hw_profile: 'h', dropped_steps: 0 });
  assert.equal(p.step(2).is_last, true);
  assert.equal(p.step(2).is_terminal, false);
});

test('restart with recoverPartial: false discards a partial episode', async () => {
  const root = tempDir('discard');
  const journalDir = join(root, 'j');
  mkdirSync(journalDir, { recursive: true });
  const header = { episodeId: 'gone', instruction: 'x', robot: '', hwProfile: '', startTime: '2026-01-01T00:00:00.000Z' };
  writeFileSync(join(journalDir, 'gone.journal'), frameRecord(encodeExample(headerFeatures(header))));
  const rec = await openRecorder({ root, name: 'vlad_discard', spec, journalDir, recoverPartial: false });
  assert.deepEqual(rec.recovery.discardedEpisodes, ['gone']);
  await rec.close();
  assert.deepEqual(readdirSync(journalDir), []);
});

test('a full queue drops steps, counts them, and records the count in the episode', async () => {
  const root = tempDir('drops');
  const rec = await openRecorder({ root, name: 'vlad_drops', spec, maxQueueSteps: 2 });
  rec.beginEpisode({ instruction: 'burst' });
  // The encoder frees a slot only after encoding it, far slower than this synchronous burst.
  const accepted = Array.from({ length: 40 }, (_, t) => rec.addStep(step(t)));
  const nAccepted = accepted.filter(Boolean).length;
  assert.ok(nAccepted >= 2 && nAccepted <= 4, `accepted ${nAccepted}`);
  assert.deepEqual(accepted.slice(0, 2), [true, true]);
  assert.equal(rec.stats().droppedFrames, 40 - nAccepted);
  const r = await rec.endEpisode({ success: true });
  assert.deepEqual([r.steps, r.droppedSteps], [nAccepted, 40 - nAccepted]);
  await rec.close();
  const ep = await (await openDataset(root)).episode(0);
  assert.equal((ep.metadata().episode_metadata as Record<string, unknown>).dropped_steps, 40 - nAccepted);
  assert.equal(ep.numSteps, nAccepted);
});

test('a second recorder on the same dataset is refused while the first lives', async () => {
  const root = tempDir('lock');
  const a = await openRecorder({ root, name: 'vlad_lock', spec });
  const lock = join(root, '.vlad-journal', 'vlad_lock', '1.0.0', 'LOCK');
  writeFileSync(lock, '1\n'); // pid 1 is alive: stands in for another recording process
  await assert.rejects(openRecorder({ root, name: 'vlad_lock', spec }), /being recorded by process 1/);
  writeFileSync(lock, `${process.pid}\n`);
  await a.close();
  assert.equal(existsSync(lock), false);
});
