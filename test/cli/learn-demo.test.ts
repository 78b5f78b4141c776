// `vlad learn demo --json` in its own process, kept tiny (two tasks, two evaluation episodes, two
// interventions, 16-step passes): the whole path runs (evaluation daemons, the learning daemon
// supervised by the scripted operator, idle passes, the gate), and what it prints has the shape
// scripts read (issue 18): its figures agree with the files the run left (the recorded dataset,
// the adapters' lineage) and the curve starts at `before` and ends at `after`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDataset } from '../../src/rlds/index.js';
import { repoRoot } from '../support/bundles.js';

const cli = join(repoRoot, 'dist', 'src', 'cli', 'main.js');
const TASKS = ['touch', 'pick'];

test('learn demo --json: the issue\'s shape, figures that match the run\'s files, a curve from before to after', async () => {
  const out = mkdtempSync(join(tmpdir(), 'vlad-learn-demo-test-'));
  try {
    const r = spawnSync(process.execPath, [cli, 'learn', 'demo', '--variation', 'camera.scene.dx=0.03', '--task', TASKS.join(','), '--interventions', '2', '--eval-episodes', '2', '--batch', '2', '--steps-per-pass', '16', '--out', out, '--json'], { cwd: repoRoot, encoding: 'utf8', timeout: 300_000 });
    assert.equal(r.status, 0, r.stderr.slice(-3000));
    assert.match(r.stderr, /learn demo: before, varied: touch \d+%, pick \d+%/);
    const lines = r.stdout.trim().split('\n');
    assert.equal(lines.length, 1, 'stdout is one JSON object');
    const rep = JSON.parse(lines[0]!);
    assert.equal(rep.variation, 'camera.scene.dx=0.03');
    assert.ok(rep.interventions >= 2, `interventions ${rep.interventions}`);
    for (const world of ['varied', 'original']) {
      for (const when of ['before', 'after']) {
        const rates = rep.success[world][when];
        assert.deepEqual(Object.keys(rates), TASKS, `${world}.${when}`);
        for (const x of Object.values(rates) as number[]) assert.ok(x >= 0 && x <= 1 && Number.isInteger(x * 2), `${world}.${when}: ${x} is a rate over 2 episodes`);
      }
    }
    // Training figures agree with what the run filed: one adapter a pass, each with its steps in its lineage.
    assert.deepEqual(Object.keys(rep.train).sort(), ['gate_refused', 'passes', 'promotions', 'rollbacks', 'seconds', 'steps']);
    const store = join(out, 'learning', 'adapters', 'vlad-base-flow@1.6.0');
    const filed = readdirSync(store).filter((f) => f !== 'state.json');
    assert.ok(rep.train.passes >= 1 && filed.length === rep.train.passes, `passes ${rep.train.passes}, adapters filed ${filed.join(', ')}`);
    const steps = filed.map((id) => JSON.parse(readFileSync(join(store, id, 'lineage.json'), 'utf8')).steps as number);
    assert.deepEqual(steps, filed.map(() => 16));
    assert.equal(rep.train.steps, 16 * filed.length);
    assert.ok(rep.train.promotions <= rep.train.passes - rep.train.gate_refused && rep.train.rollbacks <= rep.train.promotions);
    assert.ok(rep.train.seconds > 0);
    // Every supervised episode is in the dataset the daemon learnt from.
    const ds = await openDataset(join(out, 'data', 'vlad_learn'), { includeOpenShard: true });
    assert.equal((await ds.episodeIndex()).length, rep.learning.episodes);
    // The curve: the shipped model at 0 interventions, the kept adapter at the end.
    assert.deepEqual(rep.curve[0], { interventions: 0, episodes: 0, adapter: 'base', varied: rep.success.varied.before });
    assert.deepEqual(rep.curve.at(-1), { interventions: rep.interventions, episodes: rep.learning.episodes, adapter: rep.learning.served, varied: rep.success.varied.after });
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});
