// SIGKILL fault injection. This file is also the crashing child: with VLAD_RLDS_CRASH_CHILD set it
// records episodes and reports its progress on stdout: "STEP" after each step the encoder has
// taken, "END" as it calls endEpisode, "WAIT" every millisecond until endEpisode says the episode
// is durable (journal sync, shard append), then "DONE <id>". Each trial kills the child at a
// point chosen by counting those lines, never after a wall-clock delay, so what the test asserts
// does not depend on how fast the machine is.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
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
      // Paced like a control loop: the encoder has the step before the next one, so a kill
      // mid-episode finds steps in the journal (a partial episode for recovery to keep).
      while (rec.stats().queueDepth > 0) await new Promise((r) => setTimeout(r, 1));
      process.stdout.write('STEP\n');
    }
    process.stdout.write('END\n');
    const waiting = setInterval(() => process.stdout.write('WAIT\n'), 1);
    const r = await rec.endEpisode({ success: e % 2 === 0 });
    clearInterval(waiting);
    process.stdout.write(`DONE ${r.episodeId}\n`);
  }
}

/**
 * Where a trial kills: once the child has reported `done` durable episodes, then `events` more
 * STEP/END/WAIT lines (mid-episode, or after endEpisode: mid-journal-sync or mid-shard-write),
 * then `turns` setImmediate turns of the test's own loop.
 */
interface KillPlan { done: number; events: number; turns: number }

/** Runs the child until the plan says kill; resolves with everything it printed. */
function runUntilKill(root: string, plan: KillPlan): Promise<string[]> {
  const proc: ChildProcess = spawn(process.execPath, [fileURLToPath(import.meta.url)], { env: { ...process.env, VLAD_RLDS_CRASH_CHILD: root }, stdio: ['ignore', 'pipe', 'inherit'] });
  const lines: string[] = [];
  let partial = '', ready = false, done = 0, events = 0, killing = false;
  return new Promise((resolve, reject) => {
    proc.stdout!.on('data', (d: Buffer) => {
      const parts = (partial + d.toString()).split('\n');
      partial = parts.pop()!;
      for (const line of parts) {
        lines.push(line);
        if (line === 'READY') ready = true;
        else if (line.startsWith('DONE ')) done++;
        else if (done >= plan.done) events++;
        if (ready && !killing && done >= plan.done && events >= plan.events) {
          killing = true;
          void (async () => {
            for (let i = 0; i < plan.turns; i++) await new Promise((r) => setImmediate(r));
            proc.kill('SIGKILL');
          })();
        }
      }
    });
    proc.on('exit', (code, signal) => {
      if (signal === 'SIGKILL' && killing) resolve(lines);
      else reject(new Error(`child exited on its own (code ${code}, signal ${signal}) before the kill: ${lines.join(' | ')}`));
    });
  });
}

if (process.env.VLAD_RLDS_CRASH_CHILD) {
  await child(process.env.VLAD_RLDS_CRASH_CHILD);
} else {
  // The limit only catches a hang: the trials wait for events, not for time.
  test(`SIGKILL at counted moments (${TRIALS} trials): after restart the dataset validates and no finished episode is lost`, { timeout: 300_000 }, async () => {
    const root = tempDir('crash');
    const finished = new Set<string>();
    let seed = 12345;
    const rand = () => { seed = (seed * 1103515245 + 12345) % 2 ** 31; return seed / 2 ** 31; };
    let recovered = 0, tornBytes = 0, awaited = 0;
    for (let trial = 0; trial < TRIALS; trial++) {
      const plan: KillPlan = { done: Math.floor(rand() * 4), events: Math.floor(rand() * 12), turns: Math.floor(rand() * 4) };
      awaited += plan.done;
      const lines = await runUntilKill(root, plan);
      const done = lines.filter((l) => l.startsWith('DONE ')).map((l) => l.slice(5));
      assert.ok(done.length >= plan.done, `trial ${trial}: killed after ${done.length} DONE lines, planned ${plan.done}`);
      for (const id of done) finished.add(id);
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
    // Each trial waited for its planned DONE lines before killing, and episode ids are unique.
    assert.ok(finished.size >= awaited, `${finished.size} episodes finished, the trials waited for ${awaited}`);
    process.stderr.write(`# crash test: ${TRIALS} kills, ${finished.size} finished episodes all present (${awaited} awaited), ${recovered} partial episodes recovered, ${tornBytes} torn shard bytes cut\n`);
  });
}
