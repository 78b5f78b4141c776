// SIGKILL mid-pass. This file is also the crashing child: with VLAD_TRAIN_CRASH_CHILD set it
// opens the trainer on the given folders, prints "RESUME <pass> <step>" (the persisted progress),
// then runs step() and prints "<kind> <step>" after each unit, and on the pass's candidate writes
// it to <out>/candidate.bin and lineage.json and prints "DONE". The test kills the child at points
// chosen by counting those lines (mid-caching, between checkpoints, just after one), restarts it
// on the same state, and compares the final candidate with a run that was never killed.
//
// What it shows: a resumed pass continues from its last checkpoint (never from step 0) and ends
// with exactly the candidate of the uninterrupted run, bit for bit: the AdamW state is restored
// as written, and every batch, noise and t is a function of (seed, pass, step), so the steps
// redone after a kill draw the same data (ORT on the CPU with one thread is deterministic).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { shippedBundlePath, writeFileAtomic } from '../../src/core/index.js';
import { Trainer, type TrainingConfigInput } from '../../src/train/index.js';
import { recordTrainingData } from './support.js';

const config: TrainingConfigInput = { max_steps_per_pass: 24, checkpoint_every: 5, holdout_every: 3, window_stride: 4, lr: 3e-4, cache_segment_steps: 8 };
interface ChildArgs { stateDir: string; cacheDir: string; dataset: string; out: string }

async function child(a: ChildArgs): Promise<void> {
  const trainer = await Trainer.open({ bundleDir: shippedBundlePath(), stateDir: a.stateDir, cacheDir: a.cacheDir, datasetDirs: [a.dataset], config }, () => undefined);
  const s = await trainer.status();
  process.stdout.write(`RESUME ${s.pass?.index ?? -1} ${s.pass?.step ?? -1}\n`);
  for (;;) {
    const r = await trainer.step();
    process.stdout.write(`${r.kind} ${r.step}\n`);
    if (r.candidate) {
      await writeFileAtomic(join(a.out, 'candidate.bin'), new Uint8Array(r.candidate.lora.buffer));
      await writeFileAtomic(join(a.out, 'lineage.json'), JSON.stringify(r.candidate.lineage));
      process.stdout.write('DONE\n');
      break;
    }
  }
  await trainer.close();
}

/** Runs the child until `killAfter` (a line, e.g. 'train 7') then `turns` more event-loop turns, and SIGKILLs it; or to its end. */
function runChild(a: ChildArgs, killAfter?: string, turns = 0): Promise<string[]> {
  const proc = spawn(process.execPath, [fileURLToPath(import.meta.url)], { env: { ...process.env, VLAD_TRAIN_CRASH_CHILD: JSON.stringify(a) }, stdio: ['ignore', 'pipe', 'inherit'] });
  const lines: string[] = [];
  let partial = '', killing = false;
  return new Promise((resolve, reject) => {
    proc.stdout.on('data', (d: Buffer) => {
      const parts = (partial + d.toString()).split('\n');
      partial = parts.pop()!;
      for (const line of parts) {
        lines.push(line);
        if (line === killAfter && !killing) {
          killing = true;
          void (async () => {
            for (let i = 0; i < turns; i++) await new Promise((r) => setImmediate(r));
            proc.kill('SIGKILL');
          })();
        }
      }
    });
    proc.on('exit', (code, signal) => {
      if (killAfter === undefined ? code === 0 : signal === 'SIGKILL' && killing) resolve(lines);
      else reject(new Error(`child ended with code ${code}, signal ${signal} (kill after '${killAfter}'): ${lines.join(' | ')}`));
    });
  });
}

if (process.env.VLAD_TRAIN_CRASH_CHILD) {
  await child(JSON.parse(process.env.VLAD_TRAIN_CRASH_CHILD) as ChildArgs);
} else {
  let root: string;
  let dataset: string;
  before(async () => {
    root = mkdtempSync(join(tmpdir(), 'vlad-train-crash-'));
    dataset = await recordTrainingData(join(root, 'data'));
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  test('SIGKILL mid-caching, between checkpoints and just after one: the pass resumes from its last checkpoint and ends with the uninterrupted run\'s candidate, bit for bit', { timeout: 600_000 }, async (t) => {
    const ref: ChildArgs = { stateDir: join(root, 'ref-state'), cacheDir: join(root, 'ref-cache'), dataset, out: join(root, 'ref-state') };
    const refLines = await runChild(ref);
    assert.equal(refLines.filter((l) => l.startsWith('train ')).length, 24);

    const a: ChildArgs = { stateDir: join(root, 'state'), cacheDir: join(root, 'cache'), dataset, out: join(root, 'state') };
    const resumes: string[] = [];
    // Mid-caching; between checkpoints (5 < 7 < 10); right after the checkpoint at 10 (while it is written or just after); late in the pass.
    for (const [killAfter, turns] of [['cache 3', 0], ['train 7', 0], ['train 10', 2], ['train 18', 0]] as const) {
      const lines = await runChild(a, killAfter, turns);
      resumes.push(lines[0]!);
    }
    const last = await runChild(a);
    resumes.push(last[0]!);
    // Each start resumes the same pass at a checkpoint at or before the kill, never back to 0 once one was written.
    assert.equal(resumes[0], 'RESUME -1 -1', 'the first start has no pass yet');
    const steps = resumes.slice(1).map((l) => { const [, pass, step] = l.split(' '); assert.equal(pass, '0', l); return Number(step); });
    assert.deepEqual(steps.map((s) => s % 5), [0, 0, 0, 0], `resumed at checkpoints: ${steps.join(', ')}`);
    // The child runs on while the kill travels, so a resume may land one checkpoint later than the line that triggered it.
    assert.ok(steps.every((s, i) => i === 0 || s >= steps[i - 1]!) && steps[1]! >= 5 && steps[3]! >= 15 && steps[3]! < 24, `resume steps ${steps.join(', ')}`);

    t.diagnostic(`resumed at steps ${steps.join(', ')}`);
    const got = readFileSync(join(a.out, 'candidate.bin'));
    const want = readFileSync(join(ref.out, 'candidate.bin'));
    assert.equal(got.length, 27648 * 4);
    assert.ok(got.equals(want), 'the candidate LoRA after four kills is the uninterrupted run\'s, bit for bit');
    const lineage = JSON.parse(readFileSync(join(a.out, 'lineage.json'), 'utf8'));
    const refLineage = JSON.parse(readFileSync(join(ref.out, 'lineage.json'), 'utf8'));
    assert.deepEqual({ ...lineage.loss, at: 0 }, { ...refLineage.loss, at: 0 }, 'the same loss curve');
    assert.deepEqual(lineage.sampledByMode, refLineage.sampledByMode);
  });
}
