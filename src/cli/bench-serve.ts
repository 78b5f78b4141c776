// `vlad bench serve`: what serving the peers' protocols costs. The daemon runs here in realtime on
// the simulated arm with the GR00T service and the openpi server on; a client process sends
// observations at the bundle's image sizes (1 or 4 concurrent clients) and times each round trip,
// and the same observation through the in-process `PolicyEngine.infer` gives the baseline, in the
// same run: the protocols' overhead as a ratio. Then the same while the control loop drives the arm
// (the policy re-planning in its lane first), with the loop's jitter in both phases.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Request } from 'zeromq';
import WebSocket from 'ws';
import { commandLogger, summarize, type Observation } from '../core/index.js';
import { Daemon, loadDaemonConfig } from '../daemon/index.js';
import { decodeFrame, encodeFrame, float32Array, isMap, toGr00tArray, toOpenpiArray, type NdArray } from '../io/wire/index.js';
import { cpuTimes, stealPct } from './bench-control.js';

export interface ServeBenchOptions { requests: number; rateHz: number; profile: string; bundle?: string | undefined; progress?: (line: string) => void }

type Stats = ReturnType<typeof summarize> | null;
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const stats = (xs: number[]): Stats => (xs.length ? summarize(xs, 3) : null);

/** The bench's observation: the bundle's cameras (uint8 HWC), its state, one instruction. */
function sampleInputs(cameras: { name: string; width: number; height: number }[], stateDim: number) {
  const images = Object.fromEntries(cameras.map((c, k) => [c.name, Uint8Array.from({ length: c.width * c.height * 3 }, (_, i) => (i * (7 + k)) % 251)]));
  const state = Float32Array.from({ length: stateDim }, (_, i) => 0.1 * i);
  return { images, state, instruction: 'pick up the red cube' };
}

const u8 = (data: Uint8Array, shape: number[]): NdArray => ({ dtype: '|u1', shape, data });

/** Round trips each client makes before it counts (its connection, JIT, the first inferences). */
export const SERVE_WARM_UP = 5;

/**
 * The load generator (its own process): `clients` concurrent clients, `requests` counted round
 * trips each after SERVE_WARM_UP uncounted ones; `onCounting` once every client counts.
 */
export async function serveLoad(protocol: 'gr00t' | 'openpi', endpoint: string, clients: number, requests: number, spec: { cameras: { name: string; width: number; height: number }[]; stateDim: number }, onCounting: () => void = () => undefined): Promise<{ rtt_ms: Stats; errors: number }> {
  const { images, state, instruction } = sampleInputs(spec.cameras, spec.stateDim);
  const rtt: number[] = [];
  let errors = 0;
  const gr00tFrame = encodeFrame({ endpoint: 'get_action', data: { observation: {
    video: Object.fromEntries(spec.cameras.map((c) => [c.name, toGr00tArray(u8(images[c.name]!, [1, 1, c.height, c.width, 3]))])),
    state: { state: toGr00tArray(float32Array(state, [1, 1, spec.stateDim])) },
    language: { 'annotation.human.task_description': [[instruction]] },
  }, options: null } });
  const openpiFrame = encodeFrame(new Map<string, unknown>([
    ...spec.cameras.map((c): [string, unknown] => [`observation/${c.name}`, toOpenpiArray(u8(images[c.name]!, [c.height, c.width, 3]))]),
    ['observation/state', toOpenpiArray(float32Array(state, [spec.stateDim]))], ['prompt', instruction],
  ]));
  const check = (reply: Uint8Array) => { const v = decodeFrame(reply); if (isMap(v) && 'error' in v) throw new Error(String(v.error)); };
  let warm = 0;
  const counted = (i: number) => {
    if (i === SERVE_WARM_UP && ++warm === clients) onCounting();
    return i >= SERVE_WARM_UP;
  };
  const one = async (): Promise<void> => {
    if (protocol === 'gr00t') {
      const s = new Request({ linger: 0, receiveTimeout: 30_000 });
      s.connect(endpoint);
      for (let i = 0; i < requests + SERVE_WARM_UP; i++) {
        const count = counted(i);
        const t0 = performance.now();
        try { await s.send(gr00tFrame); const [r] = await s.receive(); check(r!); if (count) rtt.push(performance.now() - t0); } catch { if (count) errors++; }
      }
      s.close();
      return;
    }
    const ws = new WebSocket(endpoint, { perMessageDeflate: false });
    const messages: Buffer[] = [];
    let wake: (() => void) | undefined;
    ws.on('message', (d: Buffer) => { messages.push(d); wake?.(); });
    const nextMessage = async () => { while (messages.length === 0) await new Promise<void>((r) => { wake = r; }); return messages.shift()!; };
    await nextMessage(); // the metadata frame
    for (let i = 0; i < requests + SERVE_WARM_UP; i++) {
      const count = counted(i);
      const t0 = performance.now();
      ws.send(openpiFrame);
      try { check(await nextMessage()); if (count) rtt.push(performance.now() - t0); } catch { if (count) errors++; }
    }
    ws.close();
  };
  await Promise.all(Array.from({ length: clients }, one));
  return { rtt_ms: stats(rtt), errors };
}

export async function benchServe(o: ServeBenchOptions): Promise<Record<string, unknown>> {
  const log = o.progress ?? (() => undefined);
  const config = await loadDaemonConfig({ overrides: {
    robot: 'sim', hw_profile: o.profile, mode: 'idle', sim: { clock: 'realtime', physics_dt: 0.004, camera_hz: 30 }, ...(o.bundle ? { bundle: o.bundle } : {}),
    teleop: { endpoint: 'tcp://127.0.0.1:0' },
    serve: { gr00t: { enabled: true, endpoint: 'tcp://127.0.0.1:*', rate: { per_s: 1e4, burst: 1e4 } }, openpi: { enabled: true, port: 0, rate: { per_s: 1e4, burst: 1e4 } } },
  } });
  const daemon = new Daemon({ config, rateHz: o.rateHz, log: commandLogger() });
  const late: number[] = [];
  let recording = false;
  daemon.stats.tickListener = (lateS) => { if (recording) late.push(lateS * 1e3); };
  const main = fileURLToPath(new URL('./main.js', import.meta.url));
  try {
    await daemon.start();
    const engine = daemon.policy!;
    const io = engine.manifest.io;
    const spec = { cameras: io.cameras.map((c) => ({ name: c.name, width: c.width, height: c.height })), stateDim: io.state_dim };
    const { gr00t, openpi } = daemon.peerEndpoints;
    const inputs = sampleInputs(spec.cameras, spec.stateDim);
    const obs: Observation = { stampNs: 0n, state: inputs.state, instruction: inputs.instruction, images: Object.fromEntries(spec.cameras.map((c) => [c.name, { width: c.width, height: c.height, data: inputs.images[c.name]! }])) };
    const baseline = async (n: number): Promise<Stats> => {
      const xs: number[] = [];
      for (let i = 0; i < n; i++) { const t0 = performance.now(); await engine.infer(obs); xs.push(performance.now() - t0); }
      return stats(xs);
    };
    /** One client process; the loop's lateness is recorded while its clients count (not while it starts). */
    const client = (protocol: 'gr00t' | 'openpi', clients: number) => new Promise<{ rtt_ms: Stats; errors: number; loop: Record<string, unknown> }>((resolve, reject) => {
      const child = spawn(process.execPath, [main, 'bench', 'serve-client', '--protocol', protocol, '--endpoint', (protocol === 'gr00t' ? gr00t : openpi)!, '--clients', String(clients), '--requests', String(o.requests), '--spec', JSON.stringify(spec)], { stdio: ['ignore', 'pipe', 'inherit'] });
      let out = '';
      late.length = 0;
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        if (!recording && out.includes('COUNTING\n')) recording = true;
      });
      child.on('exit', (code) => {
        recording = false;
        const j = late.length ? summarize(late, 4) : null;
        const loop = { ticks: late.length, jitter_ms: j && { p50: j.p50, p99: j.p99, max: j.max }, late_over_1ms: late.filter((x) => x > 1).length };
        if (code !== 0) { reject(new Error(`bench client exited ${code}`)); return; }
        resolve({ ...(JSON.parse(out.slice(out.indexOf('COUNTING\n') + 9)) as { rtt_ms: Stats; errors: number }), loop });
      });
    });
    const phase = async (name: string): Promise<Record<string, unknown>> => {
      log(`bench serve: ${name}`);
      await baseline(10); // warm
      const inProcess = await baseline(o.requests);
      const cpu0 = cpuTimes();
      const rows: Record<string, unknown> = {};
      for (const protocol of ['gr00t', 'openpi'] as const) {
        for (const clients of [1, 4]) {
          const r = await client(protocol, clients);
          rows[`${protocol}_${clients}`] = { clients, ...r, overhead_p50: r.rtt_ms && inProcess ? Math.round((r.rtt_ms.p50 / inProcess.p50) * 100) / 100 : null };
          log(`  ${protocol} x${clients}: p50 ${r.rtt_ms?.p50} ms, p99 ${r.rtt_ms?.p99} ms (in-process p50 ${inProcess?.p50} ms); loop ${JSON.stringify(r.loop)}`);
        }
      }
      return { in_process_infer_ms: inProcess, ...rows, cpu_steal_pct: stealPct(cpu0, cpuTimes()) };
    };
    const idle = await phase('the arm holding (idle), serving only');
    await daemon.setMode('autonomous');
    await daemon.startEpisode({ instruction: 'pick up the red cube' });
    await sleep(500);
    const driving = await phase('the policy driving the arm (its plans first), serving as well');
    await daemon.stopEpisode(false, true);
    return {
      bundle: engine.modelVersion, rate_hz: o.rateHz, requests_per_client: o.requests, image_sizes: spec.cameras.map((c) => `${c.name} ${c.width}x${c.height}`),
      note: 'rtt: one observation in, one chunk out, from another process; overhead_p50 = protocol p50 / in-process PolicyEngine.infer p50 in the same phase; with 4 clients the requests queue for the one policy worker',
      idle, driving,
    };
  } finally {
    await daemon.shutdown();
  }
}
