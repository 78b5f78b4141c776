import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { ControlMetrics, createRegistry, serveMetrics } from '../../src/metrics/index.js';
import { followReference, rig } from '../control/support.js';

function get(url: string, method = 'GET'): Promise<{ status: number; type: string; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type']), body }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** Value of one sample line of the exposition text. */
function sample(text: string, name: string, labels = ''): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name}${labels ? `{${labels}}` : ''} `) || (labels === '' && l.startsWith(`${name} `)));
  assert.ok(line, `no sample ${name}{${labels}} in\n${text.slice(0, 2000)}`);
  return Number(line.split(' ').at(-1));
}

test('metrics: a loop run is scraped from the real HTTP endpoint in Prometheus text format', async () => {
  const registry = createRegistry();
  const metrics = new ControlMetrics(registry);
  const server = await serveMetrics(registry, { port: 0 });
  try {
    // Joint 0's reference is lifted past its +1 limit: the safety filter clamps it, per rule and joint.
    const r = rig({ make: followReference(0.01, 30, 3, 1_000_000_000n, (_n, j) => (j === 0 ? 0.8 : 0)), latencyS: 0.043, loop: { telemetry: metrics }, maxAgeS: 0.05, start: [0.8, 0.42, 0.45] });
    await r.run(0, 120, (k) => {
      metrics.tick(k === 50 ? 0.004 : 0.0001, k === 50 ? 1 : 0); // what the Ratekeeper reports
    });
    r.obs.publishing = false;
    await r.run(120, 140, () => metrics.tick(0.0001, 0));
    metrics.inferenceStage('prefix', 0.012);

    const res = await get(server.url);
    assert.equal(res.status, 200);
    assert.match(res.type, /^text\/plain; version=0\.0\.4/);
    const text = res.body;
    assert.match(text, /# TYPE vlad_control_loop_jitter_seconds histogram/);
    assert.equal(sample(text, 'vlad_control_ticks_total'), 140);
    assert.equal(sample(text, 'vlad_control_deadline_misses_total'), 1);
    assert.equal(sample(text, 'vlad_control_loop_jitter_seconds_count'), 140);
    assert.equal(sample(text, 'vlad_control_loop_jitter_seconds_bucket', 'le="0.001"'), 139);
    const chunks = r.loop.snapshot().chunksAccepted;
    assert.ok(chunks >= 4);
    assert.equal(sample(text, 'vlad_control_chunks_total', 'outcome="accepted"'), chunks);
    assert.equal(sample(text, 'vlad_control_inference_delay_steps_count'), chunks);
    assert.equal(sample(text, 'vlad_control_inference_delay_steps_sum'), 5 * chunks, 'd = ceil(43 ms / 10 ms) = 5 for every chunk');
    assert.equal(sample(text, 'vlad_inference_latency_seconds_count', 'stage="round_trip"'), chunks);
    assert.equal(sample(text, 'vlad_inference_latency_seconds_count', 'stage="prefix"'), 1);
    assert.equal(sample(text, 'vlad_watchdog_events_total', 'event="obs_stale"'), 1);
    assert.equal(sample(text, 'vlad_control_watchdog_state', 'state="hold"'), 1);
    assert.equal(sample(text, 'vlad_control_watchdog_state', 'state="run"'), 0);
    // Joint 0 was held at its position limit.
    const clampLines = text.split('\n').filter((l) => l.startsWith('vlad_safety_clamps_total{'));
    const clampTotal = clampLines.reduce((s, l) => s + Number(l.split(' ').at(-1)), 0);
    assert.equal(clampTotal, Object.values(r.loop.snapshot().clamps).flat().reduce((a, b) => a + b, 0));
    assert.ok(clampLines.some((l) => /rule="position",joint="j0"/.test(l)), clampLines.join('\n'));
    assert.match(text, /vlad_control_queue_depth_steps \d+/);

    assert.equal((await get(server.url.replace('/metrics', '/healthz'))).body, 'ok\n');
    assert.equal((await get(server.url.replace('/metrics', '/nope'))).status, 404);
    assert.equal((await get(server.url, 'POST')).status, 405);
  } finally {
    await server.close();
  }
});

test('metrics: registries are independent and the port is configurable', async () => {
  const a = createRegistry({ labels: { robot: 'a' } });
  new ControlMetrics(a);
  const b = createRegistry();
  new ControlMetrics(b); // no "already registered" clash: not the global registry
  const s1 = await serveMetrics(a, { port: 0 });
  try {
    await assert.rejects(serveMetrics(b, { port: s1.port }), /EADDRINUSE/);
    assert.match((await get(s1.url)).body, /vlad_control_ticks_total\{robot="a"\} 0/);
  } finally {
    await s1.close();
  }
});
