// `vlad control jitter`: the real-timer control loop against an in-process kinematic robot and a
// synthetic planner that answers after a fixed latency (no simulator, no model). Measures what the
// loop alone achieves on this machine; the closed-loop `bench control` comes with the simulator.
import { parseArgs } from 'node:util';
import { summarize } from '../core/stats.js';
import type { ActionChunk, Observation } from '../core/contracts.js';
import { ControlLoop } from './loop.js';
import type { RobotDescription } from './limits.js';
import { systemClock, type JointCommand, type JointState, type RobotIO } from './types.js';
import { raiseThreadPriority } from '../core/priority.js';
import { CpuWake, isIdlePollMode } from '../core/cpu-wake.js';

const USAGE = 'usage: vlad control jitter [--rate HZ] [--duration S] [--latency-ms MS] [--timer-margin-ms MS] [--spin-ms MS] [--wait block|poll] [--fifo PRIO] [--idle-poll auto|on|off] [--json]';

export async function run(args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  if (sub !== 'jitter') {
    process.stderr.write(`${USAGE}\n`);
    return 2;
  }
  let values;
  try {
    ({ values } = parseArgs({
      args: rest,
      options: {
        rate: { type: 'string', default: '100' },
        duration: { type: 'string', default: '10' },
        'latency-ms': { type: 'string', default: '40' },
        'timer-margin-ms': { type: 'string' },
        'spin-ms': { type: 'string' },
        // The same machine habits as `vlad bench control`, so the two compare.
        wait: { type: 'string', default: 'block' },
        fifo: { type: 'string', default: '50' },
        'idle-poll': { type: 'string', default: 'auto' },
        json: { type: 'boolean', default: false },
      },
    }));
  } catch (err) {
    process.stderr.write(`vlad control jitter: ${(err as Error).message}\n${USAGE}\n`);
    return 2;
  }
  const num = (name: string, v: string | undefined, min: number, max: number): number => {
    const x = Number(v);
    if (!Number.isFinite(x) || x < min || x > max) throw new Error(`--${name} must be a number in [${min}, ${max}] (got '${v}')`);
    return x;
  };
  const rateHz = num('rate', values.rate, 1, 1000);
  const durationS = num('duration', values.duration, 0.1, 3600);
  const latencyMs = num('latency-ms', values['latency-ms'], 0, 10_000);
  const fifo = num('fifo', values.fifo, 0, 99);
  const wait = values.wait, idlePoll = values['idle-poll'];
  if (wait !== 'block' && wait !== 'poll') throw new Error(`--wait must be block or poll (got '${wait}')`);
  if (!isIdlePollMode(idlePoll)) throw new Error(`--idle-poll must be auto, on or off (got '${idlePoll}')`);
  const rk: { timerMarginS?: number; spinS?: number; block?: boolean } = { block: wait === 'block' };
  if (values['timer-margin-ms'] !== undefined) rk.timerMarginS = num('timer-margin-ms', values['timer-margin-ms'], 0, 100) / 1e3;
  if (values['spin-ms'] !== undefined) rk.spinS = num('spin-ms', values['spin-ms'], 0, 100) / 1e3;

  const joints = 7;
  const desc: RobotDescription = {
    name: 'jitter-bench',
    joints: Array.from({ length: joints }, (_, i) => ({ name: `joint${i + 1}`, position: { min: -2, max: 2 }, velocity: 2, acceleration: 20 })),
  };
  const q = new Float64Array(joints);
  const robot: RobotIO = {
    readState: (): JointState => ({ stampNs: systemClock.nowNs(), positions: q }),
    sendCommand: (cmd: JointCommand) => q.set(cmd.positions),
  };
  const observations = { latest: (): Observation => ({ stampNs: systemClock.nowNs(), images: {}, state: Float32Array.from(q), instruction: '' }) };
  const H = 50, dt = 0.02;
  const planner = {
    plan: (obs: Observation): Promise<ActionChunk> => new Promise((resolve) => setTimeout(() => {
      const t0 = Number(obs.stampNs) / 1e9;
      const actions = new Float32Array(H * joints);
      for (let i = 0; i < H; i++) for (let j = 0; j < joints; j++) actions[i * joints + j] = 0.5 * Math.sin(t0 + i * dt + j);
      resolve({ t0Ns: obs.stampNs, dt, horizon: H, actionDim: joints, actions, modelVersion: 'synthetic', adapterVersion: 'base', noiseSeed: 0, inferenceDelaySteps: 0 });
    }, latencyMs)),
  };
  const late: number[] = [];
  const logs: string[] = [];
  const loop = new ControlLoop({ rateHz, robot, robotDescription: desc, observations, planner, ratekeeper: rk, maxPlanWaitS: Math.max(1, (3 * latencyMs) / 1e3), log: (l) => logs.push(l), telemetry: {
    tick: (lateS) => late.push(lateS * 1e3), clamp() {}, watchdog() {}, queueDepth() {}, inferenceDelay() {}, inferenceStage() {}, chunk() {},
  } });
  if (!values.json) process.stderr.write(`control jitter: ${rateHz} Hz for ${durationS} s (synthetic planner, ${latencyMs} ms latency)\n`);
  const progress = values.json ? undefined : setInterval(() => process.stderr.write(`  ${late.length} ticks\n`), 2000);
  const cpuWake = await CpuWake.start({ idlePoll, dmaLatencyUs: 0 });
  const priority = raiseThreadPriority({ nice: -10, ...(fifo > 0 ? { fifo } : {}) });
  const timer = setTimeout(() => loop.stop(), durationS * 1e3);
  let acc;
  try {
    acc = await loop.run();
  } finally {
    clearTimeout(timer);
    await cpuWake.stop();
    if (progress) clearInterval(progress);
    loop.close();
  }
  const s = loop.snapshot();
  const j = summarize(late);
  const out = {
    rate_hz: rateHz,
    duration_s: durationS,
    ticks: acc.ticks,
    jitter_ms: { p50: j.p50, p99: j.p99, max: j.max, mean: j.mean },
    deadline_misses: acc.misses,
    skipped_steps: acc.skipped,
    late_tolerance_ms: acc.lateToleranceS * 1e3,
    chunks: s.chunksAccepted,
    inference_delay_steps: s.delays.length ? summarize(s.delays, 1) : null,
    mode: s.mode,
    watchdog_events: s.watchdogEvents,
    wait,
    control_thread: priority,
    cpu_wake: cpuWake.report,
  };
  process.stdout.write(values.json ? `${JSON.stringify(out)}\n` : `${JSON.stringify(out, null, 2)}\n`);
  return 0;
}
