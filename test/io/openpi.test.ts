// The openpi-compatible policy server, driven by a client written from the spec of openpi's own
// WebsocketClientPolicy (reference/peer-protocols.md): the metadata frame first, msgpack with
// openpi's array encoding, timings, /healthz, the Api-Key header, errors as a text frame + close
// 1011 (no traceback), reconnects, and other image layouts resized by sharp.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { OpenpiClient, f32, openpiArray, u8 } from '../support/peers.js';
import { testDaemon } from '../daemon/support.js';
import { bundlePath, repoRoot } from '../support/bundles.js';

const H = 50, A = 7;
const state = [0, 0.35, 1.55, 0, 1.24, 0, 0.08];
const obs = (over: Record<string, unknown> = {}) => ({
  'observation/scene': openpiArray(u8([96, 96, 3], (i) => (i * 7) % 251)),
  'observation/wrist': openpiArray(u8([96, 96, 3], (i) => (i * 3) % 199)),
  'observation/state': openpiArray(f32([7], state)),
  prompt: 'pick up the red cube',
  ...over,
});

const get = (url: string) => new Promise<{ status: number; body: string }>((resolve, reject) => {
  request(url, (res) => { let body = ''; res.on('data', (d) => { body += d; }); res.on('end', () => resolve({ status: res.statusCode ?? 0, body })); }).on('error', reject).end();
});

test('openpi server: metadata first, then actions [H, A] with timings for each observation, in order; /healthz', async () => {
  const t = await testDaemon({ serve: { openpi: { enabled: true, port: 0 } } });
  try {
    await t.daemon.transition('configure');
    const url = t.daemon.peerEndpoints.openpi!;
    assert.match(url, /^ws:\/\/127\.0\.0\.1:\d+$/);
    assert.deepEqual(await get(`${url.replace('ws', 'http')}/healthz`), { status: 200, body: 'OK\n' });
    const c = await OpenpiClient.connect(`${url}/any/path`);
    assert.equal(c.metadata.action_horizon, H);
    assert.equal(c.metadata.action_dim, A);
    const first = await c.infer(obs());
    assert.equal(first.actions.dtype, '<f4');
    assert.deepEqual(first.actions.shape, [H, A]);
    assert.ok(first.actions.values.every(Number.isFinite));
    assert.ok(first.policy_timing.infer_ms > 0 && first.server_timing.infer_ms >= first.policy_timing.infer_ms);
    assert.equal(first.server_timing.prev_total_ms, undefined, 'no previous call yet');
    const second = await c.infer(obs({ 'observation/state': openpiArray(f32([7], state), '<f4') }));
    assert.ok(second.server_timing.prev_total_ms! > 0, 'prev_total_ms from the second call on');
    c.close();
  } finally {
    await t.cleanup();
  }
});

test('openpi server: bad input gets a short text frame and close 1011, never a traceback; the next client is served', async () => {
  const t = await testDaemon({ serve: { openpi: { enabled: true, port: 0 } } });
  try {
    await t.daemon.transition('configure');
    const url = t.daemon.peerEndpoints.openpi!;
    const cases: [string, Record<string, unknown> | string | Uint8Array, RegExp][] = [
      ['a text frame', 'hello', /expected a binary msgpack frame/],
      ['truncated msgpack', Uint8Array.from([0x82, 0xa6, 0x70]), /not a msgpack message/],
      ['a reserved msgpack byte', Uint8Array.from([0xc1]), /unsupported msgpack value/],
      ['object dtype', obs({ 'observation/scene': openpiArray(u8([8], () => 0), '|O') }), /object array: refused/],
      ['void dtype', obs({ 'observation/scene': openpiArray(u8([8], () => 0), '|V8') }), /not a numeric dtype/],
      ['a missing image', { 'observation/wrist': obs()['observation/wrist'], 'observation/state': obs()['observation/state'], prompt: 'x' }, /observation has no 'observation\/scene'/],
      ['state too short', obs({ 'observation/state': openpiArray(f32([3], [0, 0, 0])) }), /state \(observation\/state\) has 3 values, the bundle takes 7/],
      ['no prompt', obs({ prompt: 42 }), /'prompt' must be a non-empty string/],
      ['a huge shape', obs({ 'observation/scene': openpiArray({ dtype: '|u1', shape: [65536, 65536, 3], bytes: new Uint8Array(3) }) }), /elements refused/],
    ];
    for (const [name, frame, error] of cases) {
      const c = await OpenpiClient.connect(url);
      const sent = typeof frame === 'string' || frame instanceof Uint8Array ? c.send(frame) : c.infer(frame);
      await assert.rejects(sent, (e: Error) => { assert.match(e.message, /^Error in inference server:\nError in vlad policy server: /, name); assert.match(e.message, error, name); return true; });
      assert.equal(c.closeCode, 1011, `${name}: closed with 1011`);
      assert.ok(!/\n\s+at /.test(c.lastError!), `${name}: no stack in the text frame`);
    }
    // openpi's client must build a new client after an error: that one is served.
    const again = await OpenpiClient.connect(url);
    assert.deepEqual((await again.infer(obs())).actions.shape, [H, A]);
    again.close();
    assert.match(await t.daemon.registry.metrics(), /vlad_peer_requests_total\{server="openpi",outcome="error"\} 9/);
  } finally {
    await t.cleanup();
  }
});

test('openpi server: the Api-Key header is required when a key is set (constant-time compare); beyond loopback a key is required at start-up', async () => {
  const t = await testDaemon({ serve: { openpi: { enabled: true, port: 0 } } });
  const keyFile = join(t.dir, 'openpi.key');
  writeFileSync(keyFile, 'a-long-openpi-api-key\n');
  chmodSync(keyFile, 0o600);
  t.daemon.opts.config.params.serve.openpi.api_key_file = keyFile;
  try {
    await t.daemon.transition('configure');
    const url = t.daemon.peerEndpoints.openpi!;
    await assert.rejects(OpenpiClient.connect(url), /HTTP 401/);
    await assert.rejects(OpenpiClient.connect(url, { apiKey: 'a-long-openpi-api-key-2' }), /HTTP 401/);
    const c = await OpenpiClient.connect(url, { apiKey: 'a-long-openpi-api-key' });
    assert.deepEqual((await c.infer(obs())).actions.shape, [H, A]);
    c.close();
    assert.match(await t.daemon.registry.metrics(), /vlad_peer_requests_total\{server="openpi",outcome="unauthorized"\} 2/);
  } finally {
    await t.cleanup();
  }
  const open = await testDaemon({ serve: { openpi: { enabled: true, port: 0, host: '0.0.0.0' } } });
  try {
    await assert.rejects(open.daemon.transition('configure'), /serving on 0\.0\.0\.0 \(beyond loopback\) requires an API key/);
    assert.equal(open.daemon.state, 'unconfigured');
  } finally {
    await open.cleanup();
  }
});

test('openpi server serves the daemon\'s policy: L1 actions equal the engine\'s; CHW uint8 images of another size and a configured key set (ALOHA-like) are mapped', async () => {
  const t = await testDaemon({
    bundle: bundlePath('vlad-base-l1'),
    serve: { openpi: { enabled: true, port: 0, images: { 'images/cam_high': 'scene', 'images/cam_wrist': 'wrist' }, state: ['observation/joint_position', 'observation/gripper_position'], prompt: 'prompt' } },
  });
  try {
    await t.daemon.transition('configure');
    const c = await OpenpiClient.connect(t.daemon.peerEndpoints.openpi!);
    const scene = u8([96, 96, 3], (i) => (i * 5) % 241);
    const wristChw = u8([3, 96, 96], (i) => (i * 9) % 233);
    const wristHwc = new Uint8Array(96 * 96 * 3);
    for (let ch = 0; ch < 3; ch++) for (let p = 0; p < 96 * 96; p++) wristHwc[p * 3 + ch] = wristChw.bytes[ch * 96 * 96 + p]!;
    const r = await c.infer({
      images: { cam_high: openpiArray(scene), cam_wrist: openpiArray(wristChw) },
      'observation/joint_position': openpiArray(f32([6], state.slice(0, 6))),
      'observation/gripper_position': new Map<Buffer, unknown>([[Buffer.from('__npgeneric__'), true], [Buffer.from('data'), 0.08], [Buffer.from('dtype'), '<f8']]),
      prompt: 'touch the yellow ball',
    });
    const direct = await t.daemon.policy!.infer({ stampNs: 0n, state: Float32Array.from(state), instruction: 'touch the yellow ball', images: { scene: { width: 96, height: 96, data: scene.bytes }, wrist: { width: 96, height: 96, data: wristHwc } } });
    assert.deepEqual(Array.from(r.actions.values), Array.from(direct.chunk.actions), 'served = the engine, value for value');
    c.close();
  } finally {
    await t.cleanup();
  }
});

test('openpi server over TLS (wss://) when a certificate is configured: a client trusting it is served, the Api-Key still checked', async () => {
  const t = await testDaemon({ serve: { openpi: { enabled: true, port: 0 } } });
  const fixtures = join(repoRoot, 'test', 'fixtures', 'tls');
  const key = join(t.dir, 'tls.key');
  copyFileSync(join(fixtures, 'localhost.key'), key);
  chmodSync(key, 0o600); // git does not keep modes: the daemon refuses a key others can read
  const keyFile = join(t.dir, 'openpi.key');
  writeFileSync(keyFile, 'a-long-openpi-api-key\n');
  chmodSync(keyFile, 0o600);
  Object.assign(t.daemon.opts.config.params.serve.openpi, { tls: { cert_file: join(fixtures, 'localhost.crt'), key_file: key }, api_key_file: keyFile });
  try {
    await t.daemon.transition('configure');
    const url = t.daemon.peerEndpoints.openpi!;
    assert.match(url, /^wss:\/\/127\.0\.0\.1:\d+$/);
    const ca = readFileSync(join(fixtures, 'localhost.crt'));
    await assert.rejects(OpenpiClient.connect(url), /self-signed|certificate/, 'a client that does not trust the certificate is refused by TLS');
    await assert.rejects(OpenpiClient.connect(url, { ca }), /HTTP 401/);
    const c = await OpenpiClient.connect(url, { ca, apiKey: 'a-long-openpi-api-key' });
    assert.deepEqual((await c.infer(obs())).actions.shape, [H, A]);
    c.close();
  } finally {
    await t.cleanup();
  }
});
