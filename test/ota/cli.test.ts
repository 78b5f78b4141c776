// The README's over-the-air path with the real commands, each in its own process: keygen, sign,
// `vlad run --ota-dir --trust`, `vlad ctl bundle push --activate`, status, list, a refused push.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bundlePath } from '../support/bundles.js';

const cli = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const vlad = (args: string[], timeout = 60_000) => spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', timeout });

test('vlad bundle keygen/sign, vlad run --ota-dir --trust, vlad ctl bundle push --activate: committed; an unsigned push exits 1 and changes nothing', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'vlad-ota-cli-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  assert.equal(vlad(['bundle', 'keygen', '--out', join(dir, 'keys'), '--name', 'fleet']).status, 0);
  const next = join(dir, 'next');
  cpSync(bundlePath('vlad-tiny-l1'), next, { recursive: true });
  const m = JSON.parse(readFileSync(join(next, 'manifest.json'), 'utf8'));
  m.version = '0.2.0';
  writeFileSync(join(next, 'manifest.json'), JSON.stringify(m));
  const unsigned = join(dir, 'unsigned');
  cpSync(next, unsigned, { recursive: true });
  const signed = vlad(['bundle', 'sign', next, '--key', join(dir, 'keys', 'fleet.key'), '--expires', '30', '--hw-profiles', 'cpu']);
  assert.equal(signed.status, 0, signed.stderr);
  // Signed, then damaged: a byte of the expert graph flipped after signing.
  const corrupted = join(dir, 'corrupted');
  cpSync(bundlePath('vlad-tiny-l1'), corrupted, { recursive: true });
  writeFileSync(join(corrupted, 'manifest.json'), JSON.stringify({ ...m, version: '0.3.0' }));
  assert.equal(vlad(['bundle', 'sign', corrupted, '--key', join(dir, 'keys', 'fleet.key'), '--expires', '30', '--hw-profiles', 'cpu']).status, 0);
  const graph = readFileSync(join(corrupted, 'expert.onnx'));
  graph[graph.length >> 1] = graph[graph.length >> 1]! ^ 0xff;
  writeFileSync(join(corrupted, 'expert.onnx'), graph);

  // A short health window so the test does not wait 10 s (counted in chunks and seconds of the robot's clock).
  // This test is about the commands and the trust path, run in real time beside other test files on a
  // shared CI machine: a late chunk or a slow plan there is the machine's load, not the bundle's, so the
  // window tolerates some (the thresholds themselves are tested in health.test and the daemon's OTA tests).
  const params = join(dir, 'params.yaml');
  writeFileSync(params, 'vlad:\n  ros__parameters:\n    ota: { health: { chunks: 5, seconds: 1, max_watchdog_events: 20, latency_budget_ms: 5000 } }\n');
  const ops = `ipc://${join(dir, 'ops.sock')}`;
  const badTrust = vlad(['run', '--robot', 'sim', '--trust', 'not-a-key', '--ops', ops]);
  assert.equal(badTrust.status, 2);
  assert.match(badTrust.stderr, /--trust: 'not-a-key' is neither an ed25519 public key/);

  const child = spawn(process.execPath, [cli, 'run', '--robot', 'sim', '--params', params, '--bundle', bundlePath('vlad-tiny-l1'), '--mode', 'autonomous', '--metrics-port', '0',
    '--ota-dir', join(dir, 'ota'), '--trust', join(dir, 'keys', 'fleet.pub'), '--ops', ops, '--telemetry', `ipc://${join(dir, 't.sock')}`, '--teleop', `ipc://${join(dir, 'teleop.sock')}`], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr.on('data', (b: Buffer) => { log += b.toString(); });
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  const ctl = (...args: string[]) => new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) => {
    const c = spawn(process.execPath, [cli, 'ctl', '--ops', ops, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '', stderr = '';
    c.stdout.on('data', (b: Buffer) => { stdout += b.toString(); });
    c.stderr.on('data', (b: Buffer) => { stderr += b.toString(); });
    c.on('exit', (status) => resolve({ status, stdout, stderr }));
  });
  try {
    let status: Record<string, any> = {};
    for (let i = 0; i < 600 && !(status.lifecycle === 'active' && status.control?.steps_by_source?.policy > 0); i++) {
      const r = await ctl('--json', 'status');
      if (r.status === 0) status = JSON.parse(r.stdout);
      else await new Promise((res) => setTimeout(res, 200));
    }
    assert.equal(status.bundle?.version, '0.1.0', log);

    const push = await ctl('bundle', 'push', next, '--activate');
    assert.equal(push.status, 0, `${push.stdout}\n${push.stderr}\n${log.split('\n').filter((l) => /"part":"ota"|rolled back|watchdog|overdue/.test(l)).join('\n')}`);
    assert.match(push.stdout, /^committed: vlad-tiny-l1@0\.2\.0; health /);
    assert.match(push.stderr, /push vlad-tiny-l1@0\.2\.0: [\d.]+\/[\d.]+ MB \(100%\)/, 'progress lines on stderr');
    const after = JSON.parse((await ctl('--json', 'status')).stdout);
    assert.equal(after.bundle.version, '0.2.0');
    assert.equal(after.ota.state.last_good, 'vlad-tiny-l1@0.2.0');

    const refused = await ctl('bundle', 'push', unsigned, '--activate');
    assert.equal(refused.status, 1);
    assert.match(refused.stderr, /unsigned: vlad-tiny-l1@0\.2\.0 is not signed/);
    const damaged = await ctl('bundle', 'push', corrupted, '--activate');
    assert.equal(damaged.status, 1);
    assert.match(damaged.stderr, /hash: upload [0-9a-f]{16}: expert\.onnx hashes to [0-9a-f]{64}, the signed manifest says/);
    const list = await ctl('bundle', 'list');
    assert.equal(list.status, 0);
    assert.match(list.stdout, /^\* vlad-tiny-l1@0\.2\.0 \(last good\)$/m);
    assert.doesNotMatch(list.stdout, /uploads in progress/, 'a refused push leaves nothing staged');
    assert.doesNotMatch(list.stdout, /0\.3\.0/);
    assert.equal(JSON.parse((await ctl('--json', 'status')).stdout).bundle.version, '0.2.0');
  } finally {
    child.kill('SIGTERM');
    assert.equal(await exited, 0, log);
  }
  // No secret in any log: the signing key's body appears neither in the daemon's log nor in ctl's output.
  const secret = readFileSync(join(dir, 'keys', 'fleet.key'), 'utf8').split('\n').filter((l) => l && !l.startsWith('-----')).join('');
  assert.ok(secret.length > 40);
  assert.ok(!log.includes(secret) && !log.includes(secret.slice(0, 40)), 'the secret key is not in the log');
  assert.match(log, /passed its health window/, 'the log does carry the OTA stages');
});
