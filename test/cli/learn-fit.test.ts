// `vlad learn fit` and `vlad sim --adapter`, each in its own process, on a tiny dataset the real
// daemon records (shipped bundle, MuJoCo arm, the scripted operator teleoperating, lockstep clock):
// the fit writes a PEFT adapter that was trained (its B matrices moved off zero) and reports finite
// losses and the gate's figures; vlad sim serves that adapter through the daemon, and refuses one
// whose LoRA layout is another bundle's. Few steps and few windows: seconds, whatever the machine.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readManifest } from '../../src/bundle/index.js';
import { silentLogger } from '../../src/core/index.js';
import { Daemon, loadDaemonConfig } from '../../src/daemon/index.js';
import { openRecorder, recorderSpecFromBundleIO } from '../../src/rlds/index.js';
import { readPeftAdapter, writePeftAdapter } from '../../src/train/index.js';
import { bundlePath, repoRoot } from '../support/bundles.js';

const cli = join(repoRoot, 'dist', 'src', 'cli', 'main.js');
const vlad = (args: string[], env: NodeJS.ProcessEnv = {}) => spawnSync(process.execPath, [cli, ...args], { cwd: repoRoot, encoding: 'utf8', timeout: 240_000, env: { ...process.env, ...env } });
const base = bundlePath('vlad-base-flow');
let root: string;
let dataset: string;

/** Two short teleop episodes (the scripted operator from the first tick, stopped after 24 steps as successes). */
async function recordTinyDataset(dir: string): Promise<string> {
  const config = await loadDaemonConfig({ overrides: { robot: 'sim', mode: 'teleop', sim: { clock: 'lockstep' }, record: { dir, dataset: 'vlad_fit' } } });
  const daemon = new Daemon({ config, clock: 'lockstep', log: silentLogger });
  await daemon.start();
  try {
    for (let i = 0; i < 2; i++) {
      await daemon.startEpisode({ task: 'pick', seed: 100 + i, operatorSeed: 200 + i, operator: true, autoEnd: false });
      for (let k = 0; k < 24; k++) await daemon.stepLockstep();
      await daemon.stopEpisode(true);
    }
  } finally {
    await daemon.shutdown();
  }
  return join(dir, 'vlad_fit');
}

before(async () => {
  root = mkdtempSync(join(tmpdir(), 'vlad-learn-fit-test-'));
  dataset = await recordTinyDataset(join(root, 'data'));
});
after(() => rmSync(root, { recursive: true, force: true }));

test('vlad learn fit: a few steps on recorded episodes write a trained PEFT adapter; the JSON has finite losses and the gate', { timeout: 300_000 }, async () => {
  // A params file's training section is the daemon's: every 4th step a window start, the second episode held out.
  const params = join(root, 'params.yaml');
  writeFileSync(params, 'vlad:\n  ros__parameters:\n    training:\n      window_stride: 4\n      holdout_every: 2\n');
  const out = join(root, 'adapter');
  const r = vlad(['learn', 'fit', '--data', dataset, '--out', out, '--steps', '4', '--lr', '0.001', '--params', params, '--json']);
  assert.equal(r.status, 0, r.stderr);
  const report = JSON.parse(r.stdout) as Record<string, any>;
  assert.equal(report.steps, 4);
  assert.equal(report.lr, 0.001);
  assert.equal(report.out, out);
  assert.deepEqual(report.episodes, { fresh: 1, replay: 0 }, 'episode 0 trained on, episode 1 held out');
  for (const k of ['loss_first', 'loss_last', 'seconds', 'train_s', 'steps_per_s']) assert.ok(Number.isFinite(report[k]), `${k} ${report[k]}`);
  assert.ok(report.training_loss.windows > 0 && Number.isFinite(report.training_loss.base) && Number.isFinite(report.training_loss.adapter), JSON.stringify(report.training_loss));
  assert.ok(['passed', 'refused'].includes(report.gate.decision));
  // Teleop only: no corrections to improve on (refused for that), the held-out episode checks retention.
  assert.equal(report.gate.decision, 'refused');
  assert.match(report.gate.reasons.join('; '), /no held-out intervention windows/);
  assert.equal(report.gate.corrections.windows, 0);
  assert.ok(report.gate.retention.windows > 0 && Number.isFinite(report.gate.retention.parentLoss) && Number.isFinite(report.gate.retention.candidateLoss), JSON.stringify(report.gate.retention));
  assert.match(r.stderr, /learn fit: step 4\/4, loss \d+\.\d{4}, [\d.]+ steps\/s/);

  assert.deepEqual(readdirSync(out).sort(), ['adapter_config.json', 'adapter_model.safetensors']);
  const m = await readManifest(base);
  const adapter = await readPeftAdapter(out, m.lora);
  assert.equal(adapter.baseModel, `${m.name}@${m.version}`);
  // B starts at zero in every pass (the start serves the base exactly): trained means B moved.
  const moved = m.lora.layout.filter((e) => e.name.endsWith('.B') && adapter.vector.subarray(e.offset, e.offset + e.shape[0]! * e.shape[1]!).some((x) => x !== 0));
  assert.equal(moved.length, m.lora.layout.filter((e) => e.name.endsWith('.B')).length, 'every B matrix trained');

  // vlad sim serves it through the daemon: the chunks say which adapter planned them.
  const sim = vlad(['sim', '--bundle', base, '--adapter', out, '--task', 'touch', '--episodes', '1', '--seed', '3', '--mode', 'lockstep', '--json'], { VLAD_LOG_LEVEL: 'info' });
  assert.equal(sim.status, 0, sim.stderr);
  const s = JSON.parse(sim.stdout) as Record<string, any>;
  assert.equal(s.tasks.touch.episodes, 1);
  assert.deepEqual(Object.keys(s.adapters), [out], JSON.stringify(s.adapters));
  assert.ok(s.adapters[out] > 0);
  assert.match(sim.stderr, /adapter \S+ serves \(given\); learning is off/);
});

test('vlad learn fit: a --data folder that is missing or holds no episodes exits 2 with the reason, before any work', async () => {
  const missing = join(root, 'nope');
  const r = vlad(['learn', 'fit', '--data', `${dataset},${missing}`, '--out', join(root, 'x')]);
  assert.equal(r.status, 2, r.stderr);
  assert.match(r.stderr, new RegExp(`^vlad learn fit: --data: no dataset at ${missing}\\nusage: vlad learn fit --data`));
  assert.equal(r.stdout, '');
  // A dataset the recorder opened and closed without an episode.
  const recorder = await openRecorder({ root: join(root, 'empty'), name: 'vlad_none', spec: recorderSpecFromBundleIO((await readManifest(base)).io) });
  await recorder.close();
  const e = vlad(['learn', 'fit', '--data', join(root, 'empty', 'vlad_none'), '--out', join(root, 'x')]);
  assert.equal(e.status, 2, e.stderr);
  assert.match(e.stderr, /^vlad learn fit: --data: \S+vlad_none holds no episodes\n/);
  assert.equal(readdirSync(root).includes('x'), false, 'nothing written');
  const r2 = vlad(['learn', 'fit', '--out', join(root, 'x')]);
  assert.equal(r2.status, 2);
  assert.match(r2.stderr, /^vlad learn fit: --data is required/);
});

test('vlad sim --adapter: an adapter of another LoRA layout is refused with the reason (exit 1); a missing one is a usage error (exit 2)', async () => {
  const tiny = await readManifest(bundlePath('vlad-tiny-l1'));
  const other = join(root, 'tiny-adapter');
  await writePeftAdapter(other, tiny, new Float32Array(tiny.lora.size));
  const r = vlad(['sim', '--bundle', base, '--adapter', other, '--task', 'touch', '--episodes', '1', '--mode', 'lockstep', '--json']);
  assert.equal(r.status, 1, r.stderr);
  assert.match(r.stderr, /^vlad: bundle vlad-base-flow@[^ ]+ cannot serve adapter \S+tiny-adapter: \d+ tensor\(s\) missing, e\.g\. 'base_model\.model\.expert\.layers\.\d+\.\w+\.lora_A\.weight'/m);
  assert.equal(r.stdout, '');
  const missing = vlad(['sim', '--adapter', join(root, 'none'), '--task', 'touch', '--episodes', '1']);
  assert.equal(missing.status, 2);
  assert.match(missing.stderr, /^vlad sim: --adapter: no adapter directory at \S+none\n/);
});
