// `vlad bench control|delay ...`; anything else is the policy engine's `vlad bench --bundle`.
import { parseArgs } from 'node:util';
import { loadavg } from 'node:os';
import type { JoinMethod } from './action-queue.js';
import { isTaskName, type TaskName } from '../sim/tasks.js';
import { isIdlePollMode } from '../core/cpu-wake.js';

const USAGE = `usage:
  vlad bench control [--rate HZ] [--duration S] [--join replace|ensemble|rtc] [--output forward|trajectory] [--warm-up-ticks N] [--bundle DIR] [--profile NAME] [--no-record] [--metrics-port P] [--seed N] [--nice N] [--fifo PRIO] [--wait block|poll] [--no-priority] [--idle-poll auto|on|off] [--json]
  vlad bench delay [--delays 0,100,200,300] [--methods replace,ensemble,rtc] [--tasks pick,place,touch] [--episodes N] [--smooth-episodes N] [--smooth-steps N] [--success model|expert] [--bundle DIR] [--seed N] [--json]
  vlad bench --bundle DIR ...   (policy inference latency)`;

const METHODS: readonly JoinMethod[] = ['replace', 'ensemble', 'rtc'];

class UsageError extends Error {}

function num(name: string, v: string | undefined, min: number, max: number, integer = false): number {
  const x = Number(v);
  if (!Number.isFinite(x) || x < min || x > max || (integer && !Number.isInteger(x))) throw new UsageError(`--${name} must be ${integer ? 'an integer' : 'a number'} in [${min}, ${max}] (got '${v}')`);
  return x;
}

function method(v: string, flag: string): JoinMethod {
  if (!(METHODS as readonly string[]).includes(v)) throw new UsageError(`--${flag}: unknown joining method '${v}' (replace, ensemble, rtc)`);
  return v as JoinMethod;
}

export async function run(args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  if (sub !== 'control' && sub !== 'delay') return (await import('../cli/bench-policy.js')).run(args);
  try {
    return sub === 'control' ? await runControl(rest) : await runDelay(rest);
  } catch (err) {
    if (err instanceof UsageError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      process.stderr.write(`vlad bench ${sub}: ${(err as Error).message}\n${USAGE}\n`);
      return 2;
    }
    throw err;
  }
}

async function runControl(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      rate: { type: 'string', default: '100' },
      duration: { type: 'string', default: '10' },
      join: { type: 'string', default: 'rtc' },
      output: { type: 'string', default: 'forward' },
      'warm-up-ticks': { type: 'string', default: '3000' },
      bundle: { type: 'string', default: 'models/bundles/vlad-base-flow' },
      profile: { type: 'string', default: 'cpu' },
      'no-record': { type: 'boolean', default: false },
      'metrics-port': { type: 'string' },
      seed: { type: 'string', default: '0' },
      nice: { type: 'string', default: '-10' },
      wait: { type: 'string', default: 'block' },
      fifo: { type: 'string', default: '50' },
      'no-priority': { type: 'boolean', default: false },
      'idle-poll': { type: 'string' },
      json: { type: 'boolean', default: false },
    },
  });
  const fifo = num('fifo', values.fifo, 0, 99, true);
  if (values.output !== 'forward' && values.output !== 'trajectory') throw new UsageError(`--output must be forward or trajectory (got '${values.output}')`);
  const output: 'forward' | 'trajectory' = values.output;
  const priority = values['no-priority'] ? false as const : { nice: num('nice', values.nice, -20, 19, true), ...(fifo > 0 ? { fifo } : {}) };
  const idlePoll = values['idle-poll'];
  if (idlePoll !== undefined && !isIdlePollMode(idlePoll)) throw new UsageError(`--idle-poll must be auto, on or off (got '${idlePoll}')`);
  const { benchControl } = await import('./bench-control.js');
  const out = await benchControl({
    rateHz: num('rate', values.rate, 1, 1000),
    durationS: num('duration', values.duration, 0.1, 3600),
    join: method(values.join!, 'join'),
    output,
    warmUpTicks: num('warm-up-ticks', values['warm-up-ticks'], 0, 1_000_000, true),
    bundle: values.bundle!, profile: values.profile!,
    record: !values['no-record'],
    ...(values['metrics-port'] !== undefined ? { metricsPort: num('metrics-port', values['metrics-port'], 0, 65535, true) } : {}),
    seed: num('seed', values.seed, 0, 2 ** 31, true),
    priority,
    ...(idlePoll !== undefined ? { idlePoll } : {}),
    wait: values.wait === 'poll' ? 'poll' : values.wait === 'block' ? 'block' : (() => { throw new UsageError(`--wait must be block or poll (got '${values.wait}')`); })(),
    progress: (l) => process.stderr.write(`${l}\n`),
  });
  process.stdout.write(values.json ? `${JSON.stringify(out)}\n` : `${JSON.stringify(out, null, 2)}\n`);
  return 0;
}

async function runDelay(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      delays: { type: 'string', default: '0,100,200,300' },
      methods: { type: 'string', default: 'replace,ensemble,rtc' },
      tasks: { type: 'string', default: 'pick,place,touch' },
      episodes: { type: 'string', default: '2' },
      // Chunks run ~40 steps: 4 x 500 steps gives ~50 boundaries a cell.
      'smooth-episodes': { type: 'string', default: '4' },
      'smooth-steps': { type: 'string', default: '500' },
      success: { type: 'string', default: 'model' },
      bundle: { type: 'string', default: 'models/bundles/vlad-base-flow' },
      profile: { type: 'string', default: 'cpu' },
      seed: { type: 'string', default: '0' },
      json: { type: 'boolean', default: false },
    },
  });
  const list = (v: string) => v.split(',').map((s) => s.trim()).filter(Boolean);
  const delaysMs = list(values.delays!).map((d) => num('delays', d, 0, 5000));
  const methods = list(values.methods!).map((m) => method(m, 'methods'));
  const tasks = list(values.tasks!).map((t) => { if (!isTaskName(t)) throw new UsageError(`--tasks: unknown task '${t}'`); return t as TaskName; });
  if (!delaysMs.length || !methods.length || !tasks.length) throw new UsageError('--delays, --methods and --tasks need at least one entry');
  if (values.success !== 'model' && values.success !== 'expert') throw new UsageError(`--success: expected model or expert, got '${values.success}'`);
  const { benchDelay } = await import('./bench-delay.js');
  const out = await benchDelay({
    delaysMs, methods, tasks, successPlanner: values.success,
    episodes: num('episodes', values.episodes, 1, 1000, true),
    smoothEpisodes: num('smooth-episodes', values['smooth-episodes'], 0, 100, true),
    smoothSteps: num('smooth-steps', values['smooth-steps'], 10, 100_000, true),
    bundle: values.bundle!, profile: values.profile!, seed: num('seed', values.seed, 0, 2 ** 31, true),
    progress: (l) => process.stderr.write(`${l}\n`),
  });
  process.stdout.write(values.json ? `${JSON.stringify({ ...out, load_avg: loadavg() })}\n` : `${JSON.stringify(out, null, 2)}\n`);
  return 0;
}
