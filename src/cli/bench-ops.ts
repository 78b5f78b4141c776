// `vlad bench ops`: the ops RPC's round trip while the control loop runs, and what serving it
// costs the loop. The daemon runs here in realtime on the simulated arm (the policy re-planning,
// one episode open); a separate client process sends `status` requests at a fixed rate over the
// ops socket and times each round trip. The loop's tick lateness is measured twice, with and
// without that load.
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { summarize } from '../core/index.js';
import { OpsClient } from '../io/zmq/index.js';
import { cpuTimes, stealPct } from './bench-control.js';
import { startBenchDaemon, type BenchDaemon } from './bench-daemon.js';

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
  const late: number[] = [];
  let misses = 0;
  let recording = false;
  let started: BenchDaemon | undefined;
  const phase = async (load: boolean): Promise<Record<string, unknown>> => {
    late.length = 0; misses = 0;
    let cpu0 = cpuTimes();
    let client: Promise<Record<string, unknown>> | undefined;
    if (load) {
      // The client runs in its own process: its own work must not load the daemon's event loop.
      // The loop is measured while the client counts (after its start-up).
      const main = fileURLToPath(new URL('./main.js', import.meta.url));
      const child = spawn(process.execPath, [main, 'bench', 'ops-client', '--ops', started!.ops, '--request-rate', String(o.requestRate), '--duration', String(o.durationS)], { stdio: ['ignore', 'pipe', 'inherit'] });
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
    started = await startBenchDaemon(work, { rateHz: o.rateHz, episodes: 'one open', overrides: { hw_profile: o.profile, ...(o.bundle ? { bundle: o.bundle } : {}) } });
    const daemon = started.daemon;
    daemon.stats.tickListener = (lateS, m) => { if (recording) { late.push(lateS * 1e3); misses += m; } };
    log(`bench ops: ${o.rateHz} Hz loop, policy re-planning; ${o.durationS} s quiet, then ${o.durationS} s with ${o.requestRate} status requests/s from another process`);
    const quiet = await phase(false);
    log(`  quiet: jitter ${JSON.stringify(quiet.jitter_ms)}`);
    const loaded = await phase(true);
    log(`  loaded: jitter ${JSON.stringify(loaded.jitter_ms)}, client ${JSON.stringify(loaded.client)}`);
    await started.stopEpisodes();
    return {
      rate_hz: o.rateHz, duration_s: o.durationS, request_rate: o.requestRate, transport: 'ipc (ZeroMQ ROUTER/DEALER, msgpack)',
      rtt_ms: (loaded.client as { rtt_ms: unknown }).rtt_ms, requests: (loaded.client as { requests: number }).requests, errors: (loaded.client as { errors: number }).errors,
      loop_quiet: { ...quiet }, loop_with_requests: { ...loaded, client: undefined },
      bundle: daemon.policy?.modelVersion,
      control_thread: daemon.realtimeReport.priority,
    };
  } finally {
    await started?.daemon.shutdown();
    await rm(work, { recursive: true, force: true });
  }
}
