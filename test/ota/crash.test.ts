// SIGKILL fault injection on the bundle store. This file is also the crashing child: with
// VLAD_OTA_CRASH_CHILD set it installs, activates (trial), commits and prunes bundles in a loop,
// printing a line before every step: "STAGE" (copying files into staging), "COMMIT" (the rename
// into bundles/ and the state write), "TRIAL", "GOOD", "PRUNE". Each trial kills the child at a
// point chosen by counting those lines (never a wall-clock delay). After every kill the store
// reopens and boot() must answer a whole bundle (every file matching its hash) that is the
// active, last good or configured one, and every bundle in bundles/ must be whole.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { cp, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readManifest, verifyHashes } from '../../src/bundle/index.js';
import { BundleStore, bundleId, withEvent } from '../../src/ota/index.js';
import { bundlePath } from '../support/bundles.js';

const TRIALS = 30;
const BASE = 'vlad-tiny-l1';

async function child(root: string): Promise<void> {
  const store = await BundleStore.open(join(root, 'ota'));
  const say = (s: string) => process.stdout.write(`${s}\n`);
  say('READY');
  const start = Number(await readFile(join(root, 'next-version'), 'utf8').catch(() => '1'));
  for (let v = start; ; v++) {
    await writeFile(join(root, 'next-version'), String(v + 1));
    say('STAGE');
    const staged = join(store.stagingDir, `u${v}`);
    await rm(staged, { recursive: true, force: true });
    await cp(bundlePath(BASE), staged, { recursive: true });
    const m = JSON.parse(await readFile(join(staged, 'manifest.json'), 'utf8'));
    m.version = `0.${v}.0`;
    await writeFile(join(staged, 'manifest.json'), JSON.stringify(m));
    say('COMMIT');
    const id = await store.commitStaged(staged, await readManifest(staged));
    say('TRIAL');
    await store.setState(withEvent({ ...store.state, active: id, trial: { bundle: id, since: new Date().toISOString() } }, 'swap', id));
    say('GOOD');
    await store.setState(withEvent({ ...store.state, last_good: id, trial: null }, 'committed', id));
    say('PRUNE');
    await store.prune(1);
  }
}

function runUntilKill(root: string, events: number, turns: number): Promise<string[]> {
  const proc = spawn(process.execPath, [fileURLToPath(import.meta.url)], { env: { ...process.env, VLAD_OTA_CRASH_CHILD: root }, stdio: ['ignore', 'pipe', 'inherit'] });
  const lines: string[] = [];
  let partial = '', seen = 0, killing = false;
  return new Promise((resolve, reject) => {
    proc.stdout.on('data', (d: Buffer) => {
      const parts = (partial + d.toString()).split('\n');
      partial = parts.pop()!;
      for (const line of parts) {
        lines.push(line);
        if (line !== 'READY') seen++;
        if (!killing && seen >= events) {
          killing = true;
          void (async () => {
            for (let i = 0; i < turns; i++) await new Promise((r) => setImmediate(r));
            proc.kill('SIGKILL');
          })();
        }
      }
    });
    proc.on('exit', (code, signal) => {
      if (signal === 'SIGKILL' && killing) resolve(lines);
      else reject(new Error(`child exited on its own (code ${code}, signal ${signal}): ${lines.join(' | ')}`));
    });
  });
}

if (process.env.VLAD_OTA_CRASH_CHILD) {
  await child(process.env.VLAD_OTA_CRASH_CHILD);
} else {
  test(`SIGKILL at counted moments of install / swap / commit / prune (${TRIALS} trials): after restart the store runs a whole bundle`, { timeout: 300_000 }, async (t) => {
    const root = await mkdtemp(join(tmpdir(), 'vlad-ota-crash-'));
    t.after(() => rm(root, { recursive: true, force: true }));
    const configured = bundlePath(BASE);
    let seed = 4242;
    const rand = () => { seed = (seed * 1103515245 + 12345) % 2 ** 31; return seed / 2 ** 31; };
    const outcomes = { active: 0, last_good: 0, configured: 0, rolled_back_at_boot: 0 };
    let killedAt: Record<string, number> = {};
    for (let trial = 0; trial < TRIALS; trial++) {
      const lines = await runUntilKill(root, 1 + Math.floor(rand() * 10), Math.floor(rand() * 6));
      const last = lines.filter((l) => l !== 'READY').at(-1)!;
      killedAt = { ...killedAt, [last]: (killedAt[last] ?? 0) + 1 };
      const store = await BundleStore.open(join(root, 'ota'));
      const before = store.state;
      const choice = await store.boot(configured);
      const m = await readManifest(choice.dir);
      await verifyHashes(choice.dir, m);
      if (choice.bundle === null) outcomes.configured++;
      else if (choice.bundle === before.active && !before.trial) outcomes.active++;
      else outcomes.last_good++;
      if (before.trial) outcomes.rolled_back_at_boot++;
      if (choice.bundle !== null) {
        assert.equal(bundleId(m), choice.bundle);
        assert.ok(choice.bundle === before.last_good || (choice.bundle === before.active && !before.trial), `trial ${trial}: booted ${choice.bundle}, state active ${before.active} last_good ${before.last_good}`);
      }
      for (const id of await store.installed()) await verifyHashes(store.bundleDir(id), await readManifest(store.bundleDir(id)));
      assert.ok(!(await readdir(join(root, 'ota'))).some((f) => f.includes('.tmp-')), 'no temp state file left after open');
    }
    process.stderr.write(`# ota crash test: ${TRIALS} kills (last line before the kill: ${JSON.stringify(killedAt)}); boot ran ${JSON.stringify(outcomes)}\n`);
    assert.ok(Object.keys(killedAt).length >= 4, `kills landed in several stages: ${JSON.stringify(killedAt)}`);
  });
}
