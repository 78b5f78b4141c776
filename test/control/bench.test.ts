import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';

const cli = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const sh = promisify(execFile);

test('vlad bench control --json prints one object with the loop, planner, recorder and safety figures', async () => {
  const { stdout } = await sh(process.execPath, [cli, 'bench', 'control', '--rate', '100', '--duration', '1.5', '--json', '--no-priority'], { timeout: 120_000 });
  const lines = stdout.trim().split('\n');
  assert.equal(lines.length, 1, 'exactly one line on stdout');
  const out = JSON.parse(lines[0]!);
  assert.equal(out.rate_hz, 100);
  assert.ok(out.ticks > 50, `ticks ${out.ticks}`);
  for (const k of ['p50', 'p99', 'max']) assert.equal(typeof out.jitter_ms[k], 'number');
  assert.ok(out.jitter_ms.p50 <= out.jitter_ms.p99 && out.jitter_ms.p99 <= out.jitter_ms.max);
  assert.equal(typeof out.deadline_misses, 'number');
  assert.ok(out.planner.requests >= 1, 'the policy was asked to plan');
  assert.equal(out.recorder.cameras, 2);
  assert.ok(out.recorder.steps > 0 && typeof out.recorder.dropped_frames === 'number');
  assert.equal(typeof out.clamps.velocity, 'number');
  assert.ok(out.steps_by_source.policy > 0, 'the policy drove the measured run');
  assert.equal(out.watchdog_events.chunk_overdue ?? 0, 0, 'never starved while measured');
  assert.ok(Array.isArray(out.load_avg.start));
  assert.ok(out.recorder.repeated_images > 0, 'camera frames (30 Hz) repeat across 100 Hz steps and are not re-encoded');
  assert.equal(out.warm_up.ticks, 3000);
  assert.equal(out.misses_by_cause.event_loop_wake + out.misses_by_cause.final_wait, out.deadline_misses);
  // The cpu profile's realtime block, reported with what this machine made of it.
  assert.equal(out.cpu_wake.idle_poll.mode, 'auto');
  assert.equal(typeof out.cpu_wake.idle_poll.active, 'boolean');
  assert.equal(out.cpu_wake.dma_latency.requested_us, 0);
  assert.equal(typeof out.cpu_wake.machine.virtualized, 'boolean');
});

test('vlad bench control --output trajectory drives the sim arm through its JointTrajectoryController', async () => {
  const { stdout } = await sh(process.execPath, [cli, 'bench', 'control', '--rate', '100', '--duration', '1.5', '--output', 'trajectory', '--no-record', '--json', '--no-priority', '--idle-poll', 'off'], { timeout: 120_000 });
  const out = JSON.parse(stdout);
  assert.equal(out.output, 'trajectory');
  assert.deepEqual([out.cpu_wake.idle_poll.mode, out.cpu_wake.idle_poll.active, out.cpu_wake.idle_poll.spinners], ['off', false, 0]);
  assert.ok(out.planner.chunks >= 1);
  assert.ok(out.sim.trajectories_applied >= out.planner.chunks - 1, `trajectories ${out.sim.trajectories_applied} for ${out.planner.chunks} chunks`);
  assert.equal(out.sim.commands_applied, 0, 'no per-tick commands in trajectory mode');
  assert.equal(out.sim.trajectories_cut, 0);
});

test('vlad bench delay --json: a row per delay and method with d, smoothness and success', async () => {
  const { stdout } = await sh(process.execPath, [cli, 'bench', 'delay', '--delays', '0,100', '--methods', 'replace,rtc', '--tasks', 'touch', '--episodes', '1', '--smooth-episodes', '1', '--smooth-steps', '120', '--seed', '7', '--json'], { timeout: 180_000 });
  const out = JSON.parse(stdout);
  assert.equal(out.rate_hz, 50);
  assert.deepEqual(out.rows.map((r: { delay_ms: number; method: string }) => `${r.delay_ms}:${r.method}`), ['0:replace', '0:rtc', '100:replace', '100:rtc']);
  for (const r of out.rows) {
    assert.equal(r.delay_steps, r.delay_ms === 0 ? 1 : 5, `${r.delay_ms} ms at 50 Hz`);
    assert.ok(r.boundaries >= 1, 'at least one chunk boundary in 120 steps');
    assert.ok(r.boundary_jump_ratio_p50 <= r.boundary_jump_ratio_p90 && r.boundary_jump_ratio_p90 <= r.boundary_jump_ratio + 1e-9);
    assert.ok(r.success === 0 || r.success === 1, 'one touch episode');
    assert.match(r.success_by_task.touch, /^[01]\/1$/);
  }
});

test('vlad bench control rejects bad input with a clear message', async () => {
  await assert.rejects(sh(process.execPath, [cli, 'bench', 'control', '--rate', 'fast']), (err: { code: number; stderr: string }) => {
    assert.equal(err.code, 2);
    assert.match(err.stderr, /--rate: expected a number in \[1, 1000\], got 'fast'/);
    return true;
  });
  await assert.rejects(sh(process.execPath, [cli, 'bench', 'delay', '--methods', 'blend']), (err: { code: number; stderr: string }) => {
    assert.equal(err.code, 2);
    assert.match(err.stderr, /--methods: expected one of replace, ensemble, rtc, got 'blend'/);
    return true;
  });
  await assert.rejects(sh(process.execPath, [cli, 'bench', 'control', '--output', 'servo']), (err: { code: number; stderr: string }) => {
    assert.equal(err.code, 2);
    assert.match(err.stderr, /--output: expected one of forward, trajectory, got 'servo'/);
    return true;
  });
  await assert.rejects(sh(process.execPath, [cli, 'bench', 'control', '--idle-poll', 'always']), (err: { code: number; stderr: string }) => {
    assert.equal(err.code, 2);
    assert.match(err.stderr, /--idle-poll: expected one of auto, on, off, got 'always'/);
    return true;
  });
});
