// `vlad run`: the daemon. It loads and validates its configuration, serves the ops RPC and
// telemetry, configures and activates (unless autostart is off), and stays up until SIGTERM or
// SIGINT: then it holds the arm, finishes the open episode as truncated, flushes the recorder and
// exits 0 within the launch file's 5 s. ROS arguments (`--ros-args --params-file F -r ...`) are
// accepted as `ros2 launch` passes them.
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import process from 'node:process';
import { publicKeyObject } from '../bundle/index.js';
import { rootLogger } from '../core/index.js';
import { attachServing, Daemon, loadDaemonConfig, ROBOT_KINDS, type ParamOverrides } from '../daemon/index.js';
import { OPERATING_MODES } from '../core/index.js';
import { command, flag, UsageError } from './args.js';

const USAGE = 'vlad run [--robot sim|ros] [--params FILE] [--bundle DIR] [--profile NAME] [--robot-description NAME] [--record DIR] [--dataset NAME] [--mode idle|autonomous|teleop|intervention] [--ops ENDPOINT] [--telemetry ENDPOINT] [--teleop ENDPOINT] [--metrics-port P] [--serve gr00t[:PORT],openpi[:PORT]] [--clock realtime|lockstep] [--variation KEY=VALUE[,...]] [--no-autostart] [--ota-dir DIR] [--trust PUBKEY|FILE]... [--ros-args ...]';

/** Splits off ROS arguments; `--params-file F` among them names the params file. */
export function splitRosArgs(args: readonly string[]): { own: string[]; paramsFile: string | undefined } {
  const i = args.indexOf('--ros-args');
  if (i < 0) return { own: [...args], paramsFile: undefined };
  const ros = args.slice(i + 1);
  const end = ros.indexOf('--');
  const rosOnly = end < 0 ? ros : ros.slice(0, end);
  const p = rosOnly.indexOf('--params-file');
  if (p >= 0 && rosOnly[p + 1] === undefined) throw new UsageError('--ros-args --params-file needs a file');
  return { own: [...args.slice(0, i), ...(end < 0 ? [] : ros.slice(end + 1))], paramsFile: p >= 0 ? rosOnly[p + 1] : undefined };
}

/** `--serve gr00t,openpi:8001`: the peer protocol servers to enable, with an optional port each. */
export function serveFlag(value: string): NonNullable<ParamOverrides['serve']> {
  const out: NonNullable<ParamOverrides['serve']> = {};
  for (const entry of flag.list('serve', value, (e) => e)) {
    const [name, portText, extra] = entry.split(':');
    if (extra !== undefined) throw new UsageError(`--serve: '${entry}' is not NAME or NAME:PORT`);
    const port = portText === undefined ? undefined : flag.int('serve', portText, { min: 1, max: 65535 });
    if (name === 'gr00t') out.gr00t = { enabled: true, ...(port ? { endpoint: `tcp://127.0.0.1:${port}` } : {}) };
    else if (name === 'openpi') out.openpi = { enabled: true, ...(port ? { port } : {}) };
    else throw new UsageError(`--serve: unknown protocol '${name}' (gr00t, openpi)`);
  }
  return out;
}

async function trustedKey(value: string): Promise<string> {
  const text = existsSync(value) ? (await readFile(value, 'utf8')).trim() : value.trim();
  try {
    publicKeyObject(text); // the trust anchor's own parse
  } catch {
    throw new UsageError(`--trust: '${value}' is neither an ed25519 public key (base64, 32 bytes) nor a file holding one`);
  }
  return text;
}

/** The daemon's shutdown budget: the launch file's sigterm_timeout is 5 s. */
const SHUTDOWN_BUDGET_MS = 4500;

export async function run(args: string[]): Promise<number> {
  let split: ReturnType<typeof splitRosArgs>;
  try { split = splitRosArgs(args); } catch (err) { process.stderr.write(`vlad run: ${(err as Error).message}\nusage: ${USAGE}\n`); return 2; }
  return command({
    name: 'run', usage: USAGE,
    options: {
      robot: { type: 'string' }, params: { type: 'string' }, bundle: { type: 'string' }, profile: { type: 'string' }, 'robot-description': { type: 'string' }, record: { type: 'string' }, dataset: { type: 'string' },
      mode: { type: 'string' }, ops: { type: 'string' }, telemetry: { type: 'string' }, teleop: { type: 'string' }, 'metrics-port': { type: 'string' },
      clock: { type: 'string' }, variation: { type: 'string' }, 'no-autostart': { type: 'boolean' }, serve: { type: 'string' },
      trust: { type: 'string', multiple: true }, 'ota-dir': { type: 'string' },
    },
  }, split.own, async (v) => {
    if (v.params && split.paramsFile) throw new UsageError('give --params or --ros-args --params-file, not both');
    const overrides: ParamOverrides = {};
    if (v.robot !== undefined) overrides.robot = flag.oneOf('robot', v.robot, ROBOT_KINDS);
    if (v.bundle !== undefined) overrides.bundle = v.bundle;
    if (v.profile !== undefined) overrides.hw_profile = v.profile;
    if (v['robot-description'] !== undefined) overrides.robot_description = v['robot-description'];
    if (v.record !== undefined || v.dataset !== undefined) overrides.record = { ...(v.record !== undefined ? { dir: v.record } : {}), ...(v.dataset !== undefined ? { dataset: v.dataset } : {}) };
    if (v.mode !== undefined) overrides.mode = flag.oneOf('mode', v.mode, OPERATING_MODES);
    if (v.ops !== undefined || v.telemetry !== undefined) overrides.ops = { ...(v.ops !== undefined ? { endpoint: v.ops } : {}), ...(v.telemetry !== undefined ? { telemetry_endpoint: v.telemetry } : {}) };
    if (v.teleop !== undefined) overrides.teleop = { endpoint: v.teleop };
    if (v['metrics-port'] !== undefined) overrides.metrics_port = flag.int('metrics-port', v['metrics-port'], { min: 0, max: 65535 });
    if (v.clock !== undefined || v.variation !== undefined) {
      overrides.sim = { ...(v.clock !== undefined ? { clock: flag.oneOf('clock', v.clock, ['realtime', 'lockstep'] as const) } : {}), ...(v.variation !== undefined ? { variation: flag.variation('variation', v.variation) } : {}) };
    }
    if (v['no-autostart']) overrides.autostart = false;
    if (v.serve !== undefined) overrides.serve = serveFlag(v.serve);
    if (v['ota-dir'] !== undefined) overrides.ota = { dir: v['ota-dir'] };
    const log = rootLogger();
    const config = await loadDaemonConfig({ paramsFile: v.params ?? split.paramsFile, overrides });
    // --trust adds to the params file's keys (a key, or a .pub file from vlad bundle keygen).
    for (const t of v.trust ?? []) {
      const key = await trustedKey(t);
      if (!config.params.ota.trusted_keys.includes(key)) config.params.ota.trusted_keys.push(key);
    }
    if (config.params.robot === 'sim' && config.params.sim.clock === 'lockstep') throw new UsageError('vlad run steps the simulated robot in realtime; lockstep is for vlad sim / collect / bench');
    const daemon = new Daemon({ config, log, serve: true });
    let finished: () => void = () => undefined;
    const done = new Promise<void>((r) => { finished = r; });
    let stopping: Promise<void> | undefined;
    const stop = (why: string): Promise<void> => {
      stopping ??= (async () => {
        log.info({ why }, 'shutting down: hold, finish the episode as truncated, flush');
        const budget = setTimeout(() => { log.error('shutdown overran its budget: exiting'); process.exit(1); }, SHUTDOWN_BUDGET_MS);
        try { await daemon.shutdown(); } finally { clearTimeout(budget); }
        finished();
      })();
      return stopping;
    };
    const onSignal = (sig: NodeJS.Signals) => {
      if (stopping) { log.warn({ signal: sig }, 'second signal: exiting now'); process.exit(1); }
      void stop(sig);
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
    const endpoints = attachServing(daemon, config.params, log, () => { void stop('ops shutdown'); });
    await daemon.serveOnly();
    if (config.params.autostart) {
      try {
        await daemon.start();
      } catch (err) {
        // Stay up (unconfigured or inactive) so the reason can be read and the transition retried over ops.
        log.error({ err }, `autostart failed: ${(err as Error).message}`);
      }
    }
    log.info({ ops: endpoints.opsEndpoint(), telemetry: endpoints.telemetryEndpoint(), ...daemon.peerEndpoints, state: daemon.state, mode: daemon.operatingMode }, 'vlad daemon up');
    await done;
    return 0;
  });
}
