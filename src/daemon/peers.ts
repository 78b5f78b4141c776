// The peers' policy protocols as daemon parts: the GR00T service and the openpi server answer
// through the daemon's PolicyEngine (its worker thread: the event loop never waits on inference)
// in the scheduler's serving lane, after the control loop's own requests. Mappings come from the
// params (empty: the defaults that fit the bundle), checked against the bundle at start-up.
import { readFile, stat } from 'node:fs/promises';
import type { Logger } from '../core/index.js';
import { ConfigError } from '../core/index.js';
import type { PolicyEngine } from '../policy/index.js';
import type { ComputeScheduler } from '../sched/index.js';
import type { PeerCounter, PeerPolicy } from '../io/wire/index.js';
import { Gr00tServer, defaultGr00tMapping, type Gr00tMapping, type ServerCurve } from '../io/zmq/index.js';
import { OpenpiServer, defaultOpenpiMapping, type OpenpiMapping } from '../io/ws/index.js';
import type { NodeParams } from './params.js';

/** The daemon's policy as the peer servers see it. */
export function peerPolicy(current: () => PolicyEngine, sched: ComputeScheduler): PeerPolicy {
  // Resolved per request: an over-the-air swap changes the engine (never the I/O, see ota/fit.ts).
  return {
    get io() {
      const engine = current();
      const io = engine.manifest.io;
      return {
        model: engine.modelVersion, cameras: io.cameras, stateDim: io.state_dim, actionDim: io.action_dim, horizon: io.chunk_length, controlDt: io.control_dt,
        ...(io.state_names ? { stateNames: io.state_names } : {}), ...(io.action_names ? { actionNames: io.action_names } : {}),
      };
    },
    infer: async (obs) => {
      const r = await sched.serving(() => current().infer(obs));
      return { actions: r.chunk.actions, inferMs: r.timings.totalMs };
    },
  };
}

/** A secret from a file only its owner may read (tokens and keys never sit in the params file). */
export async function readSecretFile(path: string, field: string): Promise<string> {
  let mode: number;
  try {
    mode = (await stat(path)).mode;
  } catch (err) {
    throw new ConfigError(path, field, `cannot read the secret file (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  if (mode & 0o077) throw new ConfigError(path, field, `the secret file is readable by others (mode ${(mode & 0o777).toString(8)}): chmod 600 it`);
  const text = (await readFile(path, 'utf8')).trim();
  if (text.length < 8) throw new ConfigError(path, field, 'the secret is shorter than 8 characters');
  return text;
}

export function gr00tMapping(p: NodeParams['serve']['gr00t'], policy: PeerPolicy): Gr00tMapping {
  const d = defaultGr00tMapping(policy);
  const slices = (s: Record<string, number[]>) => Object.fromEntries(Object.entries(s).map(([k, [a, b]]) => [k, [a!, b!] as const]));
  return {
    video: Object.keys(p.video).length ? p.video : d.video,
    state: Object.keys(p.state).length ? slices(p.state) : d.state,
    action: Object.keys(p.action).length ? slices(p.action) : d.action,
    language: p.language, imageLayout: p.image_layout,
  };
}

export function openpiMapping(p: NodeParams['serve']['openpi'], policy: PeerPolicy): OpenpiMapping {
  const d = defaultOpenpiMapping(policy);
  return { images: Object.keys(p.images).length ? p.images : d.images, state: p.state.length ? p.state : d.state, prompt: p.prompt, imageLayout: p.image_layout };
}

export async function startGr00t(params: NodeParams, policy: PeerPolicy, o: { curve: ServerCurve | undefined; count: PeerCounter; log: Logger }): Promise<Gr00tServer> {
  const p = params.serve.gr00t;
  return Gr00tServer.bind({
    endpoint: p.endpoint, policy, mapping: gr00tMapping(p, policy), allowKill: p.allow_kill, modalityConfigForm: p.modality_config,
    rate: { perS: p.rate.per_s, burst: p.rate.burst }, requestTimeoutMs: p.request_timeout_s * 1000,
    apiToken: p.api_token_file ? await readSecretFile(p.api_token_file, 'serve.gr00t.api_token_file') : undefined,
    security: o.curve, count: o.count, logger: o.log,
  });
}

export async function startOpenpi(params: NodeParams, policy: PeerPolicy, o: { count: PeerCounter; log: Logger }): Promise<OpenpiServer> {
  const p = params.serve.openpi;
  const tls = p.tls.cert_file || p.tls.key_file
    ? { cert: await readFile(p.tls.cert_file), key: await readSecretFile(p.tls.key_file, 'serve.openpi.tls.key_file') }
    : undefined;
  return OpenpiServer.listen({
    host: p.host, port: p.port, policy, mapping: openpiMapping(p, policy), tls, count: o.count, logger: o.log,
    rate: { perS: p.rate.per_s, burst: p.rate.burst }, requestTimeoutMs: p.request_timeout_s * 1000,
    apiKey: p.api_key_file ? await readSecretFile(p.api_key_file, 'serve.openpi.api_key_file') : undefined,
  });
}
