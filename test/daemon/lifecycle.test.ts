// The daemon's lifecycle (a ROS 2 lifecycle node's): transitions, refusals with the reason, what
// runs in each state (the parts table), and a bundle that fails its self-test.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Lifecycle, TransitionRefused } from '../../src/daemon/index.js';
import { scratchCopy } from '../support/bundles.js';
import { steps, testDaemon } from './support.js';

test('lifecycle graph: each transition from its states only, refusals say what to do, a failed transition keeps the state', async () => {
  const l = new Lifecycle();
  assert.throws(() => l.check('activate'), (e: TransitionRefused) => e instanceof TransitionRefused && /cannot activate from unconfigured \(configure first\)/.test(e.message));
  assert.throws(() => l.check('jump'), /unknown transition 'jump' \(expected configure, activate, deactivate, cleanup, shutdown\)/);
  await assert.rejects(l.run('configure', async () => { throw new Error('disk on fire'); }), /disk on fire/);
  assert.equal(l.state, 'unconfigured');
  assert.equal(l.lastError, 'configure failed: disk on fire');
  assert.equal(await l.run('configure', async () => undefined), 'inactive');
  assert.equal(await l.run('activate', async () => undefined), 'active');
  assert.throws(() => l.check('cleanup'), /cannot cleanup from active \(deactivate first\)/);
  assert.equal(await l.run('shutdown', async () => undefined), 'finalized');
  assert.throws(() => l.check('configure'), /cannot configure from finalized \(the node has shut down\)/);
});

test('the daemon: configure loads and self-tests the bundle and opens the robot, activate starts the loop, deactivate holds, cleanup closes; parts follow the table', async () => {
  const t = await testDaemon({ mode: 'autonomous' });
  const d = t.daemon;
  try {
    await assert.rejects(d.transition('activate'), /cannot activate from unconfigured \(configure first\)/);
    assert.deepEqual(d.runningParts, []);
    assert.equal(await d.transition('configure'), 'inactive');
    assert.deepEqual(d.runningParts, ['policy', 'robot', 'teleop']);
    assert.equal(d.policy!.modelVersion, 'vlad-base-flow@1.6.0');
    await assert.rejects(d.startEpisode({ instruction: 'wave' }), /cannot start an episode: the node is inactive \(activate first\)/);
    assert.equal(await d.transition('activate'), 'active');
    assert.deepEqual(d.runningParts, ['policy', 'robot', 'teleop', 'control']);
    await d.startEpisode({ task: 'touch', seed: 4, autoEnd: false });
    await steps(d, 60);
    assert.equal(d.controlLoop!.state, 'run', 'the policy drives');
    const loop = d.controlLoop!;
    assert.equal(await d.transition('deactivate'), 'inactive');
    assert.ok(loop.commandState.velocities.every((v) => v === 0), 'deactivate brought the arm to rest first');
    assert.equal(d.controlLoop, undefined);
    assert.deepEqual(d.runningParts, ['policy', 'robot', 'teleop']);
    assert.ok(d.episodes!.isOpen, 'the episode stays open until cleanup');
    assert.equal(await d.transition('cleanup'), 'unconfigured');
    assert.equal(d.episodes!.isOpen, false, 'cleanup closed the open episode');
    assert.equal(d.episodes!.last!.truncated, true);
    assert.deepEqual(d.runningParts, []);
    assert.equal(await d.transition('configure'), 'inactive', 'configurable again');
    assert.equal(await d.transition('shutdown'), 'finalized');
    assert.deepEqual(d.runningParts, []);
    await assert.rejects(d.transition('configure'), /cannot configure from finalized/);
  } finally {
    await t.cleanup();
  }
});

test('a bundle that fails its golden self-test leaves the daemon unconfigured, with the reason, and nothing running', async () => {
  const b = await scratchCopy('vlad-base-flow');
  const t = await testDaemon({ bundle: b.dir });
  try {
    // Change one golden output value and re-hash it: the file checks pass, the self-test cannot.
    const m = await b.manifest();
    const ref = m.golden.cases.find((c: { graph: string }) => c.graph === 'expert').outputs.out;
    const tensor = m.golden.tensors[ref];
    const golden = join(b.dir, m.golden.file);
    const bytes = await readFile(golden);
    const at = tensor.offset + 4 * 7;
    bytes.writeFloatLE(bytes.readFloatLE(at) + 0.5, at);
    await writeFile(golden, bytes);
    await b.rehash(m.golden.file);
    await assert.rejects(t.daemon.transition('configure'), /golden self-test failed/);
    assert.equal(t.daemon.state, 'unconfigured');
    assert.match(String(t.daemon.status().last_error), /^configure failed: .*golden self-test failed/);
    assert.deepEqual(t.daemon.runningParts, [], 'nothing left running: no robot, no worker');
  } finally {
    await t.cleanup();
    await b.cleanup();
  }
});
