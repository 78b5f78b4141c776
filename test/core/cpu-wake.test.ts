import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CpuWake, decideIdlePoll } from '../../src/core/cpu-wake.js';
import { SCHED_IDLE, schedPolicy } from '../../src/core/priority.js';

const cpuTicks = (tid: number): number => {
  const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(f[14 - 3]) + Number(f[15 - 3]); // utime + stime
};

test('idle polling: auto spins only in a VM without a cpuidle driver; on and off are obeyed', () => {
  assert.equal(decideIdlePoll('auto', { virtualized: true, cpuidleDriver: 'none' }).spin, true);
  assert.equal(decideIdlePoll('auto', { virtualized: true, cpuidleDriver: null }).spin, true);
  assert.equal(decideIdlePoll('auto', { virtualized: true, cpuidleDriver: 'haltpoll' }).spin, false);
  assert.equal(decideIdlePoll('auto', { virtualized: false, cpuidleDriver: 'none' }).spin, false);
  assert.equal(decideIdlePoll('on', { virtualized: false, cpuidleDriver: 'intel_idle' }).spin, true);
  assert.equal(decideIdlePoll('off', { virtualized: true, cpuidleDriver: 'none' }).spin, false);
  assert.match(decideIdlePoll('auto', { virtualized: true, cpuidleDriver: 'none' }).reason, /without a cpuidle driver/);
});

test('idle polling: the spinners run at SCHED_IDLE, burn CPU only while started, and stop', { skip: process.platform !== 'linux' }, async () => {
  const wake = await CpuWake.start({ idlePoll: 'on', dmaLatencyUs: null, spinners: 2 });
  try {
    if (!wake.report.idle_poll.active) {
      // Unprivileged or no chrt: refused as a whole, and nothing spins at normal priority.
      assert.ok(wake.report.idle_poll.error, 'a refusal says why');
      assert.equal(wake.spinnerTids.length, 0);
      return;
    }
    const tids = [...wake.spinnerTids];
    assert.equal(tids.length, 2);
    assert.equal(wake.report.idle_poll.spinners, 2);
    for (const tid of tids) assert.equal(schedPolicy(tid), SCHED_IDLE, `spinner ${tid} is SCHED_IDLE`);
    const before = tids.map(cpuTicks);
    await new Promise((r) => setTimeout(r, 300));
    const after = tids.map(cpuTicks);
    assert.ok(after.some((t, i) => t > before[i]!), 'the spinners are running');
    await wake.stop();
    for (const tid of tids) assert.equal(schedPolicy(tid), null, `spinner ${tid} has exited`);
  } finally {
    await wake.stop();
  }
});

test('PM QoS: the latency request is written as a 32-bit integer and held open; a missing device is reported, not thrown', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vlad-qos-'));
  try {
    const path = join(dir, 'cpu_dma_latency');
    writeFileSync(path, '');
    const held = await CpuWake.start({ idlePoll: 'off', dmaLatencyUs: 7, dmaLatencyPath: path });
    assert.equal(held.report.dma_latency.held, true);
    assert.deepEqual([...readFileSync(path)], [7, 0, 0, 0]);
    assert.equal(held.report.idle_poll.active, false);
    await held.stop();
    const missing = await CpuWake.start({ idlePoll: 'off', dmaLatencyUs: 0, dmaLatencyPath: join(dir, 'nope', 'cpu_dma_latency') });
    assert.equal(missing.report.dma_latency.held, false);
    assert.match(missing.report.dma_latency.error ?? '', /ENOENT/);
    await missing.stop();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
