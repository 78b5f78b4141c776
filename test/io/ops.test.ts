import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Packr, Unpackr } from 'msgpackr';
import { Dealer, Request, Router } from 'zeromq';
import { silentLogger } from '../../src/core/log.js';
import { OpsServer, OpsClient, OpsCallError, OpsError, OPS_PROTOCOL_VERSION, type OpsMethods } from '../../src/io/zmq/index.js';

const packr = new Packr({ useRecords: false });
const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true });

interface Reply { v: number; id: unknown; ok: boolean; result?: unknown; error?: { code: string; message: string } }

/** A method table like the daemon's; `calls` records every handler invocation. */
function makeMethods(calls: string[] = []): OpsMethods {
  const gates = new Map<string, () => void>();
  return {
    status: { params: { type: 'object', additionalProperties: false }, handler: () => { calls.push('status'); return { state: 'idle' }; } },
    add: {
      params: { type: 'object', additionalProperties: false, required: ['a', 'b'], properties: { a: { type: 'number' }, b: { type: 'number' } } },
      handler: (p: { a: number; b: number }) => { calls.push('add'); return p.a + p.b; },
    },
    echo: {
      params: { type: 'object', additionalProperties: false, required: ['text'], properties: { text: { type: 'string' } } },
      handler: async (p: { text: string }) => { calls.push('echo'); await Promise.resolve(); return { text: p.text }; },
    },
    greet: {
      params: { type: 'object', additionalProperties: false, properties: { name: { type: 'string', default: 'operator' } } },
      handler: (p: { name: string }) => `hello ${p.name}`,
    },
    // wait blocks until release is called with the same key: only concurrent handling finishes both.
    wait: {
      params: { type: 'object', required: ['key'], properties: { key: { type: 'string' } } },
      handler: (p: { key: string }) => new Promise((resolve) => gates.set(p.key, () => resolve(`released ${p.key}`))),
    },
    release: {
      params: { type: 'object', required: ['key'], properties: { key: { type: 'string' } } },
      handler: (p: { key: string }) => { gates.get(p.key)?.(); return gates.has(p.key); },
    },
    refuse: { params: { type: 'object' }, handler: () => { calls.push('refuse'); throw new OpsError('refused', 'robot is e-stopped'); } },
    boom: { params: { type: 'object' }, handler: () => { calls.push('boom'); throw new Error('disk on fire'); } },
  };
}

/** Closed after the test, pass or fail, so a failing test cannot leave the process hanging. */
function closeAfter<T extends { close(): unknown }>(t: TestContext, item: T): T {
  t.after(async () => { await item.close(); });
  return item;
}

function ipcEndpoint(tag: string): string {
  return `ipc://${join(tmpdir(), `vlad-ops-test-${process.pid}-${tag}.sock`)}`;
}

async function exchange(socket: Dealer | Request, frames: Array<Buffer | Uint8Array>): Promise<Reply> {
  await socket.send(frames);
  const reply = await socket.receive();
  assert.equal(reply.length, 1, 'one reply frame');
  return unpackr.unpack(reply[0]!) as Reply;
}

test('DEALER (OpsClient) and REQ clients get replies', async (t) => {
  const server = closeAfter(t, await OpsServer.bind({ endpoint: 'tcp://127.0.0.1:*', methods: makeMethods(), logger: silentLogger }));
  assert.match(server.endpoint, /^tcp:\/\/127\.0\.0\.1:\d+$/);
  const client = closeAfter(t, await OpsClient.connect(server.endpoint, { timeoutMs: 5000 }));
  assert.equal(await client.call('add', { a: 2, b: 3 }), 5);
  assert.deepEqual(await client.call('status'), { state: 'idle' });
  assert.deepEqual(await client.call('echo', { text: 'hé' }), { text: 'hé' });
  assert.equal(await client.call('greet'), 'hello operator'); // schema defaults are filled in

  const req = closeAfter(t, new Request({ linger: 0, receiveTimeout: 5000 }));
  req.connect(server.endpoint);
  const r = await exchange(req, [packr.pack({ v: 1, id: 'req-1', method: 'add', params: { a: 1, b: 1 } })]);
  assert.deepEqual(r, { v: OPS_PROTOCOL_VERSION, id: 'req-1', ok: true, result: 2 });
  // An error reply reaches a REQ client too (it carries the empty delimiter REQ needs).
  const bad = await exchange(req, [Uint8Array.from([0xc1])]);
  assert.equal(bad.ok, false);
  assert.equal(bad.error?.code, 'bad_frame');

  const s = server.stats();
  assert.equal(s.requests, 6);
  assert.equal(s.ok, 5);
  assert.equal(s.errors, 1);
});

test('concurrent calls from two clients each get their own replies', async (t) => {
  const server = closeAfter(t, await OpsServer.bind({ endpoint: ipcEndpoint('concurrent'), methods: makeMethods(), logger: silentLogger }));
  const a = closeAfter(t, await OpsClient.connect(server.endpoint));
  const b = closeAfter(t, await OpsClient.connect(server.endpoint));
  // a's call can only finish if b's call runs while a's is still pending.
  const waiting = a.call('wait', { key: 'k1' });
  const [released, fromB] = await Promise.all([waiting, (async () => {
    // Retry until a's wait is registered (its request may still be in flight).
    for (;;) if (await b.call('release', { key: 'k1' })) return 'ok';
  })()]);
  assert.equal(released, 'released k1');
  assert.equal(fromB, 'ok');
  const calls: Promise<unknown>[] = [];
  const expected: unknown[] = [];
  for (let i = 0; i < 50; i++) {
    calls.push(a.call('add', { a: i, b: 1000 }), b.call('echo', { text: `b${i}` }));
    expected.push(i + 1000, { text: `b${i}` });
  }
  assert.deepEqual(await Promise.all(calls), expected);
});

test('every kind of bad request gets its error code, is counted and changes nothing', async (t) => {
  const calls: string[] = [];
  const server = closeAfter(t, await OpsServer.bind({ endpoint: 'tcp://127.0.0.1:*', methods: makeMethods(calls), logger: silentLogger, maxFrameBytes: 4096 }));
  const d = closeAfter(t, new Dealer({ linger: 0, receiveTimeout: 5000 }));
  d.connect(server.endpoint);
  const send = (msg: unknown): Promise<Reply> => exchange(d, [packr.pack(msg)]);
  const expectError = (r: Reply, code: string, id: unknown, message?: RegExp): void => {
    assert.equal(r.ok, false, JSON.stringify(r));
    assert.equal(r.v, 1);
    assert.equal(r.error?.code, code, JSON.stringify(r));
    assert.equal(r.id, id);
    if (message) assert.match(r.error!.message, message);
  };

  expectError(await exchange(d, [Uint8Array.from([0xc1, 0xff, 0x00])]), 'bad_frame', null, /not msgpack/);
  expectError(await send([1, 2, 3]), 'bad_frame', null, /not a map/);
  expectError(await send('status'), 'bad_frame', null, /not a map/);
  expectError(await send({ v: 2, id: 7, method: 'status' }), 'bad_version', 7, /field v: expected 1, got 2/);
  expectError(await send({ method: 'status', id: 8 }), 'bad_version', 8);
  expectError(await send({ v: 1, method: 'status' }), 'bad_request', null, /field id/);
  expectError(await send({ v: 1, id: -1, method: 'status' }), 'bad_request', null, /field id/);
  expectError(await send({ v: 1, id: 1.5, method: 'status' }), 'bad_request', null, /field id/);
  expectError(await send({ v: 1, id: 'x'.repeat(65), method: 'status' }), 'bad_request', null, /field id/);
  expectError(await send({ v: 1, id: 9, method: 42 }), 'bad_request', 9, /field method/);
  expectError(await send({ v: 1, id: 10, method: 'status', extra: true }), 'bad_request', 10, /unknown field 'extra'/);
  expectError(await send({ v: 1, id: 11, method: 'fly' }), 'unknown_method', 11, /unknown method 'fly'; known: add, boom, echo, greet, refuse, release, status, wait/);
  expectError(await send({ v: 1, id: 12, method: 'toString' }), 'unknown_method', 12);
  expectError(await send({ v: 1, id: 13, method: 'add', params: { a: 'x', b: 1 } }), 'bad_params', 13, /^params\.a: must be number$/);
  expectError(await send({ v: 1, id: 14, method: 'echo' }), 'bad_params', 14, /^params\.text: /);
  expectError(await send({ v: 1, id: 15, method: 'echo', params: { text: 'a', speed: 9 } }), 'bad_params', 15, /^params\.speed: unknown field$/);
  expectError(await send({ v: 1, id: 16, method: 'echo', params: [1] }), 'bad_params', 16, /params: expected a map/);
  const one = packr.pack({ v: 1, id: 17, method: 'status' });
  expectError(await exchange(d, [one, one]), 'bad_frame', null, /expected 1 payload frame, got 2/);
  expectError(await exchange(d, [Buffer.alloc(5000, 0x90)]), 'bad_frame', null, /5000 bytes exceeds the 4096-byte limit/);
  expectError(await send({ v: 1, id: 'r', method: 'refuse' }), 'refused', 'r', /^robot is e-stopped$/);
  const internal = await send({ v: 1, id: 'b', method: 'boom' });
  expectError(internal, 'internal', 'b');
  assert.equal(internal.error!.message, 'disk on fire'); // the message only, no stack trace

  // Only the two requests that passed validation reached a handler.
  assert.deepEqual(calls, ['refuse', 'boom']);
  const s = server.stats();
  assert.deepEqual(s.byCode, { bad_frame: 5, bad_version: 2, bad_request: 6, unknown_method: 2, bad_params: 4, refused: 1, internal: 1 });
  assert.equal(s.errors, 21);
  assert.equal(s.badFrames, 13);
  assert.equal(s.ok, 0);
  assert.equal(s.requests, 21);

  // Still serving.
  const ok = await send({ v: 1, id: 99, method: 'add', params: { a: 40, b: 2 } });
  assert.deepEqual(ok, { v: 1, id: 99, ok: true, result: 42 });
  assert.equal(server.stats().ok, 1);
});

test('a frame past the socket limit is dropped by libzmq, and the server keeps serving', async (t) => {
  const server = closeAfter(t, await OpsServer.bind({ endpoint: 'tcp://127.0.0.1:*', methods: makeMethods(), logger: silentLogger, maxFrameBytes: 1024 }));
  const d = closeAfter(t, new Dealer({ linger: 0, receiveTimeout: 400 }));
  d.connect(server.endpoint);
  await d.send(Buffer.alloc(64 * 1024));
  await assert.rejects(d.receive(), (err: NodeJS.ErrnoException) => err.code === 'EAGAIN');
  assert.equal(server.stats().requests, 0);
  // The DEALER reconnects by itself; the next request is answered.
  const client = closeAfter(t, await OpsClient.connect(server.endpoint));
  assert.equal(await client.call('add', { a: 1, b: 2 }), 3);
  d.receiveTimeout = 5000;
  assert.deepEqual(await exchange(d, [packr.pack({ v: 1, id: 1, method: 'status' })]), { v: 1, id: 1, ok: true, result: { state: 'idle' } });
});

test('OpsClient rejects with the daemon\'s code and message', async (t) => {
  const server = closeAfter(t, await OpsServer.bind({ endpoint: 'tcp://127.0.0.1:*', methods: makeMethods(), logger: silentLogger }));
  const client = closeAfter(t, await OpsClient.connect(server.endpoint));
  await assert.rejects(client.call('refuse'), (err: unknown) => err instanceof OpsCallError && err.code === 'refused' && err.message === 'robot is e-stopped' && err.method === 'refuse');
  await assert.rejects(client.call('add', { a: 1 }), (err: unknown) => err instanceof OpsCallError && err.code === 'bad_params' && /params\.b/.test(err.message));
  await assert.rejects(client.call('nope'), (err: unknown) => err instanceof OpsCallError && err.code === 'unknown_method');
  await assert.rejects(client.call('boom'), (err: unknown) => err instanceof OpsCallError && err.code === 'internal' && err.message === 'disk on fire');
  await client.close();
  await assert.rejects(client.call('status'), (err: unknown) => err instanceof OpsCallError && err.code === 'closed');
});

test('a call nobody answers times out naming the endpoint', async (t) => {
  const endpoint = ipcEndpoint('nobody');
  const client = closeAfter(t, await OpsClient.connect(endpoint));
  await assert.rejects(client.call('status', {}, { timeoutMs: 300 }), (err: unknown) => {
    assert.ok(err instanceof OpsCallError);
    assert.equal(err.code, 'timeout');
    assert.ok(err.message.includes(endpoint), err.message);
    return true;
  });
});

test('the client matches replies by id and ignores unknown ones', async (t) => {
  const router = closeAfter(t, new Router({ linger: 0 }));
  await router.bind('tcp://127.0.0.1:*');
  const client = closeAfter(t, await OpsClient.connect(router.lastEndpoint!));
  const first = client.call('status', {}, { timeoutMs: 300 });
  const [identity, payload] = await router.receive();
  const req = unpackr.unpack(payload!) as { id: number; method: string };
  assert.equal(req.method, 'status');
  await assert.rejects(first, (err: unknown) => err instanceof OpsCallError && err.code === 'timeout');
  // A late reply to the timed-out call, and one with an id nobody used: both ignored.
  await router.send([identity!, packr.pack({ v: 1, id: req.id, ok: true, result: 'late' })]);
  await router.send([identity!, packr.pack({ v: 1, id: 9999, ok: true, result: 'stray' })]);
  const second = client.call('status', {}, { timeoutMs: 5000 });
  const [, payload2] = await router.receive();
  const req2 = unpackr.unpack(payload2!) as { id: number };
  assert.notEqual(req2.id, req.id);
  await router.send([identity!, packr.pack({ v: 1, id: req2.id, ok: true, result: 'mine' })]);
  assert.equal(await second, 'mine');
  assert.equal(client.ignoredReplies, 2);
});

test('bind refuses a bad params schema, naming the method', async () => {
  await assert.rejects(
    OpsServer.bind({ endpoint: 'tcp://127.0.0.1:*', methods: { go: { params: { type: 'objekt' }, handler: () => 1 } }, logger: silentLogger }),
    /method 'go': bad params schema/,
  );
});

test('bind refuses a non-loopback endpoint without CURVE, before opening a socket', async () => {
  await assert.rejects(
    OpsServer.bind({ endpoint: 'tcp://0.0.0.0:5570', methods: makeMethods(), logger: silentLogger }),
    /refusing to bind tcp:\/\/0\.0\.0\.0:5570 without CURVE/,
  );
});
