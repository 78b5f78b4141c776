import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { Packr } from 'msgpackr';
import { Publisher } from 'zeromq';
import { silentLogger } from '../../src/core/log.js';
import { TelemetryPublisher, TelemetrySubscriber, type TelemetryMessage } from '../../src/io/zmq/index.js';

function closeAfter<T extends { close(): unknown }>(t: TestContext, item: T): T {
  t.after(async () => { await item.close(); });
  return item;
}

/**
 * PUB/SUB has a slow joiner: a subscriber misses what was published before its subscription
 * reached the publisher. Publish with `send` on a short interval until `sub` yields something.
 */
async function firstWhilePublishing(sub: TelemetrySubscriber, send: () => void): Promise<TelemetryMessage> {
  send();
  const timer = setInterval(send, 20);
  try {
    return await sub.next(10_000);
  } finally {
    clearInterval(timer);
  }
}

test('a subscriber receives status and chunk messages with their bodies, and only the topics it asked for', async (t) => {
  const pub = closeAfter(t, await TelemetryPublisher.bind({ endpoint: 'tcp://127.0.0.1:*', logger: silentLogger }));
  assert.match(pub.endpoint, /^tcp:\/\/127\.0\.0\.1:\d+$/);
  const sub = closeAfter(t, await TelemetrySubscriber.connect(pub.endpoint, { topics: ['status', 'chunk'], logger: silentLogger }));
  let seq = 0;
  const first = await firstWhilePublishing(sub, () => { pub.publish('status', { seq: seq++, state: 'running' }); });
  assert.equal(first.topic, 'status');
  // Drain the warm-up messages (publishing has stopped, so this ends).
  while (await sub.next(300).then(() => true, () => false));

  const chunk = { step: 3, actions: [0.5, -0.25, 1], dt: 0.02, meta: { model: 'vlad-base-flow', stale: false, note: null } };
  assert.equal(pub.publish('statusx', { ignored: true }), true); // prefix of no interest: filtered out here
  assert.equal(pub.publish('other', { ignored: true }), true);
  assert.equal(pub.publish('chunk', chunk), true);
  assert.equal(pub.publish('status', { seq: 1000, state: 'paused' }), true);
  assert.deepEqual(await sub.next(5000), { topic: 'chunk', body: chunk });
  assert.deepEqual(await sub.next(5000), { topic: 'status', body: { seq: 1000, state: 'paused' } });
  await assert.rejects(sub.next(300), /no telemetry from tcp:\/\/127\.0\.0\.1:\d+ within 300 ms/);
  assert.equal(pub.stats().dropped, 0);
  assert.equal(sub.stats().rejected, 0);
});

test('publish never blocks or throws: no subscriber, bad topic, unencodable body, after close', async (t) => {
  const pub = closeAfter(t, await TelemetryPublisher.bind({ endpoint: 'tcp://127.0.0.1:*', logger: silentLogger, sendHighWaterMark: 10 }));
  // Nobody listens: PUB drops inside libzmq, the caller goes on.
  for (let i = 0; i < 5000; i++) assert.equal(pub.publish('status', { i }), true);
  assert.equal(pub.publish('', {}), false);
  assert.equal(pub.publish('x'.repeat(200), {}), false);
  assert.equal(pub.publish('status', { big: 2n ** 70n }), false);
  assert.deepEqual(pub.stats(), { published: 5000, dropped: 0, rejected: 3 });
  await pub.close();
  assert.equal(pub.publish('status', {}), false);
  assert.equal(pub.stats().dropped, 1);
});

test('the subscriber rejects malformed messages, counts them, and keeps receiving', async (t) => {
  const raw = closeAfter(t, new Publisher({ linger: 0 }));
  await raw.bind('tcp://127.0.0.1:*');
  const sub = closeAfter(t, await TelemetrySubscriber.connect(raw.lastEndpoint!, { logger: silentLogger }));
  const packr = new Packr({ useRecords: false });
  // Warm up until the subscription is through (any valid message).
  await firstWhilePublishing(sub, () => { void raw.send(['warmup', packr.pack(0)]); });
  while (await sub.next(300).then(() => true, () => false));
  await raw.send(['status']); // one frame
  await raw.send(['status', Uint8Array.from([0xc1, 0xff, 0x00])]); // not msgpack
  await raw.send(['status', packr.pack({ ok: 1 }), 'extra']);
  await raw.send(['status', packr.pack({ ok: 2 })]);
  assert.deepEqual(await sub.next(5000), { topic: 'status', body: { ok: 2 } });
  assert.equal(sub.stats().rejected, 3);
});

test('the subscriber is an async iterator that ends on close', async (t) => {
  const pub = closeAfter(t, await TelemetryPublisher.bind({ endpoint: 'tcp://127.0.0.1:*', logger: silentLogger }));
  const sub = closeAfter(t, await TelemetrySubscriber.connect(pub.endpoint, { topics: ['chunk'], logger: silentLogger }));
  await firstWhilePublishing(sub, () => { pub.publish('chunk', { warmup: true }); });
  while (await sub.next(300).then(() => true, () => false));
  const got: unknown[] = [];
  const reading = (async () => {
    for await (const m of sub) {
      got.push(m.body);
      if (got.length === 3) void sub.close();
    }
  })();
  for (let i = 0; i < 3; i++) pub.publish('chunk', { i });
  await reading;
  assert.deepEqual(got, [{ i: 0 }, { i: 1 }, { i: 2 }]);
  await assert.rejects(sub.next(10), /closed/);
});
