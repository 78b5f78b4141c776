// SIGKILL fault injection on the adapter store. This file is also the crashing child: with
// VLAD_ADAPTER_CRASH_CHILD set it opens the store (boot-time recovery), then files, activates,
// marks good and now and then rolls back adapters in a loop, printing a line as each operation
// starts ("ADD", "ACTIVATE", "GOOD", "ROLLBACK") and as it ends ("ADDED id", "ACTIVATED id",
// "GOOD_DONE id", "ROLLBACK_DONE"), and "TICK" every millisecond while it works. Each trial kills the
// child at a point chosen by counting those lines: so many operation lines, then so many ticks
// (inside the operation that is running: writing a candidate's files, renaming it, writing the
// state or a lineage), then so many turns of the test's own loop; never after a wall-clock delay. After every kill the store must reopen, boot() must answer the
// last known good adapter (or the one whose markGood / rollback was in flight), whole and with
// exactly the values it was filed with, and every adapter the child saw filed must be listed whole.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readManifest, type Manifest } from '../../src/bundle/index.js';
import { AdapterStore } from '../../src/train/index.js';
import { bundlePath } from '../support/bundles.js';

const TRIALS = 24;

/** Candidate k's vector: every value depends on k, exact in float32. */
function vectorOf(m: Manifest, k: number): Float32Array {
  return Float32Array.from({ length: m.lora.size }, (_, i) => ((i % 89) - 44) / 32 + k / 16);
}

async function child(root: string): Promise<void> {
  const m = await readManifest(bundlePath('vlad-base-flow'));
  const store = await AdapterStore.open(root, m);
  await store.boot();
  const say = (s: string) => process.stdout.write(`${s}\n`);
  say('READY');
  setInterval(() => say('TICK'), 1);
  for (let k = 1 + Math.max(0, ...store.list().map((l) => l.steps)); ; k++) {
    say('ADD');
    const id = await store.add(vectorOf(m, k), {
      parent: store.state.last_good, steps: k, metrics: { loss: 1 / k }, gate: { passed: true, results: { held_out: 1 / k } },
      data: { episodes: [`ep${k}`], mode_counts: { intervention: k, policy: 2 * k } },
    });
    say(`ADDED ${id}`);
    say('ACTIVATE');
    await store.activate(id);
    say(`ACTIVATED ${id}`);
    say(`GOOD ${id}`);
    await store.markGood(id);
    say(`GOOD_DONE ${id}`);
    if (k % 3 === 0) {
      say('ROLLBACK');
      await store.rollback('crash test');
      say('ROLLBACK_DONE');
    }
  }
}

interface KillPlan { events: number; ticks: number; turns: number }

function runUntilKill(root: string, plan: KillPlan): Promise<string[]> {
  const proc = spawn(process.execPath, [fileURLToPath(import.meta.url)], { env: { ...process.env, VLAD_ADAPTER_CRASH_CHILD: root }, stdio: ['ignore', 'pipe', 'inherit'] });
  const lines: string[] = [];
  let partial = '', ready = false, events = 0, ticks = 0, killing = false;
  return new Promise((resolve, reject) => {
    proc.stdout.on('data', (d: Buffer) => {
      const parts = (partial + d.toString()).split('\n');
      partial = parts.pop()!;
      for (const line of parts) {
        if (line === 'TICK') { if (events >= plan.events) ticks++; } else lines.push(line);
        if (line === 'READY') ready = true;
        else if (ready && line !== 'TICK') events++;
        if (ready && !killing && events >= plan.events && ticks >= plan.ticks) {
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

if (process.env.VLAD_ADAPTER_CRASH_CHILD) {
  await child(process.env.VLAD_ADAPTER_CRASH_CHILD);
} else {
  // The limit only catches a hang: the trials wait for events, not for time.
  test(`SIGKILL at counted moments (${TRIALS} trials): the store reopens and boots the last known good adapter, whole`, { timeout: 300_000 }, async () => {
    const root = await mkdtemp(join(tmpdir(), 'vlad-adapter-crash-'));
    const m = await readManifest(bundlePath('vlad-base-flow'));
    let seed = 4321;
    const rand = () => { seed = (seed * 1103515245 + 12345) % 2 ** 31; return seed / 2 ** 31; };
    const filed = new Set<string>();
    let lastGood: string | null = null, staged = 0, kills = 0, bootedAdapter = 0;
    try {
      for (let trial = 0; trial < TRIALS; trial++) {
        const lines = await runUntilKill(root, { events: 1 + Math.floor(rand() * 9), ticks: Math.floor(rand() * 8), turns: Math.floor(rand() * 4) });
        kills++;
        // What the child confirmed, and what was in flight when it died.
        let inFlight: { lastGood: string | null } | null = null;
        for (const line of lines) {
          const [what, id] = line.split(' ');
          if (what === 'ADDED') filed.add(id!);
          else if (what === 'GOOD') inFlight = { lastGood: id! };
          else if (what === 'GOOD_DONE') { lastGood = id!; inFlight = null; }
          else if (what === 'ROLLBACK') inFlight = { lastGood: null };
          else if (what === 'ROLLBACK_DONE') { lastGood = null; inFlight = null; }
        }
        const store = await AdapterStore.open(root, m);
        staged += store.recovery.removedStaging.length;
        assert.deepEqual(store.recovery.ignored, [], `trial ${trial}: no adapter is torn by a kill (only a copy can tear one)`);
        assert.ok(!(await readdir(root)).some((f) => f.startsWith('.staging-') || f.includes('.tmp-')), `trial ${trial}: half-written files left`);
        const listed = new Set(store.list().map((l) => l.id));
        for (const id of filed) assert.ok(listed.has(id), `trial ${trial}: filed adapter ${id} lost`);
        for (const l of store.list()) assert.deepEqual(await store.load(l.id), vectorOf(m, l.steps), `trial ${trial}: ${l.id} does not hold what was filed`);
        const boot = await store.boot();
        const allowed: (string | null)[] = [lastGood, ...(inFlight ? [inFlight.lastGood] : [])];
        assert.ok(allowed.includes(boot.id), `trial ${trial}: booted ${boot.id ?? 'base'}, the last known good is ${lastGood ?? 'base'}${inFlight ? ` (or ${inFlight.lastGood ?? 'base'}, in flight)` : ''}`);
        assert.equal(store.state.last_good, boot.id);
        lastGood = boot.id; // what the next child starts from
        if (boot.id !== null) {
          bootedAdapter++;
          assert.deepEqual(boot.vector, vectorOf(m, boot.lineage!.steps), `trial ${trial}: the booted adapter is not whole`);
        }
      }
      assert.ok(filed.size > 0 && bootedAdapter > 0, `the trials filed ${filed.size} adapters and booted one ${bootedAdapter} times: the kills came too early to test anything`);
      process.stderr.write(`# adapter crash test: ${kills} kills, ${filed.size} adapters filed and all whole after restart, ${staged} half-written adapters removed, ${bootedAdapter} boots onto a last good adapter (the rest onto the base)\n`);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
}
