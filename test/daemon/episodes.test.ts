// Episodes through the daemon's pipeline, read back from the RLDS files: every executed step is
// recorded with who commanded it (policy with its chunk's model, adapter, noise seed and delay;
// hold; teleop; perturbation; intervention), and the action is the command the robot received.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { openDataset, validateDataset, type Tensor } from '../../src/rlds/index.js';
import { collect } from '../../src/cli/collect.js';
import type { TickRecord } from '../../src/control/index.js';
import { steps, testDaemon } from './support.js';
import { bundlePath } from '../support/bundles.js';

type Step = { provenance: Record<string, unknown>; action: Tensor; is_terminal: boolean; reward: number };

async function readEpisodes(datasetDir: string): Promise<{ metadata: Record<string, unknown>; steps: Step[] }[]> {
  const v = await validateDataset(datasetDir);
  assert.ok(v.ok, v.problems[0]);
  const out = [];
  for await (const ep of await openDataset(datasetDir)) {
    out.push({ metadata: ep.metadata().episode_metadata as Record<string, unknown>, steps: [...ep.steps()] as unknown as Step[] });
  }
  return out;
}

/** Runs of equal values: ['hold', 3], ['policy', 40], ... */
const runs = (xs: readonly string[]) => xs.reduce<[string, number][]>((acc, x) => { const last = acc.at(-1); if (last && last[0] === x) last[1]++; else acc.push([x, 1]); return acc; }, []);

test('an autonomous episode is recorded as executed: policy steps carry their chunk\'s provenance, a hard stop in the middle is recorded as hold', async () => {
  const t = await testDaemon({ mode: 'autonomous', record: { dir: '', dataset: 'vlad_test' } });
  t.daemon.opts.config.params.record.dir = t.dir;
  try {
    await t.daemon.start();
    const commands: Float64Array[] = [];
    const loop = t.daemon.controlLoop!;
    loop.addTap((r: TickRecord) => commands.push(r.command.positions));
    const started = await t.daemon.startEpisode({ task: 'touch', seed: 11, autoEnd: false });
    await steps(t.daemon, 60);
    t.daemon.hardStop(true);
    await steps(t.daemon, 20);
    t.daemon.hardStop(false);
    await steps(t.daemon, 70);
    const outcome = await t.daemon.stopEpisode(true);
    assert.equal(outcome.id, started.id);
    assert.equal(outcome.steps, 150);
    await t.daemon.shutdown();
    const [ep] = await readEpisodes(join(t.dir, 'vlad_test'));
    assert.ok(ep);
    assert.equal(ep.metadata.episode_id, started.id);
    assert.equal(ep.metadata.success, true);
    assert.equal(ep.steps.length, 150, 'exactly the steps the robot executed');
    const modes = ep.steps.map((s) => String(s.provenance.control_mode));
    const r = runs(modes);
    // Waiting for the first chunk, the policy, the hard stop (and the hold until a fresh chunk), the policy again.
    assert.deepEqual(r.map(([m]) => m), ['hold', 'policy', 'hold', 'policy'], JSON.stringify(r));
    assert.ok(r[2]![1] >= 20, `the hard stop and the wait for a fresh plan: ${r[2]![1]} hold steps`);
    assert.equal(r[0]![1] + r[1]![1], 60, 'the hold began at the tick the hard stop came');
    const seeds = new Set<unknown>();
    ep.steps.forEach((s, i) => {
      const p = s.provenance;
      if (p.control_mode === 'policy') {
        assert.equal(p.model_version, 'vlad-base-flow@1.6.0');
        assert.equal(p.adapter_version, 'base');
        assert.ok(Number(p.inference_delay_steps) >= 1, `d at step ${i}`);
        seeds.add(p.noise_seed);
      } else {
        assert.equal(p.model_version, '', `a hold step has no model (step ${i})`);
      }
      // The action recorded is the command the robot received at that step.
      const a = (s.action.data as Float32Array);
      for (let j = 0; j < 7; j++) assert.equal(a[j], Math.fround(commands[i]![j]!), `action ${i}.${j}`);
    });
    assert.ok(seeds.size >= 3, `each chunk its own noise seed: ${seeds.size}`);
  } finally {
    await t.cleanup();
  }
});

test('teleop collection through the daemon: the scripted operator over ZeroMQ drives, its deliberate miss is flagged as perturbation, episodes end on success', async () => {
  const t = await testDaemon();
  try {
    const out = join(t.dir, 'vlad_recovery');
    const summary = await collect({ tasks: ['pick'], episodes: 2, seed: 77, out, missRate: 1 });
    assert.equal(summary.episodes.length, 2);
    for (const e of summary.episodes) {
      assert.equal(e.reason, 'success', JSON.stringify(e.sources));
      assert.equal(e.scene!.operatorRetries, 1, 'the failed grasp was retried');
      assert.ok((e.sources.perturbation ?? 0) > 50 && (e.sources.teleop ?? 0) > 50, JSON.stringify(e.sources));
    }
    const eps = await readEpisodes(out);
    assert.equal(eps.length, 2);
    for (const ep of eps) {
      assert.equal(ep.metadata.success, true);
      const r = runs(ep.steps.map((s) => String(s.provenance.control_mode))).filter(([m]) => m !== 'hold');
      assert.deepEqual(r.map(([m]) => m), ['perturbation', 'teleop'], 'one contiguous deliberate error, then only the operator\'s own moves');
      assert.equal(ep.steps.filter((s) => s.reward === 1).length, 1, 'reward 1 where success first held');
    }
    // The same seed replays the same episodes.
    const again = await collect({ tasks: ['pick'], episodes: 2, seed: 77, missRate: 1 });
    assert.deepEqual(again.episodes.map((e) => e.steps), summary.episodes.map((e) => e.steps));
  } finally {
    await t.cleanup();
  }
});

test('intervention through the daemon: the supervising operator takes over mid-episode; every step\'s source is recorded; no hand-over jumps', async () => {
  // The operator supervises (HG-DAgger): it takes over only a policy that goes wrong, so the
  // policy here is the tiny bundle's random-init model (test/daemon/supervise.test.ts: why and when).
  const t = await testDaemon({ mode: 'intervention', bundle: bundlePath('vlad-tiny-l1'), record: { dir: '', dataset: 'vlad_iv' } });
  t.daemon.opts.config.params.record.dir = t.dir;
  try {
    await t.daemon.start();
    const recs: TickRecord[] = [];
    const desc = t.daemon.opts.config.robotDescription;
    t.daemon.controlLoop!.addTap((r) => recs.push(r));
    await t.daemon.startEpisode({ task: 'pick', seed: 21 });
    await steps(t.daemon, 40);
    await t.daemon.setScriptedOperator(true);
    const outcome = await (async () => {
      const ended = t.daemon.episodes!.whenEnded();
      for (let i = 0; i < 2000 && t.daemon.episodes!.isOpen; i++) await t.daemon.stepLockstep();
      return ended;
    })();
    assert.ok((outcome.sources.policy ?? 0) >= 30 && (outcome.sources.intervention ?? 0) > 50, JSON.stringify(outcome.sources));
    // Wherever the commander changed, the command moved no more than one tick at the velocity limit.
    const dt = t.daemon.periodS;
    let changes = 0;
    for (let i = 1; i < recs.length; i++) {
      if (recs[i]!.commander === recs[i - 1]!.commander) continue;
      changes++;
      desc.joints.forEach((j, k) => assert.ok(Math.abs(recs[i]!.command.positions[k]! - recs[i - 1]!.command.positions[k]!) <= j.velocity * dt + 1e-9, `${j.name} at a hand-over (step ${recs[i]!.step})`));
    }
    assert.ok(changes >= 2, `hand-overs seen: ${changes}`);
    await t.daemon.shutdown();
    const [ep] = await readEpisodes(join(t.dir, 'vlad_iv'));
    const r = runs(ep!.steps.map((s) => String(s.provenance.control_mode)));
    assert.deepEqual(r.slice(0, 3).map(([m]) => m), ['hold', 'policy', 'intervention'], JSON.stringify(r));
    assert.equal(ep!.steps.length, outcome.steps);
  } finally {
    await t.cleanup();
  }
});
