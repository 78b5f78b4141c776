// HG-DAgger through the daemon (lockstep): in intervention mode the scripted operator supervises
// a deliberately bad policy (the tiny bundle's random-init model, a real ONNX policy that never
// learnt the tasks) on a varied world, takes over for a reason it reports, finishes the task over
// the teleop socket, and the RLDS episode records the policy's steps and the takeover as
// `intervention`. The same episode without the supervisor fails: the success is the operator's.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDataset, validateDataset } from '../../src/rlds/index.js';
import { TAKEOVER_REASONS } from '../../src/sim/index.js';
import { bundlePath } from '../support/bundles.js';
import type { EpisodeOutcome } from '../../src/daemon/index.js';
import { testDaemon } from './support.js';

const BAD_POLICY = bundlePath('vlad-tiny-l1');
const WORLD = 'workspace.dx=0.06,object.scale=1.2';

/** Episodes on one daemon (lockstep), the operator supervising each from its first tick or not at all. */
async function runEpisodes(episodes: { task: 'pick' | 'place' | 'touch'; seed: number }[], supervise: boolean, dir?: string): Promise<EpisodeOutcome[]> {
  const t = await testDaemon({ mode: 'intervention', bundle: BAD_POLICY, sim: { clock: 'lockstep', variation: WORLD }, ...(dir !== undefined ? { record: { dir: '', dataset: 'vlad_hg' } } : {}) });
  if (dir !== undefined) t.daemon.opts.config.params.record.dir = dir;
  const out: EpisodeOutcome[] = [];
  try {
    await t.daemon.start();
    // EpisodeRequest.supervise: the operator watches from the first tick and hands back after the end.
    for (const e of episodes) out.push(await t.daemon.runEpisode({ ...e, supervise }));
    if (supervise) assert.equal(t.daemon.controlLoop?.operatorEngaged, false, 'the operator handed back between episodes');
    return out;
  } finally {
    await t.cleanup();
  }
}

const EPISODES = [{ task: 'pick', seed: 40 }, { task: 'place', seed: 41 }, { task: 'touch', seed: 42 }] as const;

test('intervention mode: the supervising operator takes over a bad policy for a reported reason, the task succeeds, and the takeover is recorded as intervention', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vlad-hg-'));
  try {
    const alone = await runEpisodes([...EPISODES], false);
    for (const o of alone) {
      assert.equal(o.success, false, `${o.scene!.task}: the bad policy alone fails (${JSON.stringify(o.sources)})`);
      assert.equal(o.scene!.takeovers.length, 0);
    }
    // back to back on one daemon: each episode ends with the operator in command, the next must start with the policy
    const supervised = await runEpisodes([...EPISODES], true, dir);
    for (const o of supervised) {
      const where = `${o.scene!.task}: ${JSON.stringify({ sources: o.sources, takeovers: o.scene!.takeovers, reason: o.reason })}`;
      assert.equal(o.success, true, where);
      assert.equal(o.reason, 'success', where);
      assert.equal(o.scene!.variation, WORLD);
      assert.ok(o.scene!.takeovers.length >= 1 && o.scene!.takeovers.every((k) => (TAKEOVER_REASONS as readonly string[]).includes(k.reason) && k.atS > 0), where);
      assert.ok((o.sources.policy ?? 0) > 0 && (o.sources.intervention ?? 0) > 0 && (o.sources.teleop ?? 0) === 0, where);
      assert.equal(o.sources.hold, 1, `${where}: one hold while the first chunk comes, none for a stale operator`);
      assert.equal(o.recorded?.steps, o.steps);
    }
    const ds = join(dir, 'vlad_hg');
    const v = await validateDataset(ds);
    assert.ok(v.ok, v.problems[0]);
    let episodes = 0;
    for await (const ep of await openDataset(ds)) {
      episodes++;
      const modes = [...ep.steps()].map((s) => String((s as unknown as { provenance: { control_mode: string } }).provenance.control_mode));
      const first = modes.indexOf('intervention');
      assert.ok(first > 0, 'the policy commanded first');
      assert.ok(modes.slice(0, first).every((m) => m === 'policy' || m === 'hold'), 'only the policy (or a hold) before the takeover');
      assert.equal((ep.metadata().episode_metadata as Record<string, unknown>).success, true);
    }
    assert.equal(episodes, 3);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a supervised episode is refused, with the reason, outside intervention mode or without a task scene; nothing starts', async () => {
  for (const [mode, req, reason] of [
    ['autonomous', { task: 'pick', seed: 1, supervise: true }, /supervises the policy only in intervention mode \(mode is autonomous\)/],
    ['intervention', { instruction: 'pick up the red cube', supervise: true }, /scripted operator acts in task scenes of the simulated robot: give a task/],
  ] as const) {
    const t = await testDaemon({ mode, bundle: BAD_POLICY, sim: { clock: 'lockstep' } });
    try {
      await t.daemon.start();
      await assert.rejects(t.daemon.startEpisode(req), reason);
      assert.equal(t.daemon.episodes!.isOpen, false);
    } finally {
      await t.cleanup();
    }
  }
});
