// Operating the daemon from outside: the ops RPC methods (ZeroMQ ROUTER, io/zmq/ops.ts) and the
// telemetry stream (PUB: status at 1 Hz, every accepted chunk, every finished episode). Every
// request's params are validated by the method's schema before the daemon sees them; refusals
// come back with the daemon's reason. Off loopback both sockets require CURVE (checked at bind).
import { OPERATING_MODES, type Logger, type OperatingMode } from '../core/index.js';
import { OpsError, OpsServer, TelemetryPublisher, type OpsMethods } from '../io/zmq/index.js';
import { serverCurve } from './curve.js';
import { TASK_NAMES, type TaskName } from '../sim/index.js';
import { Daemon } from './daemon.js';
import { TRANSITIONS } from './lifecycle.js';
import { OtaRefusal } from '../ota/index.js';
import { LearningRefusal } from './learning.js';
import type { NodeParams } from './params.js';
export { serverCurve };

const noParams = { type: 'object', additionalProperties: false, properties: {} } as const;

/** Runs `work`, turning the daemon's refusals into `refused` replies with its reason. */
async function guarded<T>(work: () => Promise<T> | T): Promise<T> {
  try {
    return await work();
  } catch (err) {
    if (Daemon.isRefusal(err)) throw new OpsError((err as { code?: string }).code === 'bad_request' ? 'bad_params' : 'refused', (err as Error).message);
    // An OTA refusal's reply starts with its code, which scripts match on: "expired: vlad-x@2.0.0 expired at ...".
    if (err instanceof OtaRefusal) throw new OpsError('refused', `${err.code}: ${err.message}`);
    if (err instanceof LearningRefusal) throw new OpsError('refused', err.message);
    throw err;
  }
}

const activation = { force: { type: 'boolean' }, rollback: { type: 'boolean' } } as const;

/** The OTA methods: upload in chunks (resumable), install from disk, activate, roll back, report. */
function bundleMethods(daemon: Daemon): OpsMethods {
  const ota = daemon.ota;
  // The work runs on (self-test, warm-up, the episode's end, the health window): `bundle.status` follows it.
  const started = (bundle: string, work: Promise<unknown>) => {
    work.catch(() => undefined);
    return { bundle, accepted: true };
  };
  return {
    'bundle.status': { description: 'the running bundle, the stage of a swap in progress, the health window, the last outcome', params: noParams, handler: () => ota.status() },
    'bundle.list': { description: 'installed bundles (active, last good, ran), recent OTA history, uploads in progress', params: noParams, handler: () => guarded(() => ota.list()) },
    'bundle.upload.begin': {
      description: 'start (or resume) an upload: the signed manifest.json text; answers how much of each file is already here',
      params: { type: 'object', additionalProperties: false, required: ['manifest'], properties: { manifest: { type: 'string', minLength: 2, maxLength: 1 << 19 } } },
      handler: (p: { manifest: string }) => guarded(() => ota.uploadBegin(p.manifest)),
    },
    'bundle.upload.chunk': {
      description: 'append bytes to a file of an upload at its current end (offset); a wrong offset answers where to continue',
      params: {
        type: 'object', additionalProperties: false, required: ['upload_id', 'file', 'offset', 'data'],
        properties: { upload_id: { type: 'string', pattern: '^[0-9a-f]{16}$' }, file: { type: 'string', pattern: '^[A-Za-z0-9._-]+$', maxLength: 255 }, offset: { type: 'integer', minimum: 0 }, data: {} },
      },
      handler: (p: { upload_id: string; file: string; offset: number; data: unknown }) => guarded(async () => {
        if (!(p.data instanceof Uint8Array)) throw new OpsError('bad_params', 'field data: expected binary (msgpack bin)');
        try {
          return { ...(await ota.uploadChunk(p.upload_id, p.file, p.offset, p.data)), accepted: true };
        } catch (err) {
          if (err instanceof OtaRefusal && err.code === 'offset') return { have: err.detail.have as number, done: false, accepted: false };
          throw err;
        }
      }),
    },
    'bundle.upload.abort': {
      description: 'give up an upload: its staged files are deleted (a client that stops on a refusal leaves nothing behind)',
      params: { type: 'object', additionalProperties: false, required: ['upload_id'], properties: { upload_id: { type: 'string', pattern: '^[0-9a-f]{16}$' } } },
      handler: (p: { upload_id: string }) => guarded(async () => ({ aborted: await ota.uploadAbort(p.upload_id) })),
    },
    'bundle.upload.finish': {
      description: 'verify the uploaded files from disk and install the bundle; activate: swap it in (at the episode end unless force)',
      params: { type: 'object', additionalProperties: false, required: ['upload_id'], properties: { upload_id: { type: 'string', pattern: '^[0-9a-f]{16}$' }, activate: { type: 'boolean' }, ...activation } },
      handler: (p: { upload_id: string; activate?: boolean; force?: boolean; rollback?: boolean }) => guarded(async () => {
        const r = await ota.uploadFinish(p.upload_id, p);
        return started(r.bundle, r.done);
      }),
    },
    'bundle.install': {
      description: "install a bundle from a directory on the robot's disk (same checks as an upload); activate: swap it in",
      params: { type: 'object', additionalProperties: false, required: ['path'], properties: { path: { type: 'string', minLength: 1, maxLength: 4096 }, activate: { type: 'boolean' }, ...activation } },
      handler: (p: { path: string; activate?: boolean; force?: boolean; rollback?: boolean }) => guarded(async () => {
        const r = await ota.installPath(p.path, p);
        return started(r.bundle, r.done);
      }),
    },
    'bundle.activate': {
      description: 'swap to an installed bundle (NAME@VERSION, or "configured"); rollback: an older one that has run here',
      params: { type: 'object', additionalProperties: false, required: ['bundle'], properties: { bundle: { type: 'string', minLength: 1, maxLength: 200 }, ...activation } },
      handler: (p: { bundle: string; force?: boolean; rollback?: boolean }) => guarded(() => started(p.bundle, ota.activate(p.bundle, p))),
    },
    'bundle.rollback': {
      description: 'back to the last known good bundle now (ends a health window early)',
      params: noParams,
      handler: () => guarded(() => started('rollback', ota.rollback())),
    },
  };
}

/** Idle-time learning: its progress, holding it off, a pass now; the adapters of the serving bundle. */
function learningMethods(daemon: Daemon): OpsMethods {
  const l = daemon.learning;
  return {
    'train.status': { description: 'learning state, the running pass (step, loss, steps/s), the last pass and its gate, the serving adapter and its health window', params: noParams, handler: () => l.status() },
    'train.pause': { description: 'hold off training (a running pass stands down at its next unit, its state saved)', params: noParams, handler: () => l.pause() },
    'train.resume': { description: 'allow training again (after the idle wait)', params: noParams, handler: () => l.resume() },
    'train.now': { description: 'start a pass now, without the idle wait (never during an episode or while an operator commands)', params: noParams, handler: () => l.startPass() },
    'adapter.list': { description: "the serving bundle's learnt adapters with their lineage (parent, steps, gate, history)", params: noParams, handler: () => l.list() },
    'adapter.activate': {
      description: 'serve an adapter (an id from adapter.list, or base); a learnt one goes through the health window',
      params: { type: 'object', additionalProperties: false, required: ['id'], properties: { id: { type: 'string', minLength: 1, maxLength: 100, pattern: '^[A-Za-z0-9._-]+$' } } },
      handler: (p: { id: string }) => guarded(() => l.activate(p.id)),
    },
    'adapter.rollback': { description: 'back to the last known good adapter now (ends a health window early)', params: noParams, handler: () => guarded(() => l.rollback()) },
  };
}

/** The ops RPC methods: what `vlad ctl` calls. */
export function opsMethods(daemon: Daemon, onShutdown: () => void): OpsMethods {
  return {
    status: { description: 'lifecycle, mode, episode, bundle, control rate and jitter, planner latency, recorder, streams, uptime', params: noParams, handler: () => daemon.status() },
    transition: {
      description: 'lifecycle transition: configure, activate, deactivate, cleanup, shutdown',
      params: { type: 'object', additionalProperties: false, required: ['transition'], properties: { transition: { enum: TRANSITIONS } } },
      handler: (p: { transition: string }) => guarded(async () => {
        if (p.transition === 'shutdown') {
          daemon.lifecycle.check('shutdown');
          setImmediate(onShutdown); // reply first: the ops socket closes with the node
          return { state: daemon.state, shutting_down: true };
        }
        return { state: await daemon.transition(p.transition) };
      }),
    },
    mode: {
      description: 'operating mode: idle, autonomous, teleop, intervention',
      params: { type: 'object', additionalProperties: false, required: ['mode'], properties: { mode: { enum: OPERATING_MODES } } },
      handler: (p: { mode: OperatingMode }) => guarded(async () => { await daemon.setMode(p.mode); return { mode: daemon.operatingMode }; }),
    },
    'episode.start': {
      description: 'start an episode: an instruction, or (simulated robot) a task scene with an optional seed',
      params: {
        type: 'object', additionalProperties: false,
        properties: {
          instruction: { type: 'string', minLength: 1, maxLength: 1000 },
          task: { enum: TASK_NAMES },
          seed: { type: 'integer', minimum: 0, maximum: 2147483647 },
          operator: { type: 'boolean' },
        },
      },
      handler: (p: { instruction?: string; task?: TaskName; seed?: number; operator?: boolean }) => guarded(() => daemon.startEpisode(p)),
    },
    'episode.stop': {
      description: 'end the running episode: success, failure, or truncated (cut short, no outcome)',
      params: { type: 'object', additionalProperties: false, required: ['success'], properties: { success: { type: 'boolean' }, truncated: { type: 'boolean' } } },
      handler: (p: { success: boolean; truncated?: boolean }) => guarded(() => daemon.stopEpisode(p.success, p.truncated ?? false)),
    },
    instruction: {
      description: 'change the instruction the policy sees',
      params: { type: 'object', additionalProperties: false, required: ['instruction'], properties: { instruction: { type: 'string', minLength: 1, maxLength: 1000 } } },
      handler: (p: { instruction: string }) => guarded(() => { daemon.setInstruction(p.instruction); return { instruction: p.instruction }; }),
    },
    hard_stop: { description: 'brake at the emergency deceleration and hold until release', params: noParams, handler: () => guarded(() => { daemon.hardStop(true); return { hard_stop: true }; }) },
    release: { description: 'release the hard stop (the arm holds until a fresh plan or operator command)', params: noParams, handler: () => guarded(() => { daemon.hardStop(false); return { hard_stop: false }; }) },
    ...bundleMethods(daemon),
    ...learningMethods(daemon),
    operator: {
      description: 'simulated robot: the scripted operator takes over (teleop / intervention mode) or stops',
      params: { type: 'object', additionalProperties: false, required: ['enabled'], properties: { enabled: { type: 'boolean' } } },
      handler: (p: { enabled: boolean }) => guarded(async () => { await daemon.setScriptedOperator(p.enabled); return { operator: p.enabled }; }),
    },
  };
}

/** Attaches the ops RPC and telemetry parts to a daemon (they start and stop by its parts table). */
export function attachServing(daemon: Daemon, params: NodeParams, log: Logger, onShutdown: () => void): { opsEndpoint: () => string | undefined; telemetryEndpoint: () => string | undefined } {
  let ops: OpsServer | undefined;
  let pub: TelemetryPublisher | undefined;
  let timer: NodeJS.Timeout | undefined;
  const unsubscribe: (() => void)[] = [];
  daemon.extensions.ops = {
    start: async () => {
      const security = await serverCurve(params);
      ops = await OpsServer.bind({ endpoint: params.ops.endpoint, methods: opsMethods(daemon, onShutdown), ...(security ? { security } : {}), logger: log.child({ part: 'ops' }) });
      log.info({ endpoint: ops.endpoint, curve: security !== undefined }, 'ops RPC bound');
    },
    stop: async () => { await ops?.close(); ops = undefined; },
  };
  daemon.extensions.telemetry = {
    start: async () => {
      const security = await serverCurve(params);
      const publisher = await TelemetryPublisher.bind({ endpoint: params.ops.telemetry_endpoint, ...(security ? { security } : {}), logger: log.child({ part: 'telemetry' }) });
      pub = publisher;
      timer = setInterval(() => publisher.publish('status', daemon.status()), 1000);
      timer.unref();
      unsubscribe.push(daemon.onChunk((c) => publisher.publish('chunk', {
        t0_ns: c.t0Ns, dt: c.dt, horizon: c.horizon, action_dim: c.actionDim, model: c.modelVersion, adapter: c.adapterVersion, noise_seed: c.noiseSeed,
        delay_steps: c.inferenceDelaySteps, first_action: Array.from(c.actions.subarray(0, c.actionDim)),
      })));
      log.info({ endpoint: publisher.endpoint }, 'telemetry bound');
    },
    stop: async () => {
      if (timer) clearInterval(timer);
      for (const u of unsubscribe.splice(0)) u();
      await pub?.close();
      pub = undefined;
    },
  };
  daemon.onEpisodeEnd((o) => pub?.publish('episode', o));
  daemon.onOta((e) => pub?.publish('ota', e));
  daemon.onLearning((e) => pub?.publish('training', e));
  return { opsEndpoint: () => ops?.endpoint, telemetryEndpoint: () => pub?.endpoint };
}
