// `npm start` (`vlad demo`): the daemon (`vlad run`, a child process) on the simulated robot with
// the shipped model, driven over its ops socket as any operator would drive it: a few tasks in
// autonomous mode, then one episode in intervention mode where the scripted operator supervises
// the policy as a person would: it takes over when the policy stalls, closes the gripper on
// nothing, drifts off or runs out of time, finishes the task and hands back. Every episode is
// recorded; a summary says how it went. --variation runs it all in a varied world.
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import process from 'node:process';
import { fileURLToPath } from 'node:url';
import { OpsClient, TelemetrySubscriber, type TelemetryMessage } from '../io/zmq/index.js';
import { TASK_NAMES } from '../sim/index.js';
import { command, flag } from './args.js';

const USAGE = 'vlad demo [--episodes N] [--bundle DIR] [--record DIR] [--seed S] [--variation KEY=VALUE[,...]]';

interface EpisodeEvent { id: string; instruction: string; success: boolean; truncated: boolean; reason: string; steps: number; sources: Record<string, number>; scene?: { task: string; takeovers?: { reason: string; atS: number }[] } }

const say = (line: string) => process.stdout.write(`${line}\n`);
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

async function waitFor<T>(what: string, timeoutMs: number, poll: () => Promise<T | undefined>): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await poll();
    if (v !== undefined) return v;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await sleep(200);
  }
}

export async function run(args: string[]): Promise<number> {
  return command({ name: 'demo', usage: USAGE, options: { episodes: { type: 'string' }, bundle: { type: 'string' }, record: { type: 'string' }, seed: { type: 'string' }, variation: { type: 'string' } } }, args, async (v) => {
    const variation = v.variation !== undefined ? flag.variation('variation', v.variation) : '';
    const episodes = flag.int('episodes', v.episodes, { min: 1, max: 1000, default: 2 });
    const seed = flag.int('seed', v.seed, { min: 0, max: 2 ** 31 - 1, default: 0 });
    const work = await mkdtemp(join(tmpdir(), 'vlad-demo-'));
    const record = v.record ?? join(work, 'data');
    const ops = `ipc://${join(work, 'ops.sock')}`, telemetry = `ipc://${join(work, 'telemetry.sock')}`, teleop = `ipc://${join(work, 'teleop.sock')}`;
    const logPath = join(work, 'daemon.log');
    const main = fileURLToPath(new URL('./main.js', import.meta.url));
    const daemonArgs = [main, 'run', '--robot', 'sim', '--record', record, '--dataset', 'vlad_demo', '--ops', ops, '--telemetry', telemetry, '--teleop', teleop, '--mode', 'idle', ...(v.bundle ? ['--bundle', v.bundle] : []), ...(variation ? ['--variation', variation] : [])];
    say(`demo: starting the daemon: vlad ${daemonArgs.slice(1).join(' ')}`);
    say(`demo: its log: ${logPath}`);
    const child: ChildProcess = spawn(process.execPath, daemonArgs, { stdio: ['ignore', 'ignore', 'pipe'] });
    const log = createWriteStream(logPath);
    child.stderr!.pipe(log);
    let exited: number | null | undefined;
    const exit = new Promise<number | null>((r) => child.on('exit', (code) => { exited = code; r(code); }));
    const client = await OpsClient.connect(ops, { timeoutMs: 10_000 });
    const sub = await TelemetrySubscriber.connect(telemetry);
    sub.subscribe(['episode']);
    try {
      const status = await waitFor('the daemon to become active', 120_000, async () => {
        if (exited !== undefined) throw new Error(`the daemon exited (code ${exited}); see ${logPath}`);
        const s = await client.call('status', {}, { timeoutMs: 2000 }).catch(() => undefined) as Record<string, any> | undefined;
        if (s?.last_error) throw new Error(`the daemon could not start: ${s.last_error}`);
        return s?.lifecycle === 'active' ? s : undefined;
      });
      say(`demo: daemon active: ${status.bundle.name}@${status.bundle.version} on ${status.robot.name}, control ${status.control.rate_hz} Hz (${status.control.join}), recording to ${status.recorder.dataset}`);
      const results: { task: string; mode: string; e: EpisodeEvent }[] = [];
      const runEpisode = async (task: string, s: number, mode: string, during?: () => Promise<void>): Promise<EpisodeEvent> => {
        const started = await client.call('episode.start', { task, seed: s }) as { id: string; instruction: string };
        say(`demo: ${mode} episode ${started.id}: "${started.instruction}"`);
        await during?.();
        for (;;) {
          const m: TelemetryMessage = await sub.next(120_000);
          const e = m.body as EpisodeEvent;
          if (e.id === started.id) {
            results.push({ task, mode, e });
            say(`demo:   ${e.success ? 'success' : 'failure'} in ${e.steps} steps (${(e.steps / status.control.rate_hz).toFixed(1)} s)${e.truncated ? ', truncated' : ''}; steps by source ${JSON.stringify(e.sources)}`);
            return e;
          }
        }
      };
      await client.call('mode', { mode: 'autonomous' });
      for (const [ti, task] of TASK_NAMES.entries()) for (let ep = 0; ep < episodes; ep++) await runEpisode(task, seed + 1000 * ti + ep, 'autonomous');
      // Intervention: the policy commands; the scripted operator supervises from the episode's start
      // and takes over only when the policy goes wrong (the daemon records who commanded every step).
      await client.call('mode', { mode: 'intervention' });
      const supervised = await runEpisode('pick', seed + 7000, 'intervention', async () => {
        await client.call('operator', { enabled: true });
        say('demo:   the scripted operator supervises the policy');
      });
      for (const t of supervised.scene?.takeovers ?? []) say(`demo:   it took over at ${t.atS.toFixed(1)} s (${t.reason})`);
      const final = await client.call('status', {}) as Record<string, any>;
      say('');
      say('summary');
      for (const task of TASK_NAMES) {
        const mine = results.filter((r) => r.task === task && r.mode === 'autonomous');
        say(`  ${task.padEnd(6)} ${mine.filter((r) => r.e.success).length}/${mine.length} successful (autonomous)`);
      }
      const iv = results.find((r) => r.mode === 'intervention')!.e;
      say(`  intervention episode: ${iv.success ? 'success' : 'failure'}; steps by source ${JSON.stringify(iv.sources)}; takeovers ${JSON.stringify((iv.scene?.takeovers ?? []).map((t) => t.reason))}`);
      const c = final.control;
      say(`  control ${c.rate_hz} Hz, jitter p50 ${c.jitter_ms?.p50} ms, p99 ${c.jitter_ms?.p99} ms, max ${c.jitter_ms?.max} ms, deadline misses ${c.deadline_misses}`);
      say(`  planner round trip p50 ${final.planner.latency_ms?.p50} ms, p99 ${final.planner.latency_ms?.p99} ms; inference delay d p50 ${final.planner.delay_steps?.p50} steps`);
      say(`  episodes recorded: ${final.recorder.episodes} (${final.recorder.steps} steps, ${final.recorder.droppedFrames} dropped) in ${final.recorder.dataset}`);
      say(`  read it: npx vlad rlds info ${join(record, 'vlad_demo')}`);
      await client.call('transition', { transition: 'shutdown' });
      const code = await Promise.race([exit, sleep(10_000).then(() => 'timeout' as const)]);
      if (code !== 0) throw new Error(`the daemon did not exit cleanly (${code}); see ${logPath}`);
      say('demo: daemon shut down cleanly');
      return 0;
    } finally {
      await client.close();
      await sub.close();
      if (exited === undefined) child.kill('SIGTERM');
      await exit;
      log.end();
    }
  });
}
