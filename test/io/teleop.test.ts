import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Packr } from 'msgpackr';
import { TeleopReceiver, TeleopPublisher, decodeTeleopCommand, encodeTeleopCommand } from '../../src/io/zmq/index.js';

const silent = { warn: (): void => {} };
const limits = Array.from({ length: 7 }, () => [-3, 3] as const);

test('commands cross a real ipc socket in order and intact', async () => {
  const endpoint = `ipc://${join(tmpdir(), `vlad-teleop-test-${process.pid}.sock`)}`;
  const rx = await TeleopReceiver.bind({ endpoint, dim: 7, limits, logger: silent });
  const tx = await TeleopPublisher.connect(rx.endpoint, 'leader-arm');
  for (let i = 0; i < 20; i++) await tx.send([i / 10, 0, 0, 0, 0, 0, 0.04], i * 20e6);
  for (let i = 0; i < 20; i++) {
    const cmd = await rx.next(2000);
    assert.equal(cmd.seq, i);
    assert.equal(cmd.device, 'leader-arm');
    assert.ok(Math.abs(cmd.positions[0]! - i / 10) < 1e-12);
    assert.equal(cmd.stampNs, i * 20e6);
  }
  assert.deepEqual(rx.stats(), { accepted: 20, rejected: 0, dropped: 0, lastError: undefined });
  tx.close();
  await rx.close();
});

test('bad frames are rejected, counted and logged; good ones still pass', async () => {
  const logged: string[] = [];
  const rx = await TeleopReceiver.bind({ endpoint: 'tcp://127.0.0.1:*', dim: 7, limits, logger: { warn: (_o: unknown, msg?: string) => { logged.push(String(msg)); } } });
  const tx = await TeleopPublisher.connect(rx.endpoint);
  const packr = new Packr({ useRecords: false });
  await tx.sendRaw(Uint8Array.from([0xc1, 0xff, 0x00])); // not msgpack
  await tx.sendRaw(packr.pack([1, 2, 3])); // not a map
  await tx.sendRaw(packr.pack({ v: 2, kind: 'joint_targets', seq: 0, stamp_ns: 0, positions: [0, 0, 0, 0, 0, 0, 0] }));
  await tx.sendRaw(encodeTeleopCommand([0, 0, 0], 0, 0)); // wrong dim
  await tx.sendRaw(packr.pack({ v: 1, kind: 'joint_targets', seq: 0, stamp_ns: 0, positions: [0, 0, Number.NaN, 0, 0, 0, 0] }));
  await tx.sendRaw(encodeTeleopCommand([0, 9, 0, 0, 0, 0, 0], 1, 0)); // outside limits
  await tx.sendRaw(encodeTeleopCommand([0.5, 0, 0, 0, 0, 0, 0], 5, 0, 'op'));
  await tx.sendRaw(encodeTeleopCommand([0.6, 0, 0, 0, 0, 0, 0], 4, 0, 'op')); // out of order
  await tx.sendRaw(encodeTeleopCommand([0.7, 0, 0, 0, 0, 0, 0], 6, 0, 'op'));
  const first = await rx.next(2000);
  const second = await rx.next(2000);
  assert.equal(first.positions[0], 0.5);
  assert.equal(second.positions[0], 0.7);
  const stats = rx.stats();
  assert.equal(stats.accepted, 2);
  assert.equal(stats.rejected, 7);
  assert.equal(logged.length, 7);
  assert.match(logged.join('\n'), /not msgpack/);
  assert.match(logged.join('\n'), /positions\[2\]: not a finite number/);
  assert.match(logged.join('\n'), /seq 4 not after 5/);
  tx.close();
  await rx.close();
});

test('decode names the offending field', () => {
  const r = decodeTeleopCommand(encodeTeleopCommand([1, 2], 0, 0), 7);
  assert.equal(r.ok, false);
  assert.match((r as { error: string }).error, /field positions: expected 7 numbers, got 2/);
});

test('next() times out with a clear error when no device sends', async () => {
  const rx = await TeleopReceiver.bind({ endpoint: 'tcp://127.0.0.1:*', dim: 7, logger: silent });
  await assert.rejects(rx.next(50), /no teleop command/);
  await rx.close();
});

test('protocol v1 extensions: a perturbation flag, a release frame, and seq 0 restarting a device\'s stream', async () => {
  const rx = await TeleopReceiver.bind({ endpoint: 'tcp://127.0.0.1:*', dim: 7, logger: silent });
  const tx = await TeleopPublisher.connect(rx.endpoint, 'leader');
  await tx.send([0.1, 0, 0, 0, 0, 0, 0], 10, { perturbation: true });
  await tx.send([0.2, 0, 0, 0, 0, 0, 0], 20);
  await tx.release(30);
  const a = await rx.next(2000), b = await rx.next(2000), c = await rx.next(2000);
  assert.deepEqual([a.perturbation, a.release, b.perturbation, c.release, c.positions.length], [true, false, false, true, 0]);
  assert.deepEqual([a.seq, b.seq, c.seq], [0, 1, 2]);
  const restarted = await TeleopPublisher.connect(rx.endpoint, 'leader'); // the device came back: its seq starts at 0
  await restarted.send([0.3, 0, 0, 0, 0, 0, 0], 40);
  assert.equal((await rx.next(2000)).positions[0], 0.3);
  assert.deepEqual(decodeTeleopCommand(encodeTeleopCommand([0, 0, 0, 0, 0, 0, 0], 1, 0, 'x', true), 7), { ok: true, command: { seq: 1, stampNs: 0, positions: new Float64Array(7), device: 'x', perturbation: true, release: false } });
  assert.equal(rx.stats().rejected, 0);
  tx.close();
  restarted.close();
  await rx.close();
});
