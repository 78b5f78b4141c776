// SIGKILL fault injection. This file is also the crashing child: with VLAD_RLDS_CRASH_CHILD set it
// records episodes as fast as it can and prints "DONE <id>" once endEpisode says an episode is durable.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { openRecorder, openDataset, validateDataset } from '../../src/rlds/index.js';
import { tempDir, testImage } from './helpers.js';

const spec = { cameras: [{ name: 'image', height: 48, width: 48, channels: 3 }, { name: 'wrist', height: 8, width: 8, channels: 3 }], stateDim: 4, actionDim: 3 };
const NAME = 'vlad_crash';
const TRIALS = 22;

async function child(root: string): Promise<void> {
  const rec = await openRecorder({ root, name: NAME, spec, imageEncoding: 'png', maxEpisodesPerShard: 3, maxShardBytes: 150_000 });
  process.stdout.write('READY\n');
  for (let e = 0; ; e++) {
    rec.beginEpisode({ instruction: 'crash me' });
    const n = 1 + ((e * 7) % 9);
    for (let t = 0; t < n; t++) {
      rec.addStep({ images: { image: testImage(48, 48, t), wrist: testImage(8, 8, t) }, state: new Float32Array(4).fill(t), action: new Float32Array(3).fill(e), mode: 'teleop' });
      if (t % 3 === 0) await new Promise((r) => setImmediate(r));
    }
    const r = await rec.endEpisode({ success: e % 2 === 0 });
    process.stdout.write(`DONE ${r.episodeId}\n`);
  }
}

if (process.env.VLAD_RLDS_CRASH_CHILD) {
  await child(process.env.VLAD_RLDS_CRASH_CHILD);
} else {
  // ~40 s on an idle 2-core machine; the limit only catches a hang (it ran past 120 s while training shared the cores).
  test(`SIGKILL at random moments (${TRIALS} trials): after restart the dataset validates and no finished episode is lost`, { timeout: 300_000 }, async () => {
    const root = tempDir('crash');
    const finished = new Set<string>();
    let seed = 12345;
    const rand = () => { seed = (seed * 1103515245 + 12345) % 2 ** 31; return seed / 2 ** 31; };
    let recovered = 0, tornBytes = 0;
    for (let trial = 0; trial < TRIALS; trial++) {
      const proc = spawn(process.execPath, [fileURLToPath(import.meta.url)], { env: { ...process.env, VLAD_RLDS_CRASH_CHILD: root }, stdio: ['ignore', 'pipe', 'inherit'] });
      let out = '';
      const ready = new Promise<void>((resolve, reject) => {
        proc.stdout.on('data', (d: Buffer) => { out += d.toString(); if (out.includes('READY')) resolve(); });
        proc.on('exit', (code) => reject(new Error(`child exited early (${code}): ${out}`)));
      });
      const exited = new Promise((r) => proc.on('exit', r));
      await ready;
      await new Promise((r) => setTimeout(r, 5 + rand() * 400));
      proc.kill('SIGKILL');
      await exited;
      for (const m of out.matchAll(/^DONE (\S+)$/gm)) finished.add(m[1]!);
      // Restart: opening the recorder runs crash recovery; closing publishes the open shard.
      const rec = await openRecorder({ root, name: NAME, spec, imageEncoding: 'png', maxEpisodesPerShard: 3, maxShardBytes: 150_000 });
      recovered += rec.recovery.recoveredEpisodes.length;
      tornBytes += rec.recovery.truncatedShardBytes;
      await rec.close();
      const v = await validateDataset(root);
      assert.ok(v.ok, `trial ${trial}: ${v.problems[0]}`);
      const ids = new Set<string>();
      const ds = await openDataset(root);
      for await (const ep of ds) {
        const md = ep.metadata().episode_metadata as Record<string, unknown>;
        assert.ok(!ids.has(md.episode_id as string), `trial ${trial}: episode ${md.episode_id} twice`);
        ids.add(md.episode_id as string);
        if (md.truncated) assert.equal(ep.step(ep.numSteps - 1).is_terminal, false);
      }
      for (const id of finished) assert.ok(ids.has(id), `trial ${trial}: finished episode ${id} lost`);
    }
    assert.ok(finished.size > TRIALS, `only ${finished.size} episodes finished before kills`);
    process.stderr.write(`# crash test: ${TRIALS} kills, ${finished.size} finished episodes all present, ${recovered} partial episodes recovered, ${tornBytes} torn shard bytes cut\n`);
  });
}
