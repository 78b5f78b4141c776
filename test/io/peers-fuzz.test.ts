// Fuzzing both peer servers from one process with generated frames: random bytes, truncated and
// byte-flipped msgpack, wrong types, huge shapes and lengths, object / void / string / complex /
// big-endian dtypes in all three array encodings, deep nesting. Every frame must be answered in
// the protocol's error form (or, for the few that happen to be valid, served), and after every
// batch a well-formed request must still get a correct answer. The GR00T service takes 10^6
// frames over its socket; openpi closes the connection on every error (its protocol), so each of
// its frames is one connection: it takes as many as fit the same time budget.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Packr, Unpackr } from 'msgpackr';
import { Dealer } from 'zeromq';
import WebSocket from 'ws';
import { Gr00tClient, OpenpiClient, f32, gr00tMain, gr00tRelease, openpiArray, u8, type DecodedArray } from '../support/peers.js';
import { testDaemon } from '../daemon/support.js';

const packr = new Packr({ useRecords: false });
const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: false });
const state = [0, 0.35, 1.55, 0, 1.24, 0, 0.08];

/** xorshift32: the same frames on every run. */
function rng(seed: number) {
  let s = seed >>> 0 || 1;
  const next = () => { s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0; return s / 2 ** 32; };
  return { next, int: (n: number) => Math.floor(next() * n), pick: <T>(xs: readonly T[]): T => xs[Math.floor(next() * xs.length)]! };
}

const BAD_DTYPES = ['|O', 'O', '<O8', '|V4', 'V8', '<U8', '|S3', '<c8', '>f4', '>i4', 'float16', '<f2', '', 'f4; import os', '|u1'.repeat(20)];

/** Frames of every kind of bad input; `form` shapes the array encodings and the envelope. */
function generator(seed: number, form: 'gr00t' | 'openpi') {
  const r = rng(seed);
  const smallImage = u8([2, 2, 3], (i) => i);
  const array = (a = smallImage): unknown => (form === 'openpi' ? openpiArray(a) : r.next() < 0.5 ? gr00tRelease(a) : gr00tMain(a));
  const badArray = (): unknown => {
    const dtype = r.pick(BAD_DTYPES);
    const shape = r.pick([[1e6, 1e6], [2 ** 31, 2], [-1], [1.5], ['a'], [], Array.from({ length: 20 }, () => 2), [8]]);
    const data = Buffer.alloc(r.int(16));
    switch (r.int(4)) {
      case 0: return new Map<Buffer, unknown>([[Buffer.from('nd'), true], [Buffer.from('type'), dtype], [Buffer.from('kind'), r.pick([Buffer.alloc(0), Buffer.from('O'), Buffer.from('V')])], [Buffer.from('shape'), shape], [Buffer.from('data'), data]]);
      case 1: return new Map<Buffer, unknown>([[Buffer.from('__ndarray__'), true], [Buffer.from('data'), data], [Buffer.from('dtype'), dtype], [Buffer.from('shape'), shape]]);
      case 2: return { __ndarray_class__: true, as_npy: Buffer.concat([Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, r.int(5), 0, r.int(256), r.int(256)]), Buffer.from(`{'descr': '${dtype}', 'fortran_order': ${r.pick(['True', 'False', 'maybe'])}, 'shape': (${shape.join(',')}), }`), data]) };
      default: return { __ndarray_class__: r.pick([true, 1, 'yes']), as_npy: r.pick([null, 3, 'npy', data]) };
    }
  };
  const randomValue = (depth = 0): unknown => {
    switch (r.int(depth > 3 ? 5 : 8)) {
      case 0: return r.int(2 ** 31) - 2 ** 30;
      case 1: return r.next() * 1e308 * (r.next() < 0.5 ? -1 : 1);
      case 2: return 'x'.repeat(r.int(40));
      case 3: return null;
      case 4: return Buffer.alloc(r.int(32), r.int(256));
      case 5: return Array.from({ length: r.int(5) }, () => randomValue(depth + 1));
      case 6: return Object.fromEntries(Array.from({ length: r.int(5) }, (_, i) => [r.pick(['video', 'state', 'language', 'observation', 'data', 'endpoint', `k${i}`]), randomValue(depth + 1)]));
      default: return badArray();
    }
  };
  const nested = (n: number): unknown => { let v: unknown = 1; for (let i = 0; i < n; i++) v = [v]; return v; };
  const observation = (): Record<string, unknown> => {
    const cams = form === 'openpi'
      ? { 'observation/scene': r.next() < 0.7 ? badArray() : array(), 'observation/wrist': array(), 'observation/state': r.next() < 0.5 ? openpiArray(f32([r.int(9)], Array.from({ length: 9 }, () => r.next()))) : randomValue(), prompt: r.pick(['touch', 42, null, '']) }
      : { video: { scene: r.next() < 0.7 ? badArray() : array(), wrist: randomValue() }, state: { state: r.next() < 0.5 ? gr00tRelease(f32([1, 1, r.int(9)], [])) : randomValue() }, language: r.pick([{ 'annotation.human.task_description': [['touch']] }, {}, null, [[1]]]) };
    return cams;
  };
  const request = (): unknown => (form === 'openpi'
    ? observation()
    : r.pick([
      { endpoint: 'get_action', data: { observation: observation(), options: null } },
      { endpoint: 'get_action', data: r.next() < 0.5 ? observation() : randomValue() },
      { endpoint: r.pick(['reset', 'get_modality_config', 'kill', 'ping', 'x'.repeat(300), 7, null]), data: randomValue() },
      randomValue(),
    ]));
  return (): Buffer => {
    switch (r.int(8)) {
      case 0: return Buffer.from(Array.from({ length: r.int(64) }, () => r.int(256)));
      case 1: { const f = packr.pack(request()); return f.subarray(0, r.int(f.length)); }
      case 2: { const f = Buffer.from(packr.pack(request())); for (let k = 0; k < 1 + r.int(4); k++) f[r.int(f.length)] = r.int(256); return f; }
      case 3: return packr.pack(nested(20 + r.int(400)));
      case 4: return Buffer.from([r.pick([0xc6, 0xdd, 0xdf, 0xdb]), 0xff, 0xff, 0xff, 0xf0, 1, 2, 3]); // a bin/array/map/str header claiming ~4 GB
      default: return packr.pack(request());
    }
  };
}

const isAnswer = (reply: unknown): boolean => reply instanceof Map || Array.isArray(reply) || reply === null;

test('fuzz: 10^6 generated frames at the GR00T service and thousands of connections at the openpi server; each batch then a good request is served', { timeout: 900_000 }, async () => {
  const rate = { per_s: 1e6, burst: 1e6 }; // the rate limit is tested elsewhere: here every frame reaches the decoder
  const t = await testDaemon({ serve: { gr00t: { enabled: true, endpoint: 'tcp://127.0.0.1:*', rate }, openpi: { enabled: true, port: 0, rate } } });
  try {
    await t.daemon.transition('configure');
    const { gr00t, openpi } = t.daemon.peerEndpoints;
    const good = new Gr00tClient(gr00t!);
    const goodObs = { video: { scene: gr00tRelease(u8([1, 1, 96, 96, 3], (i) => i % 251)), wrist: gr00tMain(u8([1, 1, 96, 96, 3], (i) => i % 199)) }, state: { state: gr00tRelease(f32([1, 1, 7], state)) }, language: { 'annotation.human.task_description': [['pick up the red cube']] } };
    const checkGr00t = async () => {
      const r = await good.call('get_action', { observation: goodObs, options: null }) as [Record<string, DecodedArray>, unknown];
      assert.deepEqual(r[0].action!.shape, [1, 50, 7], 'a well-formed request is still served');
      assert.ok(r[0].action!.values.every(Number.isFinite));
    };
    // GR00T: four DEALERs (a REQ client's envelope), each with a window of frames in flight.
    const TOTAL = 1_000_000, BATCH = 100_000, DEALERS = 4, WINDOW = 256;
    const next = generator(20261206, 'gr00t');
    let answered = 0, errors = 0, served = 0;
    const dealers = Array.from({ length: DEALERS }, () => { const d = new Dealer({ sendHighWaterMark: 4 * WINDOW, receiveHighWaterMark: 4 * WINDOW, linger: 0 }); d.connect(gr00t!); return d; });
    const started = performance.now();
    for (let sent = 0; sent < TOTAL; sent += BATCH) {
      await Promise.all(dealers.map(async (d) => {
        const mine = BATCH / DEALERS;
        let out = 0, back = 0;
        const receiving = (async () => {
          while (back < mine) {
            const frames = await d.receive();
            back++;
            const reply: unknown = unpackr.unpack(frames[frames.length - 1]!);
            assert.ok(isAnswer(reply), `an answer in GR00T's form: ${String(reply)}`);
            if (reply instanceof Map && reply.has('error')) errors++; else served++;
          }
        })();
        while (out < mine) {
          if (out - back < WINDOW) { await d.send([Buffer.alloc(0), next()]); out++; } else await new Promise((r) => setImmediate(r));
        }
        await receiving;
        answered += back;
      }));
      await checkGr00t();
    }
    const gr00tS = (performance.now() - started) / 1000;
    assert.equal(answered, TOTAL, 'every frame answered');
    assert.ok(errors > 0.9 * TOTAL, `${errors} errors`);
    for (const d of dealers) d.close();
    good.close();

    // openpi: one frame per connection (an error closes it), 16 connections at a time, for about
    // as long as the GR00T half took (at most 60 s), in batches of 2,000.
    const nextWs = generator(7, 'openpi');
    let wsFrames = 0, wsClosed1011 = 0, wsServed = 0;
    const budgetMs = Math.min(60_000, gr00tS * 1000);
    const wsStart = performance.now();
    const one = () => new Promise<void>((resolve, reject) => {
      const ws = new WebSocket(openpi!, { perMessageDeflate: false });
      let gotText = false;
      ws.once('message', () => {
        ws.send(nextWs());
        ws.on('message', (d: Buffer, isBinary: boolean) => { if (isBinary) { wsServed++; ws.close(); } else gotText = true; });
      });
      ws.on('close', (code) => {
        wsFrames++;
        if (code === 1011 && gotText) wsClosed1011++;
        else if (code !== 1005 && code !== 1000) { reject(new Error(`closed ${code} without the error form`)); return; }
        resolve();
      });
      ws.on('error', reject);
    });
    while (performance.now() - wsStart < budgetMs) {
      let left = 2000;
      await Promise.all(Array.from({ length: 16 }, async () => { while (left-- > 0) await one(); }));
      const c = await OpenpiClient.connect(openpi!);
      const r = await c.infer({ 'observation/scene': openpiArray(u8([96, 96, 3], (i) => i % 251)), 'observation/wrist': openpiArray(u8([96, 96, 3], (i) => i % 199)), 'observation/state': openpiArray(f32([7], state)), prompt: 'touch the yellow ball' });
      assert.deepEqual(r.actions.shape, [50, 7], 'a well-formed request is still served');
      c.close();
    }
    assert.equal(wsClosed1011 + wsServed, wsFrames, 'every connection ended in the error form or was served');
    process.stderr.write(`# fuzz: GR00T ${TOTAL} frames in ${gr00tS.toFixed(1)} s (${errors} error replies, ${served} served), openpi ${wsFrames} frames in ${((performance.now() - wsStart) / 1000).toFixed(1)} s (${wsClosed1011} text + close 1011, ${wsServed} served); total ${TOTAL + wsFrames}\n`);
  } finally {
    await t.cleanup();
  }
});

test('the per-client rate limit answers excess requests in the protocol\'s error form', async () => {
  const t = await testDaemon({ serve: { gr00t: { enabled: true, endpoint: 'tcp://127.0.0.1:*', rate: { per_s: 1, burst: 3 } } } });
  try {
    await t.daemon.transition('configure');
    const c = new Gr00tClient(t.daemon.peerEndpoints.gr00t!);
    const replies = [];
    for (let i = 0; i < 5; i++) replies.push(await c.call('ping'));
    assert.deepEqual(replies.slice(0, 3), Array(3).fill({ status: 'ok', message: 'Server is running' }));
    assert.deepEqual(replies.slice(3), Array(2).fill({ error: 'rate limit exceeded' }));
    c.close();
    assert.match(await t.daemon.registry.metrics(), /vlad_peer_requests_total\{server="gr00t",outcome="rate_limited"\} 2/);
  } finally {
    await t.cleanup();
  }
});
