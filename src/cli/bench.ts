// `vlad bench control|delay|ops|ros ...`; anything else is the policy engine's `vlad bench --bundle`.
// Benchmarks print figures (one JSON object with --json); they are not timed tests.
import process from 'node:process';
import { existsSync } from 'node:fs';
import { loadavg } from 'node:os';
import { isIdlePollMode, IDLE_POLL_MODES } from '../core/index.js';
import { JOIN_METHODS } from '../control/index.js';
import { TASK_NAMES } from '../sim/index.js';
import { command, flag, UsageError } from './args.js';

const CONTROL_USAGE = 'vlad bench control [--rate HZ] [--duration S] [--join replace|ensemble|rtc] [--output forward|trajectory] [--warm-up-ticks N] [--bundle DIR] [--profile NAME] [--no-record] [--metrics-port P] [--seed N] [--nice N] [--fifo PRIO] [--wait block|poll] [--no-priority] [--idle-poll auto|on|off] [--json]';
const DELAY_USAGE = 'vlad bench delay [--delays 0,100,200,300] [--methods replace,ensemble,rtc] [--tasks pick,place,touch] [--episodes N] [--smooth-episodes N] [--smooth-steps N] [--success model|expert] [--bundle DIR] [--profile NAME] [--seed N] [--json]';
const OPS_USAGE = 'vlad bench ops [--rate HZ] [--duration S] [--request-rate N] [--bundle DIR] [--profile NAME] [--json]';
const SERVE_USAGE = 'vlad bench serve [--requests N] [--rate HZ] [--bundle DIR] [--profile NAME] [--json]';
const SERVE_CLIENT_USAGE = 'vlad bench serve-client --protocol gr00t|openpi --endpoint E --clients N --requests N --spec JSON   (the load generator of bench serve)';
const SWAP_USAGE = 'vlad bench swap [--swaps N] [--rate HZ] [--quiet S] [--health-chunks N] [--health-s S] [--profile NAME] [--json]';
const FAULTS_USAGE = 'vlad bench ota-faults [--trials N] [--kill-trials N] [--kill-at STAGE[,STAGE...]] [--profile NAME] [--json]   (run from a checkout: uses test/fixtures/ota)';
const ROS_USAGE = 'vlad bench ros [--duration S] [--task pick|place|touch] [--seed N] [--bundle DIR] [--profile NAME] [--json]   (needs ROS 2 sourced: starts vlad sim-ros, then the daemon with --robot ros; --robot sim as the baseline)';
const TRAIN_USAGE = 'vlad bench train --data DATASET_DIR [--steps N] [--stride K] [--normal-priority] [--loop-seconds S] [--preemptions K] [--rate HZ] [--torch] [--bundle DIR] [--json]   (record one with vlad collect)';
const OPS_CLIENT_USAGE = 'vlad bench ops-client --ops ENDPOINT [--request-rate N] [--duration S]   (the load generator of bench ops)';

const progress = (l: string) => process.stderr.write(`${l}\n`);
const print = (out: unknown, json: boolean) => process.stdout.write(json ? `${JSON.stringify(out)}\n` : `${JSON.stringify(out, null, 2)}\n`);

export async function run(args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  switch (sub) {
    case 'control': return control(rest);
    case 'delay': return delay(rest);
    case 'ops': return ops(rest);
    case 'ops-client': return opsClient(rest);
    case 'serve': return serve(rest);
    case 'serve-client': return serveClient(rest);
    case 'swap': return swap(rest);
    case 'ota-faults': return otaFaults(rest);
    case 'ros': return ros(rest);
    case 'train': return train(rest);
    default: return (await import('./bench-policy.js')).run(args);
  }
}

function train(args: string[]): Promise<number> {
  return command({
    name: 'bench train', usage: TRAIN_USAGE,
    options: {
      data: { type: 'string' }, steps: { type: 'string' }, stride: { type: 'string' }, bundle: { type: 'string' }, 'normal-priority': { type: 'boolean', default: false },
      'loop-seconds': { type: 'string' }, preemptions: { type: 'string' }, rate: { type: 'string' }, torch: { type: 'boolean', default: false }, json: { type: 'boolean', default: false },
    },
  }, args, async (v) => {
    const { benchTrain, benchTrainLoop, runTorchReference, torchReferenceCommand } = await import('./bench-train.js');
    const data = flag.required('data', v.data);
    if (!existsSync(data)) throw new UsageError(`--data: no dataset at ${data} (record one with vlad collect)`);
    const steps = flag.int('steps', v.steps, { min: 1, max: 100_000, default: 200 });
    const loopSeconds = flag.num('loop-seconds', v['loop-seconds'] ?? '15', { min: 0, max: 3600 });
    const preemptions = flag.int('preemptions', v.preemptions, { min: 1, max: 1000, default: 10 });
    const rateHz = flag.num('rate', v.rate ?? '100', { min: 1, max: 2000 });
    // 1. the trainer alone, through the scheduler's training lane
    const out: Record<string, unknown> = await benchTrain({
      data, bundle: v.bundle, progress, idlePriority: !v['normal-priority'], steps,
      stride: flag.int('stride', v.stride, { min: 1, max: 1000, default: 4 }),
    });
    // 2. the same step in PyTorch, same machine, batch and threads (the ratio to beat); after 1, never beside it
    const command = torchReferenceCommand(steps);
    if (v.torch) {
      progress(`bench train: the PyTorch reference: ${command.join(' ')}`);
      const ref = runTorchReference(steps);
      const eager = (ref.eager as { steps_per_s: number }).steps_per_s;
      out.torch_reference = { command: command.join(' '), ...ref, vlad_vs_torch_eager: Number(((out.train_steps_per_s as number) / eager).toFixed(2)) };
    } else {
      out.torch_reference = { command: command.join(' '), note: 'not run: add --torch (needs python3-torch)' };
    }
    // 3. the daemon's control loop without and with training, and preemption by episodes
    if (loopSeconds > 0) out.loop = await benchTrainLoop({ data, bundle: v.bundle, rateHz, seconds: loopSeconds, preemptions, progress });
    print(out, v.json!);
    return 0;
  });
}

function control(args: string[]): Promise<number> {
  return command({
    name: 'bench control', usage: CONTROL_USAGE,
    options: {
      rate: { type: 'string' }, duration: { type: 'string' }, join: { type: 'string' }, output: { type: 'string' }, 'warm-up-ticks': { type: 'string' },
      bundle: { type: 'string' }, profile: { type: 'string', default: 'cpu' }, 'no-record': { type: 'boolean', default: false }, 'metrics-port': { type: 'string' },
      seed: { type: 'string' }, nice: { type: 'string' }, fifo: { type: 'string' }, wait: { type: 'string' }, 'no-priority': { type: 'boolean', default: false },
      'idle-poll': { type: 'string' }, json: { type: 'boolean', default: false },
    },
  }, args, async (v) => {
    const fifo = flag.int('fifo', v.fifo, { min: 0, max: 99, default: 50 });
    const idlePoll = v['idle-poll'];
    if (idlePoll !== undefined && !isIdlePollMode(idlePoll)) throw new UsageError(`--idle-poll: expected one of ${IDLE_POLL_MODES.join(', ')}, got '${idlePoll}'`);
    const { benchControl } = await import('./bench-control.js');
    const out = await benchControl({
      rateHz: flag.num('rate', v.rate, { min: 1, max: 1000, default: 100 }),
      durationS: flag.num('duration', v.duration, { min: 0.1, max: 3600, default: 10 }),
      join: flag.oneOf('join', v.join, JOIN_METHODS, 'rtc'),
      output: flag.oneOf('output', v.output, ['forward', 'trajectory'] as const, 'forward'),
      warmUpTicks: flag.int('warm-up-ticks', v['warm-up-ticks'], { min: 0, max: 1_000_000, default: 3000 }),
      bundle: v.bundle, profile: v.profile!, record: !v['no-record'],
      metricsPort: v['metrics-port'] !== undefined ? flag.int('metrics-port', v['metrics-port'], { min: 0, max: 65535 }) : undefined,
      seed: flag.int('seed', v.seed, { min: 0, max: 2 ** 31 - 1, default: 0 }),
      priority: v['no-priority'] ? false : { nice: flag.int('nice', v.nice, { min: -20, max: 19, default: -10 }), ...(fifo > 0 ? { fifo } : {}) },
      idlePoll, wait: flag.oneOf('wait', v.wait, ['block', 'poll'] as const, 'block'), progress,
    });
    print(out, v.json ?? false);
    return 0;
  });
}

function ros(args: string[]): Promise<number> {
  return command({
    name: 'bench ros', usage: ROS_USAGE,
    options: { duration: { type: 'string' }, task: { type: 'string' }, seed: { type: 'string' }, bundle: { type: 'string' }, profile: { type: 'string', default: 'cpu' }, json: { type: 'boolean', default: false } },
  }, args, async (v) => {
    const { benchRos } = await import('./bench-ros.js');
    print(await benchRos({
      durationS: flag.num('duration', v.duration, { min: 1, max: 3600, default: 10 }),
      task: flag.oneOf('task', v.task, TASK_NAMES, 'pick'), seed: flag.int('seed', v.seed, { min: 0, max: 2 ** 31 - 1, default: 0 }),
      bundle: v.bundle, profile: v.profile!, progress,
    }), v.json ?? false);
    return 0;
  });
}

function swap(args: string[]): Promise<number> {
  return command({
    name: 'bench swap', usage: SWAP_USAGE,
    options: { swaps: { type: 'string' }, rate: { type: 'string' }, quiet: { type: 'string' }, 'health-chunks': { type: 'string' }, 'health-s': { type: 'string' }, profile: { type: 'string', default: 'cpu' }, json: { type: 'boolean', default: false } },
  }, args, async (v) => {
    const { benchSwap } = await import('./bench-ota.js');
    print(await benchSwap({
      swaps: flag.int('swaps', v.swaps, { min: 1, max: 1000, default: 6 }), rateHz: flag.num('rate', v.rate, { min: 1, max: 1000, default: 100 }),
      quietS: flag.num('quiet', v.quiet, { min: 1, max: 3600, default: 10 }), healthChunks: flag.int('health-chunks', v['health-chunks'], { min: 1, max: 10_000, default: 20 }),
      healthS: flag.num('health-s', v['health-s'], { min: 0.1, max: 3600, default: 3 }), profile: v.profile!, progress,
    }), v.json ?? false);
    return 0;
  });
}

function otaFaults(args: string[]): Promise<number> {
  return command({
    name: 'bench ota-faults', usage: FAULTS_USAGE,
    options: { trials: { type: 'string' }, 'kill-trials': { type: 'string' }, 'kill-at': { type: 'string' }, profile: { type: 'string', default: 'cpu' }, json: { type: 'boolean', default: false } },
  }, args, async (v) => {
    const { benchOtaFaults, KILL_AT } = await import('./bench-ota.js');
    // --trials 0 --kill-at health: one shard of the kill suite alone (shards run as separate processes).
    const killAt = v['kill-at']?.split(',').map((x) => {
      const at = KILL_AT.find((k) => k === x.trim());
      if (!at) throw new UsageError(`--kill-at: '${x}' is not a stage (${KILL_AT.join(', ')})`);
      return at;
    });
    print(await benchOtaFaults({
      trials: flag.int('trials', v.trials, { min: 0, max: 10_000, default: 10 }), killTrials: flag.int('kill-trials', v['kill-trials'], { min: 0, max: 1000, default: 3 }),
      ...(killAt ? { killAt } : {}), profile: v.profile!, progress,
    }), v.json ?? false);
    return 0;
  });
}

function delay(args: string[]): Promise<number> {
  return command({
    name: 'bench delay', usage: DELAY_USAGE,
    options: {
      delays: { type: 'string', default: '0,100,200,300' }, methods: { type: 'string', default: 'replace,ensemble,rtc' }, tasks: { type: 'string', default: 'pick,place,touch' },
      episodes: { type: 'string' }, 'smooth-episodes': { type: 'string' }, 'smooth-steps': { type: 'string' }, success: { type: 'string' },
      bundle: { type: 'string' }, profile: { type: 'string', default: 'cpu' }, seed: { type: 'string' }, json: { type: 'boolean', default: false },
    },
  }, args, async (v) => {
    const { benchDelay } = await import('./bench-delay.js');
    const out = await benchDelay({
      delaysMs: flag.list('delays', v.delays!, (d) => flag.num('delays', d, { min: 0, max: 5000 })),
      methods: flag.list('methods', v.methods!, (m) => flag.oneOf('methods', m, JOIN_METHODS)),
      tasks: flag.list('tasks', v.tasks!, (t) => flag.oneOf('tasks', t, TASK_NAMES)),
      successPlanner: flag.oneOf('success', v.success, ['model', 'expert'] as const, 'model'),
      episodes: flag.int('episodes', v.episodes, { min: 1, max: 1000, default: 2 }),
      // Chunks run ~40 steps: 4 x 500 steps gives ~50 boundaries a cell.
      smoothEpisodes: flag.int('smooth-episodes', v['smooth-episodes'], { min: 0, max: 100, default: 4 }),
      smoothSteps: flag.int('smooth-steps', v['smooth-steps'], { min: 10, max: 100_000, default: 500 }),
      bundle: v.bundle, profile: v.profile!, seed: flag.int('seed', v.seed, { min: 0, max: 2 ** 31 - 1, default: 0 }), progress,
    });
    print({ ...out, load_avg: loadavg() }, v.json ?? false);
    return 0;
  });
}

function ops(args: string[]): Promise<number> {
  return command({
    name: 'bench ops', usage: OPS_USAGE,
    options: { rate: { type: 'string' }, duration: { type: 'string' }, 'request-rate': { type: 'string' }, bundle: { type: 'string' }, profile: { type: 'string', default: 'cpu' }, json: { type: 'boolean', default: false } },
  }, args, async (v) => {
    const { benchOps } = await import('./bench-ops.js');
    const out = await benchOps({
      rateHz: flag.num('rate', v.rate, { min: 1, max: 1000, default: 100 }),
      durationS: flag.num('duration', v.duration, { min: 0.5, max: 3600, default: 10 }),
      requestRate: flag.num('request-rate', v['request-rate'], { min: 0.1, max: 10_000, default: 100 }),
      bundle: v.bundle, profile: v.profile!, progress,
    });
    print(out, v.json ?? false);
    return 0;
  });
}

function opsClient(args: string[]): Promise<number> {
  return command({
    name: 'bench ops-client', usage: OPS_CLIENT_USAGE,
    options: { ops: { type: 'string' }, 'request-rate': { type: 'string' }, duration: { type: 'string' } },
  }, args, async (v) => {
    const { opsLoad } = await import('./bench-ops.js');
    const out = await opsLoad(flag.required('ops', v.ops), flag.num('request-rate', v['request-rate'], { min: 0.1, max: 10_000, default: 100 }), flag.num('duration', v.duration, { min: 0.1, max: 3600, default: 10 }), () => process.stdout.write('COUNTING\n'));
    process.stdout.write(`${JSON.stringify(out)}\n`);
    return 0;
  });
}

function serve(args: string[]): Promise<number> {
  return command({
    name: 'bench serve', usage: SERVE_USAGE,
    options: { requests: { type: 'string' }, rate: { type: 'string' }, bundle: { type: 'string' }, profile: { type: 'string', default: 'cpu' }, json: { type: 'boolean', default: false } },
  }, args, async (v) => {
    const { benchServe } = await import('./bench-serve.js');
    const out = await benchServe({
      requests: flag.int('requests', v.requests, { min: 5, max: 100_000, default: 100 }),
      rateHz: flag.num('rate', v.rate, { min: 1, max: 1000, default: 100 }),
      bundle: v.bundle, profile: v.profile!, progress,
    });
    print(out, v.json ?? false);
    return 0;
  });
}

function serveClient(args: string[]): Promise<number> {
  return command({
    name: 'bench serve-client', usage: SERVE_CLIENT_USAGE,
    options: { protocol: { type: 'string' }, endpoint: { type: 'string' }, clients: { type: 'string' }, requests: { type: 'string' }, spec: { type: 'string' } },
  }, args, async (v) => {
    const { serveLoad } = await import('./bench-serve.js');
    let spec: { cameras: { name: string; width: number; height: number }[]; stateDim: number };
    try { spec = JSON.parse(flag.required('spec', v.spec)) as typeof spec; } catch { throw new UsageError('--spec: not JSON'); }
    const out = await serveLoad(flag.oneOf('protocol', v.protocol, ['gr00t', 'openpi'] as const), flag.required('endpoint', v.endpoint), flag.int('clients', v.clients, { min: 1, max: 64, default: 1 }), flag.int('requests', v.requests, { min: 1, max: 100_000, default: 100 }), spec, () => process.stdout.write('COUNTING\n'));
    process.stdout.write(`${JSON.stringify(out)}\n`);
    return 0;
  });
}
