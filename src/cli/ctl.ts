// `vlad ctl`: the client of a running daemon's ops socket, for people and scripts. Every
// subcommand prints the daemon's answer (`--json`: the raw result, one line) and exits 0, or exits
// 1 with the daemon's reason; usage errors exit 2.
import process from 'node:process';
import { OpsCallError, OpsClient, readKeyFile, writeKeyPair, type ClientCurve } from '../io/zmq/index.js';
import { command, flag, UsageError } from './args.js';
import { BUNDLE_USAGE, bundleCommand } from './ctl-bundle.js';

const USAGE = `vlad ctl [--ops ENDPOINT] [--json] [--timeout MS] [--key FILE --server-key FILE] COMMAND
  status
  mode idle|autonomous|teleop|intervention
  episode start (--instruction TEXT | --task pick|place|touch [--seed S]) [--operator]
  episode stop --success|--failure|--truncated
  instruction TEXT
  transition configure|activate|deactivate|cleanup|shutdown
  hard-stop | release
  operator on|off            (simulated robot: the scripted operator drives (teleop) or supervises the policy and takes over when it goes wrong (intervention) / stops)
  train status|pause|resume|now    (idle-time LoRA learning: progress; hold off; allow; a pass now)
  adapter list|activate ID|rollback   (learnt adapters of the running bundle; ID or "base")
  keygen --out DIR [--name NAME]   (CURVE key pair files for the daemon or a client)
${BUNDLE_USAGE}`;

function describeStatus(s: Record<string, any>): string {
  const c = s.control ?? {};
  const lines = [
    `lifecycle ${s.lifecycle}${s.transitioning ? ` (${s.transitioning}...)` : ''}, mode ${s.mode}, control ${c.state ?? '-'}${c.hard_stop ? ' HARD STOP' : ''}${c.operator_engaged ? ', operator in command' : ''}`,
    `bundle ${s.bundle ? `${s.bundle.name}@${s.bundle.version} (${s.bundle.expert}, N=${s.bundle.steps}, ${s.bundle.provider})` : '-'}, adapter ${s.adapter ?? '-'}, robot ${s.robot?.name ?? '-'}`,
    `control ${c.rate_hz} Hz ${c.clock}, jitter p50 ${c.jitter_ms?.p50 ?? '-'} ms p99 ${c.jitter_ms?.p99 ?? '-'} ms, misses ${c.deadline_misses ?? 0}; planner p50 ${s.planner?.latency_ms?.p50 ?? '-'} ms, ${s.planner?.chunks ?? 0} chunks`,
    `episode ${s.episode ? `${s.episode.id} "${s.episode.instruction}" (${s.episode.steps} steps)` : 'none'}${s.last_episode ? `; last ${s.last_episode.id}: ${s.last_episode.success ? 'success' : 'failure'}${s.last_episode.truncated ? ' (truncated)' : ''}` : ''}`,
    `recorder ${s.recorder ? `${s.recorder.dataset}: ${s.recorder.episodes} episodes, ${s.recorder.steps} steps, ${s.recorder.droppedFrames} dropped` : 'off'}`,
    `streams ${(s.streams ?? []).map((t: any) => `${t.name} ${t.alive ? 'alive' : 'STALE'}${t.freqOk ? '' : ' (freq!)'} ${t.rateHz} Hz`).join(', ') || '-'}`,
    `uptime ${s.uptime_s} s${s.last_error ? `; last error: ${s.last_error}` : ''}`,
  ];
  return lines.join('\n');
}

function describeTraining(t: Record<string, any>): string {
  const p = t.pass;
  const lines = [
    `learning ${t.state}${t.reason ? ` (${t.reason})` : ''}; adapter ${t.adapter?.active ?? 'base'} (last good ${t.adapter?.last_good ?? 'base'})${t.trial ? `, in its health window: ${t.trial.counted}/${t.trial.episodes} episodes` : ''}`,
    p ? `pass ${p.id}: ${p.stage === 'train' ? `train step ${p.step}/${p.steps}, loss ${p.loss?.toFixed?.(4) ?? '-'}, ${p.steps_per_s ?? '-'} steps/s` : `${p.stage} ${p.step}/${p.steps} (preparing: reading episodes, caching the frozen prefix)`}` : `no pass running; idle for ${t.idle_for_s ?? '-'} s (passes start after ${t.idle_after_s} s)`,
    `passes ${t.counts?.passes ?? 0}, gate refusals ${t.counts?.gate_refused ?? 0}, promotions ${t.counts?.promoted ?? 0}, rollbacks ${t.counts?.rolled_back ?? 0}`,
  ];
  if (t.last_pass) lines.push(`last pass: ${JSON.stringify(t.last_pass)}`);
  return lines.join('\n');
}

function describeAdapters(r: Record<string, any>): string {
  const rows = (r.adapters ?? []) as Record<string, any>[];
  if (rows.length === 0) return `no learnt adapters for ${r.bundle ?? 'this bundle'} (base serves)`;
  return rows.map((a) => `${a.active ? '*' : ' '} ${a.id}  parent ${a.parent ?? 'base'}  steps ${a.steps ?? '-'}  ${a.status ?? ''}${a.last_good ? ' (last good)' : ''}  ${a.created_at ?? ''}`).join('\n');
}

function describe(method: string, result: Record<string, any>): string {
  if (method === 'status') return describeStatus(result);
  if (method === 'train.status') return describeTraining(result);
  if (method === 'adapter.list') return describeAdapters(result);
  return `ok: ${JSON.stringify(result)}`;
}

export async function run(args: string[]): Promise<number> {
  return command({
    name: 'ctl', usage: USAGE, positionals: { min: 1, max: 3 },
    options: {
      ops: { type: 'string', default: 'tcp://127.0.0.1:5570' }, json: { type: 'boolean', default: false }, timeout: { type: 'string' },
      key: { type: 'string' }, 'server-key': { type: 'string' },
      instruction: { type: 'string' }, task: { type: 'string' }, seed: { type: 'string' }, operator: { type: 'boolean' },
      success: { type: 'boolean' }, failure: { type: 'boolean' }, truncated: { type: 'boolean' }, out: { type: 'string' }, name: { type: 'string' },
      activate: { type: 'boolean' }, force: { type: 'boolean' }, rollback: { type: 'boolean' }, 'no-wait': { type: 'boolean' },
    },
  }, args, async (v, pos) => {
    const [cmd, arg] = pos as [string, string | undefined];
    if (cmd === 'keygen') {
      const written = await writeKeyPair(flag.required('out', v.out), v.name ?? 'vlad');
      process.stdout.write(v.json ? `${JSON.stringify({ public_key: written.publicKey, secret_key_file: written.secretPath, public_key_file: written.publicPath })}\n` : `public key ${written.publicKey}\nsecret key ${written.secretPath} (mode 0600)\npublic key ${written.publicPath}\n`);
      return 0;
    }
    let security: ClientCurve | undefined;
    if (v.key || v['server-key']) {
      if (!v.key || !v['server-key']) throw new UsageError('CURVE needs both --key (this client\'s secret key file) and --server-key (the daemon\'s public key file)');
      const secretKey = await readKeyFile(v.key, 'secret');
      const publicKey = await readKeyFile(v.key.replace(/\.key$/, '.pub'), 'public');
      security = { secretKey, publicKey, serverPublicKey: await readKeyFile(v['server-key'], 'public') };
    }
    const timeoutMs = flag.int('timeout', v.timeout, { min: 1, max: 600_000, default: 10_000 });
    const connect = () => OpsClient.connect(v.ops!, { timeoutMs, ...(security ? { security } : {}) });
    if (cmd === 'bundle') {
      try {
        return await bundleCommand(arg, pos[2], connect, { json: v.json ?? false, activate: v.activate ?? false, force: v.force ?? false, rollback: v.rollback ?? false, wait: !v['no-wait'], timeoutMs });
      } catch (err) {
        if (err instanceof UsageError) throw err;
        const e = err as OpsCallError;
        if (v.json) process.stdout.write(`${JSON.stringify({ ok: false, code: e.code ?? 'error', error: e.message })}\n`);
        process.stderr.write(`vlad ctl bundle: ${e.code ? `${e.code}: ` : ''}${e.message}\n`);
        return 1;
      }
    }
    const [method, params] = request(cmd, arg, pos[2], v);
    const client = await connect();
    try {
      const result = await client.call(method, params, { timeoutMs });
      if (v.json) process.stdout.write(`${JSON.stringify(result)}\n`);
      else process.stdout.write(`${describe(method, result as Record<string, any>)}\n`);
      return 0;
    } catch (err) {
      const e = err as OpsCallError;
      if (v.json) process.stdout.write(`${JSON.stringify({ ok: false, code: e.code ?? 'error', error: e.message })}\n`);
      process.stderr.write(`vlad ctl ${cmd}: ${e.code ? `${e.code}: ` : ''}${e.message}\n`);
      return 1;
    } finally {
      await client.close();
    }
  });
}

type Values = { instruction?: string; task?: string; seed?: string; operator?: boolean; success?: boolean; failure?: boolean; truncated?: boolean };

/** The ops method and params for a ctl command line. */
function request(cmd: string, arg: string | undefined, id: string | undefined, v: Values): [string, Record<string, unknown>] {
  switch (cmd) {
    case 'status': return ['status', {}];
    case 'mode': return ['mode', { mode: flag.oneOf('mode', arg, ['idle', 'autonomous', 'teleop', 'intervention'] as const) }];
    case 'transition': return ['transition', { transition: flag.oneOf('transition', arg, ['configure', 'activate', 'deactivate', 'cleanup', 'shutdown'] as const) }];
    case 'hard-stop': return ['hard_stop', {}];
    case 'release': return ['release', {}];
    case 'instruction': if (!arg) throw new UsageError('instruction TEXT'); return ['instruction', { instruction: arg }];
    case 'operator': return ['operator', { enabled: flag.oneOf('operator', arg, ['on', 'off'] as const) === 'on' }];
    case 'train': return [`train.${flag.oneOf('train', arg, ['status', 'pause', 'resume', 'now'] as const)}`, {}];
    case 'adapter': {
      const sub = flag.oneOf('adapter', arg, ['list', 'activate', 'rollback'] as const);
      if (sub !== 'activate') return [`adapter.${sub}`, {}];
      if (!id) throw new UsageError('adapter activate ID (an id from `adapter list`, or base)');
      return ['adapter.activate', { id }];
    }
    case 'episode':
      if (arg === 'start') {
        if (!v.instruction && !v.task) throw new UsageError('episode start needs --instruction TEXT or --task T');
        return ['episode.start', {
          ...(v.instruction ? { instruction: v.instruction } : {}),
          ...(v.task ? { task: flag.oneOf('task', v.task, ['pick', 'place', 'touch'] as const) } : {}),
          ...(v.seed !== undefined ? { seed: flag.int('seed', v.seed, { min: 0, max: 2147483647 }) } : {}),
          ...(v.operator ? { operator: true } : {}),
        }];
      }
      if (arg === 'stop') {
        if ([v.success, v.failure, v.truncated].filter(Boolean).length !== 1) throw new UsageError('episode stop needs exactly one of --success, --failure, --truncated');
        return ['episode.stop', { success: v.success === true, ...(v.truncated ? { truncated: true } : {}) }];
      }
      throw new UsageError(`episode ${arg ?? ''}: expected start or stop`);
    default: throw new UsageError(`unknown command '${cmd}'`);
  }
}
