import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ComputeScheduler } from '../../src/sched/index.js';

const tick = () => new Promise<void>((r) => setImmediate(r));

test('scheduler: control first, peers\' serving next, then recording, training last', async () => {
  const s = new ComputeScheduler(1);
  const order: string[] = [];
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  // Occupy the machine, then queue work of every class in the worst order.
  const busy = s.run('recording', async () => { await gate; order.push('busy'); });
  const jobs = [
    s.run('training', () => { order.push('train1'); }),
    s.run('recording', () => { order.push('rec1'); }),
    s.run('training', () => { order.push('train2'); }),
    s.run('control', () => { order.push('ctl1'); }),
    s.run('recording', () => { order.push('rec2'); }),
    s.serving(() => { order.push('serve1'); }),
    s.run('control', () => { order.push('ctl2'); }),
  ];
  release();
  await Promise.all([busy, ...jobs]);
  assert.deepEqual(order, ['busy', 'ctl1', 'ctl2', 'serve1', 'rec1', 'rec2', 'train1', 'train2']);
  assert.deepEqual(s.completed, { control: 2, serving: 1, recording: 3, background: 0, training: 2 });
});

test('scheduler: training in small steps yields within one step when control asks', async () => {
  const s = new ComputeScheduler(1);
  const log: string[] = [];
  let stepsRun = 0;
  let controlAskedAt = -1;
  let sawAbort = false;
  const training = s.runTraining(async ({ signal, step }) => {
    log.push(`train${step}`);
    stepsRun++;
    if (step === 3) {
      // Control asks while training step 3 runs.
      controlAskedAt = step;
      void s.control(async () => { log.push('control'); });
      void s.recording(async () => { log.push('record'); });
    }
    await tick();
    if (step === 3) sawAbort = signal.aborted;
    return step < 7;
  });
  const result = await training;
  assert.equal(controlAskedAt, 3);
  assert.ok(sawAbort, 'the running step was told to wrap up');
  assert.deepEqual(log.slice(0, 6), ['train0', 'train1', 'train2', 'train3', 'control', 'record'], 'control ran right after the step in progress');
  assert.equal(result.stoppedBy, 'done');
  assert.equal(result.steps, 8);
  assert.equal(stepsRun, 8);
  assert.ok(result.yielded >= 1);
});

test('scheduler: a training pass stops at maxSteps or on abort', async () => {
  const s = new ComputeScheduler(1);
  assert.deepEqual(await s.runTraining(() => true, { maxSteps: 5 }), { steps: 5, yielded: 0, stoppedBy: 'maxSteps' });
  const ac = new AbortController();
  const r = await s.runTraining(({ step }) => { if (step === 2) ac.abort(); return true; }, { signal: ac.signal });
  assert.deepEqual(r, { steps: 3, yielded: 0, stoppedBy: 'abort' });
});

test('scheduler: errors reach the caller and do not stall the queue', async () => {
  const s = new ComputeScheduler(1);
  await assert.rejects(s.run('control', async () => { throw new Error('inference failed'); }), /inference failed/);
  assert.equal(await s.run('recording', () => 42), 42);
});
