// Operating a daemon over its sockets: the ops RPC methods against a real daemon (lockstep sim,
// shipped bundle), telemetry, CURVE off loopback, `vlad ctl`, and SIGTERM in the middle of an
// episode (`vlad run` as a child process, as `ros2 launch` runs it).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { OpsClient, OpsCallError, TelemetrySubscriber, writeKeyPair } from '../../src/io/zmq/index.js';
import { attachServing } from '../../src/daemon/index.js';
import { openDataset, validateDataset } from '../../src/rlds/index.js';
import { silentLogger } from '../../src/core/index.js';
import { steps, testDaemon } from './support.js';

const cli = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

const expectError = async (p: Promise<unknown>, code: string, message: RegExp) => {
  await assert.rejects(p, (e: OpsCallError) => { assert.equal(e.code, code, e.message); assert.match(e.message, message); return true; });
};

test('ops RPC against a running daemon: status, mode, episodes, instruction, hard stop, transitions; refusals and bad params carry the reason', async () => {
  const t = await testDaemon({ mode: 'idle' }, { serve: true });
  const d = t.daemon;
  attachServing(d, d.opts.config.params, silentLogger, () => undefined);
  try {
    await d.serveOnly();
    const client = await OpsClient.connect(t.endpoints.ops, { timeoutMs: 5000 });
    const sub = await TelemetrySubscriber.connect(t.endpoints.telemetry, { topics: ['episode', 'chunk'] });
    try {
      const s0 = await client.call<Record<string, any>>('status');
      assert.equal(s0.lifecycle, 'unconfigured');
      assert.deepEqual(s0.parts, ['ops', 'telemetry'], 'the sockets answer before configure');
      await expectError(client.call('episode.start', { task: 'touch' }), 'refused', /the node is unconfigured \(activate first\)/);
      await expectError(client.call('transition', { transition: 'activate' }), 'refused', /cannot activate from unconfigured \(configure first\)/);
      await expectError(client.call('transition', { transition: 'fly' }), 'bad_params', /transition/);
      assert.deepEqual(await client.call('transition', { transition: 'configure' }), { state: 'inactive' });
      assert.deepEqual(await client.call('transition', { transition: 'activate' }), { state: 'active' });
      await expectError(client.call('mode', { mode: 'flying' }), 'bad_params', /mode/);
      await expectError(client.call('operator', { enabled: true }), 'refused', /only in teleop or intervention mode \(mode is idle\)/);
      assert.deepEqual(await client.call('mode', { mode: 'autonomous' }), { mode: 'autonomous' });
      await expectError(client.call('episode.start', {}), 'bad_params', /needs an instruction/);
      const started = await client.call<{ id: string; instruction: string; scene: { task: string } }>('episode.start', { task: 'touch', seed: 3 });
      assert.equal(started.scene.task, 'touch');
      await expectError(client.call('episode.start', { instruction: 'wave' }), 'refused', /an episode is already running/);
      await steps(d, 80);
      const chunk = await sub.next(5000);
      assert.equal(chunk.topic, 'chunk');
      assert.equal((chunk.body as { model: string }).model, 'vlad-base-flow@1.6.0');
      assert.deepEqual(await client.call('hard_stop'), { hard_stop: true });
      await steps(d, 5);
      const s1 = await client.call<Record<string, any>>('status');
      assert.equal(s1.control.hard_stop, true);
      assert.equal(s1.control.state, 'stop');
      assert.equal(s1.episode.id, started.id);
      assert.equal(s1.bundle.name, 'vlad-base-flow');
      assert.ok(s1.streams.some((x: { name: string; alive: boolean }) => x.name === 'camera/scene' && x.alive));
      assert.deepEqual(await client.call('release'), { hard_stop: false });
      assert.deepEqual(await client.call('instruction', { instruction: 'touch the orange ball' }), { instruction: 'touch the orange ball' });
      await expectError(client.call('episode.stop', { success: true, truncated: true }), 'bad_params', /either a success or truncated/);
      const ended = await client.call<{ id: string; success: boolean; truncated: boolean; reason: string }>('episode.stop', { success: false, truncated: true });
      assert.deepEqual([ended.id, ended.success, ended.truncated, ended.reason], [started.id, false, true, 'stopped']);
      let ev = await sub.next(5000);
      while (ev.topic === 'chunk') ev = await sub.next(5000);
      assert.equal(ev.topic, 'episode');
      assert.equal((ev.body as { id: string }).id, started.id);
      await expectError(client.call('episode.stop', { success: true }), 'refused', /no episode is running/);
      await expectError(client.call('teleport'), 'unknown_method', /status/);
    } finally {
      await client.close();
      await sub.close();
    }
  } finally {
    await t.cleanup();
  }
});

test('the daemon refuses to serve beyond loopback without CURVE keys and says why; with keys, only allowed clients are answered', async () => {
  const open = await testDaemon({ ops: { endpoint: 'tcp://0.0.0.0:5599' } }, { serve: true });
  attachServing(open.daemon, open.daemon.opts.config.params, silentLogger, () => undefined);
  try {
    await assert.rejects(open.daemon.serveOnly(), /tcp:\/\/0\.0\.0\.0:5599.*CURVE/s);
    assert.deepEqual(open.daemon.runningParts, []);
  } finally {
    await open.cleanup();
  }
  const dir = mkdtempSync(join(tmpdir(), 'vlad-keys-'));
  const server = await writeKeyPair(dir, 'daemon');
  const alice = await writeKeyPair(dir, 'alice');
  const mallory = await writeKeyPair(dir, 'mallory');
  const t = await testDaemon({ ops: { endpoint: 'tcp://127.0.0.1:5598', telemetry_endpoint: 'tcp://127.0.0.1:5597', curve: { secret_key_file: server.secretPath, public_key_file: server.publicPath, allowed_clients: [alice.publicKey] } } }, { serve: true });
  attachServing(t.daemon, t.daemon.opts.config.params, silentLogger, () => undefined);
  try {
    await t.daemon.serveOnly();
    // The daemon runs in this process: the clients must not block its event loop (no spawnSync).
    const ctl = (...extra: string[]) => new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) => {
      execFile(process.execPath, [cli, 'ctl', 'status', '--json', '--ops', 'tcp://127.0.0.1:5598', '--timeout', '1500', ...extra], (err, stdout, stderr) => resolve({ status: err ? (err as { code?: number }).code ?? 1 : 0, stdout, stderr }));
    });
    const ok = await ctl('--key', alice.secretPath, '--server-key', server.publicPath);
    assert.equal(ok.status, 0, ok.stderr);
    assert.equal(JSON.parse(ok.stdout).lifecycle, 'unconfigured');
    const refused = await ctl('--key', mallory.secretPath, '--server-key', server.publicPath);
    assert.equal(refused.status, 1);
    // No answer: the handshake is refused, so the request either cannot be sent or is never answered.
    assert.match(refused.stderr, /timeout|unavailable/);
    assert.doesNotMatch(refused.stdout, /lifecycle/);
    const plain = await ctl();
    assert.equal(plain.status, 1, 'a client without CURVE gets nothing');
  } finally {
    await t.cleanup();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('vlad run + vlad ctl: SIGTERM mid-episode holds, finishes the episode as truncated, flushes, and exits 0 within 5 s', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vlad-run-'));
  const ops = `ipc://${join(dir, 'ops.sock')}`;
  const child = spawn(process.execPath, [cli, 'run', '--robot', 'sim', '--record', join(dir, 'data'), '--dataset', 'vlad_sigterm', '--ops', ops, '--telemetry', `ipc://${join(dir, 't.sock')}`, '--teleop', `ipc://${join(dir, 'teleop.sock')}`, '--mode', 'autonomous'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr.on('data', (b: Buffer) => { log += b.toString(); });
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  const ctl = (...args: string[]) => spawnSync(process.execPath, [cli, 'ctl', ...args, '--ops', ops, '--json'], { encoding: 'utf8', timeout: 30_000 });
  try {
    let status: Record<string, any> = {};
    for (let i = 0; i < 600 && status.lifecycle !== 'active'; i++) {
      const r = ctl('status');
      if (r.status === 0) status = JSON.parse(r.stdout);
      else await new Promise((res) => setTimeout(res, 200));
    }
    assert.equal(status.lifecycle, 'active', log);
    const bad = spawnSync(process.execPath, [cli, 'ctl', 'mode', 'flying', '--ops', ops], { encoding: 'utf8' });
    assert.equal(bad.status, 2, 'a usage error exits 2');
    assert.match(bad.stderr, /--mode: expected one of idle, autonomous, teleop, intervention, got 'flying'/);
    const none = ctl('episode', 'stop', '--success');
    assert.equal(none.status, 1);
    assert.match(none.stderr, /no episode is running/);
    const started = ctl('episode', 'start', '--task', 'place', '--seed', '9');
    assert.equal(started.status, 0, started.stderr);
    const id = JSON.parse(started.stdout).id as string;
    // Let it record a while (counted in steps, not seconds).
    for (let i = 0; i < 600; i++) {
      const s = JSON.parse(ctl('status').stdout);
      if ((s.episode?.steps ?? 0) >= 40) break;
      await new Promise((res) => setTimeout(res, 100));
    }
    const t0 = performance.now();
    child.kill('SIGTERM');
    const code = await exited;
    const took = performance.now() - t0;
    assert.equal(code, 0, log.slice(-2000));
    assert.ok(took < 5000, `exit within the launch file's 5 s: ${took.toFixed(0)} ms`);
    const root = join(dir, 'data', 'vlad_sigterm');
    const v = await validateDataset(root);
    assert.ok(v.ok, v.problems[0]);
    const eps = [];
    for await (const ep of await openDataset(root)) eps.push(ep);
    assert.equal(eps.length, 1);
    const md = eps[0]!.metadata().episode_metadata as Record<string, unknown>;
    assert.equal(md.episode_id, id);
    assert.equal(md.truncated, true);
    assert.equal(md.success, false);
    assert.ok(eps[0]!.numSteps >= 40);
    assert.equal(eps[0]!.step(eps[0]!.numSteps - 1).is_terminal, false, 'a truncated episode does not end in a terminal state');
    const last = eps[0]!.step(eps[0]!.numSteps - 1) as unknown as { provenance: { control_mode: string } };
    assert.equal(last.provenance.control_mode, 'hold', 'the arm was brought to a hold before the episode was finished');
    assert.match(log, /shutting down: hold, finish the episode as truncated, flush/);
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
});
