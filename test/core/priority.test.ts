// The control thread's real-time priority is its own: threads it creates afterwards (a shadow
// model's worker during a swap, ORT's pool threads, a recorder) must not inherit SCHED_FIFO, or
// they run at the control thread's own priority, which FIFO never preempts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { Worker } from 'node:worker_threads';
import { getPriority } from 'node:os';
import { raiseThreadPriority, resetThreadPriority, schedPolicy, threadId } from '../../src/core/priority.js';

const SCHED_OTHER = 0, SCHED_FIFO = 1;

test('raiseThreadPriority: the caller runs SCHED_FIFO; a worker it starts afterwards runs SCHED_OTHER at nice 0', async (t) => {
  const raised = raiseThreadPriority({ nice: -10, fifo: 50 });
  t.after(() => resetThreadPriority());
  if (raised.fifo === null) {
    // Unprivileged (no CAP_SYS_NICE) or no chrt: nothing to inherit; the result says why.
    assert.match(raised.error ?? '', /SCHED_FIFO|not Linux/);
    t.skip(`SCHED_FIFO not granted here: ${raised.error}`);
    return;
  }
  assert.equal(schedPolicy(raised.tid!), SCHED_FIFO);
  assert.equal(raised.nice, -10);
  const worker = new Worker(`
    const { parentPort } = require('node:worker_threads');
    const { readlinkSync } = require('node:fs');
    parentPort.postMessage(Number(readlinkSync('/proc/thread-self').split('/').pop()));
    parentPort.once('message', () => process.exit(0));
  `, { eval: true });
  t.after(() => worker.terminate());
  const [tid] = await once(worker, 'message') as [number];
  assert.notEqual(tid, threadId());
  assert.equal(schedPolicy(tid), SCHED_OTHER, 'the worker did not inherit SCHED_FIFO');
  assert.equal(getPriority(tid), 0, 'nor the negative nice');
  worker.postMessage('done');
  await once(worker, 'exit');
  assert.equal(schedPolicy(raised.tid!), SCHED_FIFO, 'the caller keeps its own');
});
