// Prometheus metrics (prom-client) for the daemon: one registry per daemon (never the global one,
// so tests and several loops in one process stay apart), served in the text exposition format on
// 127.0.0.1 by node:http.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export { Registry } from 'prom-client';

export function createRegistry(opts: { processMetrics?: boolean; labels?: Record<string, string> } = {}): Registry {
  const registry = new Registry();
  if (opts.labels) registry.setDefaultLabels(opts.labels);
  if (opts.processMetrics) collectDefaultMetrics({ register: registry, prefix: 'vlad_' });
  return registry;
}

/** The control watchdog's states (src/control WatchdogState; structural, neither folder imports the other). */
type WatchdogStateName = 'waiting' | 'run' | 'hold' | 'stop';
const STATES: readonly WatchdogStateName[] = ['waiting', 'run', 'hold', 'stop'];

/**
 * The control loop's instruments. Its methods match src/control's ControlTelemetry, so a loop takes
 * one of these as `telemetry` (structural typing; neither folder imports the other).
 */
export class ControlMetrics {
  readonly jitter: Histogram;
  readonly ticks: Counter;
  readonly deadlineMisses: Counter;
  readonly clamps: Counter<'rule' | 'joint'>;
  readonly watchdogEvents: Counter<'event'>;
  readonly state: Gauge<'state'>;
  readonly queueDepthSteps: Gauge;
  readonly inferenceDelaySteps: Histogram;
  readonly inferenceSeconds: Histogram<'stage'>;
  readonly chunks: Counter<'outcome'>;

  constructor(readonly registry: Registry) {
    const registers = [registry];
    this.jitter = new Histogram({
      name: 'vlad_control_loop_jitter_seconds',
      help: 'Lateness of each control tick: actual start minus its absolute deadline',
      buckets: [25e-6, 50e-6, 100e-6, 250e-6, 500e-6, 1e-3, 2e-3, 5e-3, 10e-3, 20e-3, 50e-3],
      registers,
    });
    this.ticks = new Counter({ name: 'vlad_control_ticks_total', help: 'Control ticks executed', registers });
    this.deadlineMisses = new Counter({ name: 'vlad_control_deadline_misses_total', help: 'Control ticks later than the tolerance, plus skipped ticks', registers });
    this.clamps = new Counter({ name: 'vlad_safety_clamps_total', help: 'Commands changed by a safety rule, per rule and joint', labelNames: ['rule', 'joint'], registers });
    this.watchdogEvents = new Counter({ name: 'vlad_watchdog_events_total', help: 'Watchdog transitions by cause', labelNames: ['event'], registers });
    this.state = new Gauge({ name: 'vlad_control_watchdog_state', help: '1 for the watchdog state the loop is in', labelNames: ['state'], registers });
    this.queueDepthSteps = new Gauge({ name: 'vlad_control_queue_depth_steps', help: 'Control steps the action queue still covers', registers });
    this.inferenceDelaySteps = new Histogram({
      name: 'vlad_control_inference_delay_steps',
      help: 'Inference delay d of each chunk: control steps from its observation to its arrival',
      buckets: [0, 1, 2, 3, 4, 5, 6, 8, 10, 15, 20, 30, 50],
      registers,
    });
    this.inferenceSeconds = new Histogram({
      name: 'vlad_inference_latency_seconds',
      help: 'Inference latency per stage (prefix, expert, energy, worker total, round trip, observation to chunk)',
      labelNames: ['stage'],
      buckets: [1e-3, 2e-3, 5e-3, 10e-3, 20e-3, 50e-3, 100e-3, 200e-3, 500e-3, 1, 2],
      registers,
    });
    this.chunks = new Counter({ name: 'vlad_control_chunks_total', help: 'Chunks received by outcome', labelNames: ['outcome'], registers });
    for (const m of STATES) this.state.set({ state: m }, m === 'waiting' ? 1 : 0);
  }

  tick(lateS: number, misses: number): void {
    this.ticks.inc();
    this.jitter.observe(Math.max(0, lateS));
    if (misses > 0) this.deadlineMisses.inc(misses);
  }
  clamp(rule: string, joint: string): void { this.clamps.inc({ rule, joint }); }
  watchdog(event: string, state: WatchdogStateName): void {
    this.watchdogEvents.inc({ event });
    for (const m of STATES) this.state.set({ state: m }, m === state ? 1 : 0);
  }
  queueDepth(steps: number): void { this.queueDepthSteps.set(steps); }
  inferenceDelay(steps: number): void { this.inferenceDelaySteps.observe(steps); }
  inferenceStage(stage: string, seconds: number): void { this.inferenceSeconds.observe({ stage }, seconds); }
  chunk(outcome: string): void { this.chunks.inc({ outcome }); }
}

export interface MetricsServer {
  readonly port: number;
  readonly url: string;
  close(): Promise<void>;
}

/** Serves GET /metrics (and /healthz) on host:port; port 0 picks a free one. */
export async function serveMetrics(registry: Registry, opts: { port?: number; host?: string } = {}): Promise<MetricsServer> {
  const host = opts.host ?? '127.0.0.1';
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    if (path === '/healthz') {
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
      return;
    }
    if (path !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found; try /metrics\n');
      return;
    }
    registry.metrics().then(
      (text) => res.writeHead(200, { 'content-type': registry.contentType }).end(req.method === 'HEAD' ? undefined : text),
      (err: unknown) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`${String(err)}\n`),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 9464, host, () => { server.off('error', reject); resolve(); });
  });
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    url: `http://${host}:${port}/metrics`,
    close: () => new Promise<void>((resolve, reject) => server.close((err) => (err ? reject(err) : resolve()))),
  };
}

/** Requests of the peers' protocol servers (GR00T, openpi) by outcome. */
export class PeerMetrics {
  readonly requests: Counter<'server' | 'outcome'>;
  constructor(registry: Registry) {
    this.requests = new Counter({ name: 'vlad_peer_requests_total', help: 'Requests to the peer protocol servers (gr00t, openpi) by outcome', labelNames: ['server', 'outcome'], registers: [registry] });
  }
  count(server: string, outcome: string): void { this.requests.inc({ server, outcome }); }
}

/** Over-the-air swaps: each pipeline stage's duration, and how every attempt ended. */
export class OtaMetrics {
  readonly stageSeconds: Histogram<'stage'>;
  readonly outcomes: Counter<'outcome'>;
  readonly trial: Gauge;
  constructor(registry: Registry) {
    const registers = [registry];
    this.stageSeconds = new Histogram({
      name: 'vlad_ota_stage_seconds', help: 'Duration of each OTA stage (upload, verify, load, self_test, warm_up, wait_episode, swap, health)',
      labelNames: ['stage'], buckets: [1e-3, 1e-2, 0.1, 0.5, 1, 2, 5, 10, 30, 60, 300], registers,
    });
    this.outcomes = new Counter({ name: 'vlad_ota_outcomes_total', help: 'OTA attempts by outcome (installed, swapped, committed, rolled_back, refused_<code>)', labelNames: ['outcome'], registers });
    this.trial = new Gauge({ name: 'vlad_ota_health_window_open', help: '1 while a swapped-in bundle is in its health window', registers });
  }
  stage(stage: string, seconds: number): void { this.stageSeconds.observe({ stage }, seconds); }
  outcome(outcome: string): void { this.outcomes.inc({ outcome }); }
}

export class TrainingMetrics {
  readonly steps: Counter;
  readonly loss: Gauge;
  readonly passProgress: Gauge;
  readonly stepSeconds: Histogram;
  readonly passes: Counter<'outcome'>;
  readonly adapters: Counter<'event'>;
  constructor(registry: Registry) {
    const registers = [registry];
    this.steps = new Counter({ name: 'vlad_training_steps_total', help: 'LoRA training steps run on the robot', registers });
    this.loss = new Gauge({ name: 'vlad_training_loss', help: 'Flow-matching loss of the latest training step', registers });
    this.passProgress = new Gauge({ name: 'vlad_training_pass_progress', help: 'Fraction of the current training pass done (0 when none runs)', registers });
    this.stepSeconds = new Histogram({ name: 'vlad_training_step_seconds', help: 'Wall time of one training step', buckets: [1e-3, 5e-3, 1e-2, 2e-2, 5e-2, 0.1, 0.2, 0.5, 1], registers });
    this.passes = new Counter({ name: 'vlad_training_passes_total', help: 'Training passes by outcome (gate_passed, gate_refused, failed)', labelNames: ['outcome'], registers });
    this.adapters = new Counter({ name: 'vlad_adapter_events_total', help: 'Adapter events (promoted, committed, rolled_back, activated)', labelNames: ['event'], registers });
  }
  step(loss: number, seconds: number, progress: number): void { this.steps.inc(); this.loss.set(loss); this.stepSeconds.observe(seconds); this.passProgress.set(progress); }
  pass(outcome: string): void { this.passes.inc({ outcome }); this.passProgress.set(0); }
  adapter(event: string): void { this.adapters.inc({ event }); }
}
