// The GR00T-compatible policy service, driven by a client written from the spec of GR00T's own
// (reference/peer-protocols.md): both array encodings, the nested, flat and N1.5 request forms,
// the modality config, auth, kill, and every kind of bad input answered in GR00T's error form.
// The daemon serves the real shipped bundle; with the deterministic L1 bundle the served actions
// are compared with the policy engine's own answer for the same observation.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { Packr } from 'msgpackr';
import { Gr00tClient, f32, gr00tMain, gr00tRelease, npy, u8, type DecodedArray } from '../support/peers.js';
import { testDaemon } from '../daemon/support.js';
import { bundlePath } from '../support/bundles.js';

const packr = new Packr({ useRecords: false });
const H = 50, A = 7;
const image = (seed: number, size = 96) => u8([size, size, 3], (i) => (i * 7 + seed * 13) % 251);
const state = [0, 0.35, 1.55, 0, 1.24, 0, 0.08];
const TEXT = 'pick up the red cube';

/** A nested N1.6+ observation for a batch of B, encoded `enc` (release or main). */
function nestedObs(enc: typeof gr00tRelease | typeof gr00tMain, B: number, size = 96) {
  const vid = (seed: number) => u8([B, 1, size, size, 3], (i) => (i * 7 + seed * 13) % 251);
  return {
    video: { scene: enc(vid(1)), wrist: enc(vid(2)) },
    state: { state: enc(f32([B, 1, 7], Array.from({ length: B * 7 }, (_, i) => state[i % 7]!))) },
    language: { 'annotation.human.task_description': Array.from({ length: B }, () => [TEXT]) },
  };
}

test('GR00T service: ping, modality config, get_action in both array encodings, batched, flat and N1.5 forms; reset; kill refused', async () => {
  const t = await testDaemon({ serve: { gr00t: { enabled: true, endpoint: 'tcp://127.0.0.1:*' } } });
  try {
    await t.daemon.transition('configure');
    const endpoint = t.daemon.peerEndpoints.gr00t!;
    assert.match(endpoint, /^tcp:\/\/127\.0\.0\.1:\d+$/);
    const c = new Gr00tClient(endpoint);
    assert.deepEqual(await c.call('ping'), { status: 'ok', message: 'Server is running' });
    const mc = await c.call('get_modality_config') as Record<string, { __ModalityConfig_class__: boolean; as_json: Record<string, unknown> }>;
    assert.deepEqual(Object.keys(mc).sort(), ['action', 'language', 'state', 'video']);
    for (const m of Object.values(mc)) {
      assert.equal(m.__ModalityConfig_class__, true);
      assert.deepEqual(Object.keys(m.as_json).sort(), ['action_configs', 'delta_indices', 'mean_std_embedding_keys', 'modality_keys', 'sin_cos_embedding_keys'], 'exactly the keys ModalityConfig(**as_json) takes');
    }
    assert.deepEqual(mc.video!.as_json.modality_keys, ['scene', 'wrist']);
    assert.deepEqual(mc.action!.as_json.delta_indices, Array.from({ length: H }, (_, i) => i));
    assert.deepEqual(mc.language!.as_json.modality_keys, ['annotation.human.task_description']);

    for (const [enc, B] of [[gr00tRelease, 1], [gr00tMain, 2]] as const) {
      const reply = await c.call('get_action', { observation: nestedObs(enc, B), options: null }) as [Record<string, DecodedArray>, Record<string, unknown>];
      assert.ok(Array.isArray(reply) && reply.length === 2, 'an [action, info] pair');
      const action = reply[0].action!;
      assert.equal(action.dtype, '<f4');
      assert.deepEqual(action.shape, [B, H, A]);
      assert.ok(action.values.every(Number.isFinite));
      assert.deepEqual(reply[1], {});
    }
    // Flat (GR00T's sim wrapper): "video.<cam>", "state.<key>", language [str] x B -> "action.<key>".
    const flat = await c.call('get_action', { observation: { 'video.scene': gr00tRelease(u8([1, 1, 96, 96, 3], (i) => i % 200)), 'video.wrist': gr00tRelease(u8([1, 1, 96, 96, 3], (i) => i % 100)), 'state.state': gr00tRelease(f32([1, 1, 7], state)), 'annotation.human.task_description': [TEXT] } }) as [Record<string, DecodedArray>, unknown];
    assert.deepEqual(flat[0]['action.action']!.shape, [1, H, A]);
    // N1.5: handler(data) with the flat observation, no batch axis; the reply is the flat action map.
    const n15 = await c.call('get_action', { 'video.scene': gr00tRelease(u8([1, 96, 96, 3], (i) => i % 200)), 'video.wrist': gr00tRelease(u8([1, 96, 96, 3], (i) => i % 100)), 'state.state': gr00tRelease(f32([1, 7], state)), 'annotation.human.task_description': [TEXT] }) as Record<string, DecodedArray>;
    assert.deepEqual(Object.keys(n15), ['action.action']);
    assert.deepEqual(n15['action.action']!.shape, [H, A]);
    // A request without an endpoint is get_action (N1.5 clients).
    const implicit = await c.call(undefined, { observation: nestedObs(gr00tRelease, 1) }) as [Record<string, DecodedArray>, unknown];
    assert.deepEqual(implicit[0].action!.shape, [1, H, A]);
    assert.deepEqual(await c.call('reset', { options: null }), { status: 'ok' });
    assert.deepEqual(await c.call('kill'), { error: 'kill is disabled on this server (serve.gr00t.allow_kill)' });
    assert.deepEqual(await c.call('ping'), { status: 'ok', message: 'Server is running' }, 'still serving');
    c.close();
  } finally {
    await t.cleanup();
  }
});

test('GR00T service: every bad input gets {"error": ...} with a short reason, never a crash, and the service keeps serving', async () => {
  const t = await testDaemon({ serve: { gr00t: { enabled: true, endpoint: 'tcp://127.0.0.1:*' } } });
  try {
    await t.daemon.transition('configure');
    const c = new Gr00tClient(t.daemon.peerEndpoints.gr00t!);
    const obs = (patch: (o: ReturnType<typeof nestedObs>) => void) => { const o = nestedObs(gr00tRelease, 1); patch(o); return { observation: o }; };
    const cases: [string, () => Promise<unknown>, RegExp][] = [
      ['not msgpack', () => c.raw(Buffer.from([0xc1, 0xff, 0x00])), /not a msgpack message/],
      ['not a map', () => c.raw(packr.pack([1, 2, 3])), /request is not a map/],
      ['unknown endpoint', () => c.call('teleport'), /unknown endpoint 'teleport'/],
      ['object dtype (main form, |O)', () => c.call('get_action', obs((o) => { o.video.scene = gr00tMain(u8([1, 1, 96, 96, 3], () => 0), '|O') as never; })), /object array: refused/],
      ['object dtype in .npy', () => c.call('get_action', obs((o) => { o.video.scene = { __ndarray_class__: true, as_npy: npy(u8([8], () => 0), { descr: '|O' }) } as never; })), /object array: refused/],
      ['fortran order', () => c.call('get_action', obs((o) => { o.video.scene = { __ndarray_class__: true, as_npy: npy(u8([1, 1, 96, 96, 3], () => 0), { fortran: true }) } as never; })), /Fortran order/],
      ['bytes do not match the shape', () => c.call('get_action', obs((o) => { o.state.state = gr00tMain({ dtype: '<f4', shape: [1, 1, 7], bytes: new Uint8Array(8) }) as never; })), /array data is 8 bytes/],
      ['a huge shape', () => c.call('get_action', obs((o) => { o.video.scene = gr00tMain({ dtype: '|u1', shape: [1e6, 1e6], bytes: new Uint8Array(1) }) as never; })), /elements refused/],
      ['big-endian floats', () => c.call('get_action', obs((o) => { o.state.state = gr00tMain(f32([1, 1, 7], state), '>f4') as never; })), /big-endian/],
      ['state of the wrong length', () => c.call('get_action', obs((o) => { o.state.state = gr00tRelease(f32([1, 1, 5], [0, 0, 0, 0, 0])) as never; })), /state\.state has 5 values, the mapping gives it 7/],
      ['NaN in the state', () => c.call('get_action', obs((o) => { o.state.state = gr00tRelease(f32([1, 1, 7], [0, Number.NaN, 0, 0, 0, 0, 0])) as never; })), /non-finite/],
      ['a missing camera', () => c.call('get_action', obs((o) => { delete (o.video as Record<string, unknown>).wrist; })), /no array for video\.wrist/],
      ['a 4-channel image', () => c.call('get_action', obs((o) => { o.video.scene = gr00tRelease(u8([1, 1, 96, 96, 4], () => 0)) as never; })), /4 channels, expected 3/],
      ['no language', () => c.call('get_action', obs((o) => { o.language = {} as never; })), /language annotation\.human\.task_description/],
      ['a batch of 64', () => c.call('get_action', { observation: nestedObs(gr00tRelease, 64, 8) }), /batch of 64 observations refused/],
      ['data not a map', () => c.call('get_action', 3), /get_action needs data: a map/],
    ];
    for (const [name, call, error] of cases) {
      const r = await call() as { error?: string };
      assert.ok(r && typeof r.error === 'string', `${name}: ${JSON.stringify(r)}`);
      assert.match(r.error!, error, name);
      assert.ok(r.error!.length < 240 && !/\n\s+at /.test(r.error!), `${name}: a short message, no stack`);
    }
    const still = await c.call('get_action', { observation: nestedObs(gr00tRelease, 1) }) as [Record<string, DecodedArray>, unknown];
    assert.deepEqual(still[0].action!.shape, [1, H, A], 'a good request after all of them is served');
    const text = await t.daemon.registry.metrics();
    assert.match(text, /vlad_peer_requests_total\{server="gr00t",outcome="error"\} 16/);
    c.close();
  } finally {
    await t.cleanup();
  }
});

test('GR00T service: the api_token is required and compared in constant time; allow_kill stops only the service', async () => {
  const t = await testDaemon({ serve: { gr00t: { enabled: true, endpoint: 'tcp://127.0.0.1:*', allow_kill: true } } });
  const tokenFile = join(t.dir, 'gr00t.token');
  writeFileSync(tokenFile, 's3cret-token-for-gr00t\n');
  chmodSync(tokenFile, 0o644);
  t.daemon.opts.config.params.serve.gr00t.api_token_file = tokenFile;
  try {
    await assert.rejects(t.daemon.transition('configure'), /gr00t\.token: serve\.gr00t\.api_token_file: the secret file is readable by others \(mode 644\)/);
    chmodSync(tokenFile, 0o600);
    await t.daemon.transition('configure');
    const endpoint = t.daemon.peerEndpoints.gr00t!;
    for (const token of [undefined, 'wrong', 's3cret-token-for-gr00t-and-more']) {
      const c = new Gr00tClient(endpoint, token === undefined ? {} : { apiToken: token });
      assert.deepEqual(await c.call('ping'), { error: 'Unauthorized: Invalid API token' });
      c.close();
    }
    const ok = new Gr00tClient(endpoint, { apiToken: 's3cret-token-for-gr00t' });
    assert.deepEqual(await ok.call('ping'), { status: 'ok', message: 'Server is running' });
    assert.equal(await ok.call('kill'), null);
    await new Promise((r) => setTimeout(r, 100));
    const after = new Gr00tClient(endpoint, { apiToken: 's3cret-token-for-gr00t', timeoutMs: 300 });
    await assert.rejects(after.call('ping'), 'nobody answers after kill');
    after.close();
    ok.close();
    assert.equal(t.daemon.state, 'inactive', 'kill stopped the GR00T service, not the daemon');
  } finally {
    await t.cleanup();
  }
});

test('GR00T service serves the daemon\'s policy: with the deterministic L1 bundle the actions equal the engine\'s own answer; other image sizes and CHW are resized by sharp', async () => {
  const t = await testDaemon({ bundle: bundlePath('vlad-base-l1'), serve: { gr00t: { enabled: true, endpoint: 'tcp://127.0.0.1:*', image_layout: 'auto' } } });
  try {
    await t.daemon.transition('configure');
    const c = new Gr00tClient(t.daemon.peerEndpoints.gr00t!);
    const scene = image(1), wrist = image(2);
    const reply = await c.call('get_action', { observation: {
      video: { scene: gr00tRelease({ ...scene, shape: [1, 1, 96, 96, 3] }), wrist: gr00tMain({ ...wrist, shape: [1, 1, 96, 96, 3] }) },
      state: { state: gr00tRelease(f32([1, 1, 7], state)) }, language: { 'annotation.human.task_description': [[TEXT]] },
    } }) as [Record<string, DecodedArray>, unknown];
    const direct = await t.daemon.policy!.infer({ stampNs: 0n, state: Float32Array.from(state), instruction: TEXT, images: { scene: { width: 96, height: 96, data: scene.bytes }, wrist: { width: 96, height: 96, data: wrist.bytes } } });
    assert.deepEqual(Array.from(reply[0].action!.values), Array.from(direct.chunk.actions), 'served = the engine, value for value');
    // A 128x128 CHW float image in [0, 1]: converted and resized like sharp resizes the HWC uint8 image.
    const big = u8([128, 128, 3], (i) => (i * 11) % 256);
    const chw = new Float32Array(3 * 128 * 128);
    for (let y = 0; y < 128; y++) for (let x = 0; x < 128; x++) for (let ch = 0; ch < 3; ch++) chw[ch * 128 * 128 + y * 128 + x] = big.bytes[(y * 128 + x) * 3 + ch]! / 255;
    const resized = new Uint8Array(await sharp(Buffer.from(big.bytes), { raw: { width: 128, height: 128, channels: 3 } }).resize(96, 96, { fit: 'fill' }).raw().toBuffer());
    const r2 = await c.call('get_action', { observation: {
      video: { scene: gr00tRelease(f32([1, 1, 3, 128, 128], chw)), wrist: gr00tRelease({ ...wrist, shape: [1, 1, 96, 96, 3] }) },
      state: { state: gr00tRelease(f32([1, 1, 7], state)) }, language: { 'annotation.human.task_description': [[TEXT]] },
    } }) as [Record<string, DecodedArray>, unknown];
    const d2 = await t.daemon.policy!.infer({ stampNs: 0n, state: Float32Array.from(state), instruction: TEXT, images: { scene: { width: 96, height: 96, data: resized }, wrist: { width: 96, height: 96, data: wrist.bytes } } });
    assert.deepEqual(Array.from(r2[0].action!.values), Array.from(d2.chunk.actions));
    c.close();
  } finally {
    await t.cleanup();
  }
});

test('GR00T service: N1.5\'s modality config form (as_json a JSON string, keys with their modality prefix) when configured', async () => {
  const t = await testDaemon({ serve: { gr00t: { enabled: true, endpoint: 'tcp://127.0.0.1:*', modality_config: 'n15' } } });
  try {
    await t.daemon.transition('configure');
    const c = new Gr00tClient(t.daemon.peerEndpoints.gr00t!);
    const mc = await c.call('get_modality_config') as Record<string, { __ModalityConfig_class__: boolean; as_json: string }>;
    assert.equal(typeof mc.video!.as_json, 'string');
    assert.deepEqual(JSON.parse(mc.video!.as_json).modality_keys, ['video.scene', 'video.wrist']);
    assert.deepEqual(JSON.parse(mc.state!.as_json).modality_keys, ['state.state']);
    c.close();
  } finally {
    await t.cleanup();
  }
});
