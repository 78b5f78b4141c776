import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { Router } from 'zeromq';
import { createLogger, silentLogger } from '../../src/core/log.js';
import {
  OpsServer, OpsClient, OpsCallError, TelemetryPublisher, TelemetrySubscriber,
  isLoopbackEndpoint, checkBindSecurity, derivePublicKey, generateKeyPair, writeKeyPair, readKeyFile, readKeyPair,
  registerZapAllowlist, z85Decode, z85Encode, SecurityConfigError, ZAP_ENDPOINT,
  type ServerCurve, type ClientCurve, type OpsMethods,
} from '../../src/io/zmq/index.js';

function closeAfter<T extends { close(): unknown }>(t: TestContext, item: T): T {
  t.after(async () => { await item.close(); });
  return item;
}

const methods: OpsMethods = { status: { params: { type: 'object' }, handler: () => ({ state: 'idle' }) } };

test('isLoopbackEndpoint: only this machine can reach loopback, ipc and inproc', () => {
  const local = [
    'ipc:///run/vlad/ops.sock', 'ipc://@vlad-abstract', 'inproc://ops', 'tcp://127.0.0.1:5570', 'tcp://127.0.0.1:*',
    'tcp://127.1.2.3:5570', 'tcp://127.255.255.255:1', 'tcp://[::1]:5570', 'tcp://[::1]:*', 'tcp://localhost:5570', 'tcp://LocalHost:5570',
  ];
  const remote = [
    'tcp://0.0.0.0:5570', 'tcp://*:5570', 'tcp://192.168.1.5:5570', 'tcp://eth0:5570', 'tcp://lo:5570', 'tcp://10.0.0.1:5570',
    'tcp://[::]:5570', 'tcp://[fe80::1]:5570', 'tcp://128.0.0.1:5570', 'tcp://127.0.0.256:5570', 'tcp://127.0.0.1', 'tcp://127.0.0.1:abc',
    'tcp://127.0.0.1.evil.example:5570', 'tcp://localhost.evil.example:5570', 'tcp://eth0;127.0.0.1:5570', 'udp://127.0.0.1:5570',
    'ws://127.0.0.1:5570', 'pgm://eth0;239.192.1.1:5555', '127.0.0.1:5570', '',
  ];
  for (const e of local) assert.equal(isLoopbackEndpoint(e), true, e);
  for (const e of remote) assert.equal(isLoopbackEndpoint(e), false, e);
});

function serverCurve(allowed: string[]): ServerCurve {
  const kp = generateKeyPair();
  return { ...kp, allowedClients: allowed };
}

test('checkBindSecurity refuses reachable endpoints without CURVE and names what to configure', () => {
  for (const e of ['tcp://0.0.0.0:5570', 'tcp://*:5571', 'tcp://192.168.1.5:5570', 'tcp://eth0:5570']) {
    assert.throws(() => checkBindSecurity(e, undefined), (err: unknown) => {
      assert.ok(err instanceof SecurityConfigError);
      assert.ok(err.message.includes(e), err.message);
      assert.match(err.message, /CURVE/);
      assert.match(err.message, /allowedClients/);
      assert.match(err.message, /127\.0\.0\.1/);
      return true;
    });
  }
  for (const e of ['tcp://127.0.0.1:5570', 'tcp://[::1]:5570', 'tcp://localhost:5570', 'ipc:///tmp/x.sock']) checkBindSecurity(e, undefined);
  const client = generateKeyPair();
  checkBindSecurity('tcp://0.0.0.0:5570', serverCurve([client.publicKey]));
});

test('CURVE configs are validated field by field, never echoing a secret key', () => {
  const client = generateKeyPair();
  const good = serverCurve([client.publicKey]);
  const cases: [Partial<ServerCurve>, RegExp][] = [
    [{ secretKey: good.secretKey.slice(0, 39) }, /curve\.secretKey: expected a Z85 CURVE key of 40 characters, got 39/],
    [{ secretKey: `${good.secretKey.slice(0, 39)}~` }, /curve\.secretKey: not a valid Z85 key/],
    [{ publicKey: client.publicKey }, /curve: publicKey does not belong to secretKey/],
    [{ allowedClients: [] }, /curve\.allowedClients: empty/],
    [{ allowedClients: [client.publicKey, 'short'] }, /curve\.allowedClients\[1\]: expected a Z85 CURVE key of 40 characters/],
  ];
  for (const [patch, re] of cases) {
    assert.throws(() => checkBindSecurity('tcp://0.0.0.0:5570', { ...good, ...patch }), (err: unknown) => {
      assert.ok(err instanceof SecurityConfigError);
      assert.match(err.message, re);
      assert.ok(!err.message.includes(good.secretKey.slice(0, 20)), 'secret key in the message');
      return true;
    });
  }
});

test('Z85 and key derivation agree with libzmq', () => {
  for (let i = 0; i < 20; i++) {
    const kp = generateKeyPair();
    assert.equal(derivePublicKey(kp.secretKey), kp.publicKey);
    assert.equal(z85Encode(z85Decode(kp.publicKey)!), kp.publicKey);
  }
  // RFC 32's test vector.
  assert.equal(z85Encode(Uint8Array.from([0x86, 0x4f, 0xd2, 0x6f, 0xb5, 0x59, 0xf7, 0x5b])), 'HelloWorld');
  assert.equal(z85Decode('#####'), undefined); // past 2^32 - 1
});

test('key files: written 0600/0644, read back, and a secret key open to others is refused', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'vlad-keys-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const written = await writeKeyPair(join(dir, 'keys'), 'daemon');
  assert.equal((await stat(written.secretPath)).mode & 0o777, 0o600);
  assert.equal((await stat(written.publicPath)).mode & 0o777, 0o644);
  assert.equal(await readKeyFile(written.secretPath), written.secretKey);
  assert.equal(await readKeyFile(written.publicPath), written.publicKey);
  assert.deepEqual(await readKeyPair(join(dir, 'keys'), 'daemon'), { publicKey: written.publicKey, secretKey: written.secretKey });
  await assert.rejects(writeKeyPair(join(dir, 'keys'), 'daemon'), /already exists/);

  await chmod(written.secretPath, 0o644);
  await assert.rejects(readKeyFile(written.secretPath), (err: unknown) => {
    assert.ok(err instanceof SecurityConfigError);
    assert.match(err.message, /mode 0644/);
    assert.match(err.message, /chmod 600/);
    assert.ok(!err.message.includes(written.secretKey));
    return true;
  });
  await chmod(written.secretPath, 0o640);
  await assert.rejects(readKeyFile(written.secretPath), /mode 0640/);
});

/** Everything logged, as text, to check that no secret key ever reaches a log. */
function capturingLogger(): { logger: ReturnType<typeof createLogger>; text: () => string } {
  const chunks: string[] = [];
  const destination = new Writable({ write(chunk: Buffer, _enc, done) { chunks.push(chunk.toString()); done(); } });
  return { logger: createLogger({ level: 'debug', pretty: false, destination }), text: () => chunks.join('') };
}

test('CURVE on 127.0.0.1: allowed clients get replies and telemetry; other keys and plain clients get nothing', async (t) => {
  const alice = generateKeyPair();
  const mallory = generateKeyPair();
  const curve = serverCurve([alice.publicKey]);
  const log = capturingLogger();
  const ops = closeAfter(t, await OpsServer.bind({ endpoint: 'tcp://127.0.0.1:*', methods, security: curve, logger: log.logger }));
  // A second server in the same domain shares the one ZAP handler.
  const pub = closeAfter(t, await TelemetryPublisher.bind({ endpoint: 'tcp://127.0.0.1:*', security: curve, logger: log.logger }));
  const asAlice: ClientCurve = { serverPublicKey: curve.publicKey, ...alice };

  const good = closeAfter(t, await OpsClient.connect(ops.endpoint, { security: asAlice }));
  assert.deepEqual(await good.call('status'), { state: 'idle' });

  const bad = closeAfter(t, await OpsClient.connect(ops.endpoint, { security: { serverPublicKey: curve.publicKey, ...mallory } }));
  await assert.rejects(bad.call('status', {}, { timeoutMs: 400 }), (err: unknown) => err instanceof OpsCallError && err.code === 'timeout');
  const plain = closeAfter(t, await OpsClient.connect(ops.endpoint));
  await assert.rejects(plain.call('status', {}, { timeoutMs: 400 }), (err: unknown) => err instanceof OpsCallError && err.code === 'timeout');
  assert.equal(ops.stats().requests, 1); // only alice's request reached the server

  // Sockets without CURVE in the same process (a loopback server, teleop) never consult the handler.
  const open = closeAfter(t, await OpsServer.bind({ endpoint: 'tcp://127.0.0.1:*', methods, logger: silentLogger }));
  const openClient = closeAfter(t, await OpsClient.connect(open.endpoint));
  assert.deepEqual(await openClient.call('status'), { state: 'idle' });

  const sub = closeAfter(t, await TelemetrySubscriber.connect(pub.endpoint, { topics: ['status'], security: asAlice, logger: silentLogger }));
  const timer = setInterval(() => pub.publish('status', { state: 'idle' }), 20);
  try {
    assert.deepEqual(await sub.next(10_000), { topic: 'status', body: { state: 'idle' } });
  } finally {
    clearInterval(timer);
  }

  // Releasing one server keeps the handler for the other.
  await ops.close();
  const sub2 = closeAfter(t, await TelemetrySubscriber.connect(pub.endpoint, { topics: ['status'], security: asAlice, logger: silentLogger }));
  const timer2 = setInterval(() => pub.publish('status', { state: 'still' }), 20);
  try {
    assert.deepEqual(await sub2.next(10_000), { topic: 'status', body: { state: 'still' } });
  } finally {
    clearInterval(timer2);
  }

  const text = log.text();
  assert.match(text, /public key not in the allowlist/);
  assert.ok(text.includes(mallory.publicKey), 'the refused public key is logged');
  for (const secret of [curve.secretKey, alice.secretKey, mallory.secretKey]) assert.ok(!text.includes(secret), 'a secret key was logged');
});

/** Binds the ZAP address itself: possible only once no handler holds it. libzmq frees an inproc
 * address in its reaper thread shortly after close(), hence the brief retry on EADDRINUSE. */
async function assertZapAddressFree(): Promise<void> {
  const probe = new Router({ linger: 0 });
  try {
    for (let attempt = 0; ; attempt++) {
      try {
        await probe.bind(ZAP_ENDPOINT);
        break;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE' || attempt >= 200) throw err;
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    }
    await probe.unbind(ZAP_ENDPOINT); // no receive loop on the probe, so unbinding is safe
  } finally {
    probe.close();
  }
}

test('the ZAP handler is released with the last server and started again for the next', async (t) => {
  const alice = generateKeyPair();
  const asAlice = (c: ServerCurve): ClientCurve => ({ serverPublicKey: c.publicKey, ...alice });
  for (let round = 0; round < 2; round++) {
    const curve = serverCurve([alice.publicKey]);
    const ops = await OpsServer.bind({ endpoint: 'tcp://127.0.0.1:*', methods, security: curve, logger: silentLogger });
    const client = await OpsClient.connect(ops.endpoint, { security: asAlice(curve) });
    try {
      assert.deepEqual(await client.call('status'), { state: 'idle' });
    } finally {
      await client.close();
      await ops.close();
    }
    // With the last server gone the handler has let go of its address.
    await assertZapAddressFree();
  }
  // Separate domains keep separate allowlists.
  const bob = generateKeyPair();
  const a = closeAfter(t, await OpsServer.bind({ endpoint: 'tcp://127.0.0.1:*', methods, security: { ...serverCurve([alice.publicKey]), zapDomain: 'a' }, logger: silentLogger }));
  const bCurve = { ...serverCurve([bob.publicKey]), zapDomain: 'b' };
  const b = closeAfter(t, await OpsServer.bind({ endpoint: 'tcp://127.0.0.1:*', methods, security: bCurve, logger: silentLogger }));
  const aliceOnB = closeAfter(t, await OpsClient.connect(b.endpoint, { security: asAlice(bCurve) }));
  await assert.rejects(aliceOnB.call('status', {}, { timeoutMs: 400 }), (err: unknown) => err instanceof OpsCallError && err.code === 'timeout');
  const bobOnB = closeAfter(t, await OpsClient.connect(b.endpoint, { security: { serverPublicKey: bCurve.publicKey, ...bob } }));
  assert.deepEqual(await bobOnB.call('status'), { state: 'idle' });
  assert.ok(a.endpoint);
  const reg = await registerZapAllowlist('b', [bob.publicKey], silentLogger);
  assert.ok(reg.stats().denied >= 1);
  assert.ok(reg.stats().allowed >= 1);
  await reg.release();
});
