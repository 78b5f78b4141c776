// `vlad bench ops`: the ops RPC's round trip while the control loop runs, and what serving it
// costs the loop. The daemon runs here in realtime on the simulated arm (the policy re-planning,
// one episode open); a separate client process sends `status` requests at a fixed rate over the
// ops socket and times each round trip. The loop's tick lateness is measured twice, with and
// without that load.
import { commandLogger } from '../core/index.js';
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { summarize } from '../core/index.js';
import { attachServing, Daemon, loadDaemonConfig } from '../daemon/index.js';
import { OpsClient } from '../io/zmq/index.js';
import { cpuTimes, stealPct } from './bench-control.js';

export interface OpsBenchOptions { rateHz: number; durationS: number; requestRate: number; profile: string; bundle?: string | undefined; progress?: (line: string) => void }

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Seconds the load generator runs before it measures: its own start-up (JIT, first connect) is not the steady state. */
export const OPS_LOAD_WARM_UP_S = 1;

/**
 * The load generator (its own process): `requestRate` status calls a second, each timed; the
 * first OPS_LOAD_WARM_UP_S seconds are sent but not counted. Prints READY when it starts counting.
 */
export async function opsLoad(endpoint: string, requestRate: number, durationS: number, onCounting: () => void = () => undefined): Promise<{ rtt_ms: ReturnType<typeof summarize> | null; requests: number; errors: number }> {
  const client = await OpsClient.connect(endpoint, { timeoutMs: 2000 });
  const rtt: number[] = [];
  let errors = 0;
  const periodMs = 1000 / requestRate;
  const start = performance.now();
  const countFrom = start + OPS_LOAD_WARM_UP_S * 1000;
  let counting = false;
  const pending: Promise<void>[] = [];
  for (let k = 0; performance.now() - countFrom < durationS * 1000; k++) {
    const due = start + k * periodMs;
    const wait = due - performance.now();
    if (wait > 0) await sleep(wait);
    const t0 = performance.now();
    if (!counting && t0 >= countFrom) { counting = true; onCounting(); }
    const counted = counting;
    pending.push(client.call('status', {}).then(() => { if (counted) rtt.push(performance.now() - t0); }, () => { if (counted) errors++; }));
  }
  await Promise.all(pending);
  await client.close();
  return { rtt_ms: rtt.length ? summarize(rtt, 3) : null, requests: rtt.length + errors, errors };
}

export async function benchOps(o: OpsBenchOptions): Promise<Record<string, unknown>> {
  const log = o.progress ?? (() => undefined);
  const work = await mkdtemp(join(tmpdir(), 'vlad-bench-ops-'));
  const endpoint = `ipc://${join(work, 'ops.sock')}`;
  const config = await loadDaemonConfig({ overrides: {
    robot: 'sim', hw_profile: o.profile, mode: 'autonomous', ops: { endpoint, telemetry_endpoint: `ipc://${join(work, 'telemetry.sock')}` }, teleop: { endpoint: `ipc://${join(work, 'teleop.sock')}` },
    sim: { clock: 'realtime', physics_dt: 0.004, camera_hz: 30 }, ...(o.bundle ? { bundle: o.bundle } : {}),
  } });
  const daemon = new Daemon({ config, log: commandLogger(), serve: true, rateHz: o.rateHz });
  attachServing(daemon, config.params, daemon.log, () => undefined);
  const late: number[] = [];
  let misses = 0;
  let recording = false;
  daemon.stats.tickListener = (lateS, m) => { if (recording) { late.push(lateS * 1e3); misses += m; } };
  const phase = async (load: boolean): Promise<Record<string, unknown>> => {
    late.length = 0; misses = 0;
    let cpu0 = cpuTimes();
    let client: Promise<Record<string, unknown>> | undefined;
    if (load) {
      // The client runs in its own process: its own work must not load the daemon's event loop.
      // The loop is measured while the client counts (after its start-up).
      const main = fileURLToPath(new URL('./main.js', import.meta.url));
      const child = spawn(process.execPath, [main, 'bench', 'ops-client', '--ops', endpoint, '--request-rate', String(o.requestRate), '--duration', String(o.durationS)], { stdio: ['ignore', 'pipe', 'inherit'] });
      let out = '';
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        if (!recording && out.includes('COUNTING\n')) { cpu0 = cpuTimes(); recording = true; }
      });
      client = new Promise((resolve, reject) => child.on('exit', (code) => (code === 0 ? resolve(JSON.parse(out.slice(out.indexOf('COUNTING\n') + 9)) as Record<string, unknown>) : reject(new Error(`ops client exited ${code}`)))));
      await client;
    } else {
      recording = true;
      await sleep(o.durationS * 1000);
    }
    recording = false;
    const j = late.length ? summarize(late, 4) : null;
    return { ticks: late.length, jitter_ms: j && { p50: j.p50, p99: j.p99, max: j.max, mean: j.mean }, deadline_misses: misses, cpu_steal_pct: stealPct(cpu0, cpuTimes()), ...(client ? { client: await client } : {}) };
  };
  try {
    await daemon.serveOnly();
    await daemon.start();
    await daemon.startEpisode({ instruction: 'pick up the red cube' });
    while (daemon.controlLoop!.state !== 'run') await sleep(5);
    log(`bench ops: ${o.rateHz} Hz loop, policy re-planning; ${o.durationS} s quiet, then ${o.durationS} s with ${o.requestRate} status requests/s from another process`);
    const quiet = await phase(false);
    log(`  quiet: jitter ${JSON.stringify(quiet.jitter_ms)}`);
    const loaded = await phase(true);
    log(`  loaded: jitter ${JSON.stringify(loaded.jitter_ms)}, client ${JSON.stringify(loaded.client)}`);
    await daemon.stopEpisode(false);
    return {
      rate_hz: o.rateHz, duration_s: o.durationS, request_rate: o.requestRate, transport: 'ipc (ZeroMQ ROUTER/DEALER, msgpack)',
      rtt_ms: (loaded.client as { rtt_ms: unknown }).rtt_ms, requests: (loaded.client as { requests: number }).requests, errors: (loaded.client as { errors: number }).errors,
      loop_quiet: { ...quiet }, loop_with_requests: { ...loaded, client: undefined },
      bundle: daemon.policy?.modelVersion,
      control_thread: daemon.realtimeReport.priority,
    };
  } finally {
    await daemon.shutdown();
    await rm(work, { recursive: true, force: true });
  }
}
