// `vlad ctl bundle ...`: over-the-air swaps from the operator's side. A push sends the signed
// manifest, then each file in chunks at explicit offsets; a dropped link or a restarted daemon is
// resumed where the daemon says it stands. After a push (or install, activate, rollback) ctl
// follows the daemon's `bundle.status` until the outcome: installed, committed after the health
// window, rolled back, or refused, printing one line per stage.
import { open, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import process from 'node:process';
import { OpsCallError, OpsClient } from '../io/zmq/index.js';
import { UsageError } from './args.js';

export const BUNDLE_USAGE = `  bundle status | list
  bundle push DIR [--activate [--force]] [--no-wait]    upload a signed bundle (chunked, resumable)
  bundle install PATH [--activate [--force]]            a bundle already on the robot's disk
  bundle activate NAME@VERSION|configured [--force] [--rollback]
  bundle rollback                                       back to the last known good bundle`;

const CHUNK = 256 * 1024;
const RETRIES = 8;

export interface BundleCtlOptions { json: boolean; activate: boolean; force: boolean; rollback: boolean; wait: boolean; timeoutMs: number }

type Connect = () => Promise<OpsClient>;
type Status = { running: string; stage: { bundle: string; stage: string } | null; health: Record<string, unknown> | null; last_outcome: Record<string, any> | null; state: Record<string, unknown> | null };

// Progress goes to stderr in every mode: --json keeps stdout for the one answer.
const say = (_o: BundleCtlOptions, line: string) => { process.stderr.write(`${line}\n`); };

export async function bundleCommand(sub: string | undefined, arg: string | undefined, connect: Connect, o: BundleCtlOptions): Promise<number> {
  let client = await connect();
  try {
    // Commands that start work follow it to its outcome: the one before marks where to start.
    const follow = o.wait && sub !== 'status' && sub !== 'list';
    const outcomeBefore = follow ? ((await client.call<Status>('bundle.status')).last_outcome?.at as string | undefined) ?? null : null;
    const activation = { ...(o.force ? { force: true } : {}), ...(o.rollback ? { rollback: true } : {}) };
    let result: unknown;
    switch (sub) {
      case 'status': result = await client.call('bundle.status'); break;
      case 'list': result = await client.call('bundle.list'); break;
      case 'push': {
        if (!arg) throw new UsageError('bundle push DIR');
        const r = await push(arg, () => client, async () => { await client.close(); client = await connect(); return client; }, o);
        result = await client.call('bundle.upload.finish', { upload_id: r.uploadId, ...(o.activate ? { activate: true } : {}), ...activation });
        break;
      }
      case 'install':
        if (!arg) throw new UsageError('bundle install PATH');
        result = await client.call('bundle.install', { path: arg, ...(o.activate ? { activate: true } : {}), ...activation }, { timeoutMs: Math.max(o.timeoutMs, 120_000) });
        break;
      case 'activate':
        if (!arg) throw new UsageError('bundle activate NAME@VERSION (or configured)');
        result = await client.call('bundle.activate', { bundle: arg, ...activation });
        break;
      case 'rollback': result = await client.call('bundle.rollback'); break;
      default: throw new UsageError(`bundle ${sub ?? ''}: expected status, list, push, install, activate or rollback`);
    }
    if (!follow) {
      process.stdout.write(o.json ? `${JSON.stringify(result)}\n` : `${describe(sub!, result)}\n`);
      return 0;
    }
    const outcome = await followOutcome(client, outcomeBefore, o);
    process.stdout.write(o.json ? `${JSON.stringify(outcome)}\n` : `${outcome.outcome}: ${outcome.bundle}${outcome.reason ? ` (${outcome.reason})` : ''}${outcome.health ? `; health ${JSON.stringify(outcome.health)}` : ''}\n`);
    return outcome.outcome === 'refused' || outcome.outcome === 'rolled_back' ? 1 : 0;
  } finally {
    await client.close();
  }
}

/** Sends every byte the daemon does not have yet; on a dropped link, reconnects and asks again. */
async function push(dir: string, current: () => OpsClient, reconnect: () => Promise<OpsClient>, o: BundleCtlOptions): Promise<{ uploadId: string }> {
  const manifest = await readFile(join(dir, 'manifest.json'), 'utf8').catch((err: NodeJS.ErrnoException) => { throw new UsageError(`bundle push: no bundle at ${dir} (${err.code ?? err.message})`); });
  let attempt = 0;
  let uploadId: string | undefined;
  const started = performance.now();
  let lastPrint = 0;
  for (;;) {
    try {
      const st = await current().call<{ upload_id: string; bundle: string; bytes: number; have: number; files: { name: string; bytes: number; have: number }[] }>('bundle.upload.begin', { manifest });
      uploadId = st.upload_id;
      let sent = st.have;
      if (attempt > 0 || st.have > 0) say(o, `push ${st.bundle}: resuming at ${(st.have / 2 ** 20).toFixed(2)} of ${(st.bytes / 2 ** 20).toFixed(2)} MB`);
      for (const f of st.files) {
        if ((await stat(join(dir, f.name))).size !== f.bytes) throw new UsageError(`bundle push: ${f.name} is not the size the signed manifest says (${f.bytes} bytes)`);
        const fh = await open(join(dir, f.name), 'r');
        try {
          let offset = f.have;
          while (offset < f.bytes) {
            const buf = Buffer.alloc(Math.min(CHUNK, f.bytes - offset));
            await fh.read(buf, 0, buf.length, offset);
            const r = await current().call<{ have: number; accepted: boolean }>('bundle.upload.chunk', { upload_id: st.upload_id, file: f.name, offset, data: buf });
            sent += r.have - offset;
            offset = r.have;
            if (performance.now() - lastPrint > 1000 || sent === st.bytes) {
              lastPrint = performance.now();
              const s = (performance.now() - started) / 1000;
              say(o, `push ${st.bundle}: ${(sent / 2 ** 20).toFixed(2)}/${(st.bytes / 2 ** 20).toFixed(2)} MB (${Math.round((100 * sent) / st.bytes)}%), ${(sent / 2 ** 20 / Math.max(s, 1e-3)).toFixed(1)} MB/s`);
            }
          }
        } finally {
          await fh.close();
        }
      }
      return { uploadId: st.upload_id };
    } catch (err) {
      // Refusals are final (the staged upload is deleted: a client that stops leaves nothing behind);
      // a timeout or a closed link is retried from where the daemon stands.
      const retry = err instanceof OpsCallError && (err.code === 'timeout' || err.code === 'closed') && ++attempt <= RETRIES;
      if (!retry) {
        if (uploadId && err instanceof OpsCallError && err.code !== 'timeout' && err.code !== 'closed') await current().call('bundle.upload.abort', { upload_id: uploadId }).catch(() => undefined);
        throw err;
      }
      say(o, `push: ${err.message}; reconnecting (${attempt}/${RETRIES})`);
      await new Promise((r) => setTimeout(r, Math.min(8000, 250 * 2 ** attempt)));
      await reconnect();
    }
  }
}

/** Polls bundle.status until a new outcome appears, printing each stage once. */
async function followOutcome(client: OpsClient, before: string | null, o: BundleCtlOptions): Promise<Record<string, any>> {
  let lastStage = '';
  for (;;) {
    const s = await client.call<Status>('bundle.status');
    const stage = s.stage ? `${s.stage.bundle}: ${s.stage.stage}` : '';
    if (stage && stage !== lastStage) say(o, `${stage}${s.health ? ` (${JSON.stringify(s.health)})` : ''}`);
    lastStage = stage;
    const out = s.last_outcome;
    if (out && out.at !== before) return out;
    await new Promise((r) => setTimeout(r, 300));
  }
}

function describe(sub: string, r: unknown): string {
  const x = r as Record<string, any>;
  if (sub === 'status') {
    return [
      `running ${x.running}; last good ${x.state?.last_good ?? '-'}${x.state?.trial ? `; on trial ${x.state.trial.bundle}` : ''}`,
      `stage ${x.stage ? `${x.stage.bundle} ${x.stage.stage} (${x.stage.for_s} s)` : 'idle'}${x.health ? `; health window ${x.health.chunks}/${x.health.window.chunks} chunks, ${x.health.seconds}/${x.health.window.seconds} s` : ''}`,
      `last ${x.last_outcome ? `${x.last_outcome.outcome} ${x.last_outcome.bundle}${x.last_outcome.reason ? `: ${x.last_outcome.reason}` : ''}` : '-'}`,
      `trusted keys ${(x.trusted_keys as string[]).join(', ') || 'none'} (threshold ${x.threshold})${x.enabled ? '' : '; OTA off (ota.dir unset)'}`,
    ].join('\n');
  }
  if (sub === 'list') {
    const rows = (x.bundles as { bundle: string; active: boolean; last_good: boolean; ran: boolean }[]).map((b) => `${b.active ? '*' : ' '} ${b.bundle}${b.last_good ? ' (last good)' : ''}${b.ran ? '' : ' (never committed)'}`);
    return [...(rows.length ? rows : ['(no bundles installed; the configured one runs)']), ...(x.uploads.length ? [`uploads in progress: ${x.uploads.join(', ')}`] : [])].join('\n');
  }
  return `ok: ${JSON.stringify(r)}`;
}
