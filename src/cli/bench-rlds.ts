// `vlad rlds bench`: sustained recording at control rate while the main thread keeps time.
// Reports dropped frames, the recorder's CPU use (every thread but the main one, from
// /proc/self/task) and the main thread's event-loop lag.
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { mkdtemp, readFile, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import process from 'node:process';
import { command, flag, UsageError } from './args.js';
import { openRecorder, validateDataset, type ImageEncoding } from '../rlds/index.js';
import { raiseThreadPriority } from '../core/index.js';

const TICKS_PER_SEC = 100; // Linux USER_HZ

async function threadTicks(): Promise<{ total: number; main: number }> {
  let total = 0, main = 0;
  for (const tid of await readdir('/proc/self/task')) {
    try {
      const s = await readFile(`/proc/self/task/${tid}/stat`, 'utf8');
      const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
      const t = Number(f[11]) + Number(f[12]); // utime + stime
      total += t;
      if (Number(tid) === process.pid) main = t;
    } catch { /* thread exited */ }
  }
  return { total, main };
}

/** Camera-like frames: smooth gradients, a moving block, a little noise (so PNG/JPEG work realistically). */
function makeFrames(n: number, h: number, w: number, seed: number): Uint8Array[] {
  const frames: Uint8Array[] = [];
  let r = seed * 2654435761 >>> 0;
  for (let k = 0; k < n; k++) {
    const f = new Uint8Array(h * w * 3);
    const bx = Math.floor((k / n) * (w - 40)), by = Math.floor(h / 2 - 20);
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) {
      const i = (y * w + x) * 3;
      r = (r * 1664525 + 1013904223) >>> 0;
      const noise = (r >>> 28) - 8;
      const inBlock = x >= bx && x < bx + 40 && y >= by && y < by + 40;
      f[i] = inBlock ? 200 : Math.max(0, Math.min(255, ((x * 255) / w + noise) | 0));
      f[i + 1] = inBlock ? 40 : Math.max(0, Math.min(255, ((y * 255) / h + noise) | 0));
      f[i + 2] = inBlock ? 40 : (90 + seed * 40 + noise) & 255;
    }
    frames.push(f);
  }
  return frames;
}

async function dirBytes(dir: string): Promise<number> {
  let n = 0;
  for (const e of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (e.isFile()) n += (await stat(join(e.parentPath ?? (e as unknown as { path: string }).path, e.name))).size;
  }
  return n;
}

const SPEC = {
  name: 'rlds bench',
  usage: `vlad rlds bench [--seconds S] [--hz HZ] [--cameras N] [--size PX] [--encoding jpeg|png] [--episode-seconds S] [--out DIR] [--keep] [--baseline] [--no-control-priority] [--json]
  --seconds S            how long to record, 1 to 86400 (default 60); CPU time is counted in 10 ms ticks, so less says nothing
  --hz HZ                control rate, 1 to 1000 (default 50)
  --cameras N            cameras, 1 to 16 (default 3), each --size PX square, 16 to 2048 (default 224)
  --encoding jpeg|png    image encoding (default jpeg)
  --episode-seconds S    episode length (default 20)
  --out DIR              TFDS data_dir to record into (--dir DIR: the same); default a temporary one, removed after unless --keep
  --baseline             the same control loop without the recorder: the machine's own lag
  --no-control-priority  leave the main thread at its default priority
  --json                 the report as JSON`,
  options: {
    seconds: { type: 'string' }, hz: { type: 'string' }, cameras: { type: 'string' }, size: { type: 'string' },
    encoding: { type: 'string' }, 'episode-seconds': { type: 'string' }, out: { type: 'string' }, dir: { type: 'string' },
    keep: { type: 'boolean' }, baseline: { type: 'boolean' }, 'no-control-priority': { type: 'boolean' }, json: { type: 'boolean' },
  },
} as const;

interface BenchConfig {
  seconds: number;
  hz: number;
  cameras: number;
  size: number;
  encoding: ImageEncoding;
  episodeSteps: number;
  /** Where to record; undefined: a temporary data_dir. */
  out?: string;
  keep: boolean;
  /** Same control loop, no recorder: how much lag the machine itself has. */
  baseline: boolean;
  /** The recorder is tapped from the control thread, which runs above its workers (as in `bench control`). */
  controlPriority: boolean;
  json: boolean;
}

export function run(args: string[]): Promise<number> {
  return command(SPEC, args, (values) => {
    const hz = flag.num('hz', values.hz, { min: 1, max: 1000, default: 50 });
    const episodeSeconds = flag.num('episode-seconds', values['episode-seconds'], { min: 0, exclusiveMin: true, max: 86400, default: 20 });
    const episodeSteps = Math.round(episodeSeconds * hz);
    if (episodeSteps < 1) throw new UsageError(`--episode-seconds ${episodeSeconds} at ${hz} Hz is less than one step`);
    if (values.out !== undefined && values.dir !== undefined) throw new UsageError('--out and --dir are the same flag; give one');
    const out = values.out ?? values.dir;
    return bench({
      seconds: flag.num('seconds', values.seconds, { min: 1, max: 86400, default: 60 }), hz,
      cameras: flag.int('cameras', values.cameras, { min: 1, max: 16, default: 3 }),
      size: flag.int('size', values.size, { min: 16, max: 2048, default: 224 }),
      encoding: flag.oneOf('encoding', values.encoding, ['jpeg', 'png'] as const, 'jpeg'),
      episodeSteps, ...(out !== undefined ? { out: flag.required('out', out) } : {}),
      keep: values.keep ?? false, baseline: values.baseline ?? false, controlPriority: !values['no-control-priority'], json: values.json ?? false,
    });
  });
}

async function bench(cfg: BenchConfig): Promise<number> {
  const root = cfg.out ?? (await mkdtemp(join(tmpdir(), 'vlad-rlds-bench-')));
  let keep = false;
  try {
    const code = await measure(cfg, root);
    keep = cfg.keep;
    return code;
  } finally {
    // A temporary data_dir goes, also when the recorder refused it; --keep keeps a finished run's.
    if (cfg.out === undefined && !keep) await rm(root, { recursive: true, force: true });
  }
}

async function measure(cfg: BenchConfig, root: string): Promise<number> {
  const { seconds, hz, cameras: ncam, size, encoding, episodeSteps } = cfg;
  const log = (s: string) => process.stderr.write(`[rlds bench] ${s}\n`);
  log(`${ncam} cameras ${size}x${size} ${encoding}, state 8 + action 7, ${hz} Hz for ${seconds} s, episodes of ${episodeSteps} steps, into ${root}`);
  const cams = Array.from({ length: ncam }, (_, i) => ({ name: `cam${i}`, height: size, width: size, channels: 3 }));
  const frames = cams.map((_, i) => makeFrames(25, size, size, i));
  const rec = await openRecorder({ root, name: 'vlad_bench', spec: { cameras: cams, stateDim: 8, actionDim: 7 }, imageEncoding: encoding, maxEpisodesPerShard: 10 });
  // After the recorder's workers exist, so they keep their own (lower) priority.
  const priority = cfg.controlPriority ? raiseThreadPriority({ nice: -10 }) : null;

  const lag = monitorEventLoopDelay({ resolution: 1 });
  const tickLate: number[] = [];
  const addStepUs: number[] = [];
  const endLatencyMs: number[] = [];
  const ends: Promise<unknown>[] = [];
  const total = Math.round(seconds * hz);
  const period = 1000 / hz;
  const logEvery = Math.max(1, Math.round(hz * 10)); // every 10 s
  let step = 0, offered = 0, inEpisode = 0;
  const cpu0 = await threadTicks();
  const wall0 = performance.now();
  lag.enable();
  await new Promise<void>((resolve) => {
    const tick = () => {
      const now = performance.now();
      tickLate.push(now - (wall0 + step * period));
      if (inEpisode === 0 && !cfg.baseline) rec.beginEpisode({ instruction: 'move the red block to the right' });
      const images: Record<string, Uint8Array> = {};
      cams.forEach((c, i) => { images[c.name] = frames[i]![step % 25]!; });
      const state = new Float32Array(8).fill(Math.sin(step / 50));
      const action = new Float32Array(7).fill(Math.cos(step / 50));
      const t0 = performance.now();
      if (!cfg.baseline) rec.addStep({ images, state, action, mode: 'teleop', stampNs: process.hrtime.bigint() });
      addStepUs.push((performance.now() - t0) * 1000);
      offered++;
      inEpisode++;
      step++;
      if ((inEpisode === episodeSteps || step === total) && !cfg.baseline) {
        inEpisode = 0;
        const e0 = performance.now();
        ends.push(rec.endEpisode({ success: true }).then((r) => { endLatencyMs.push(performance.now() - e0); return r; }));
      }
      if (step % logEvery === 0) log(`${step / hz} s: ${JSON.stringify(rec.stats())}`);
      if (step >= total) { resolve(); return; }
      setTimeout(tick, Math.max(0, wall0 + step * period - performance.now()));
    };
    setTimeout(tick, 0);
  });
  lag.disable();
  const wallRec = (performance.now() - wall0) / 1000;
  const cpu1 = await threadTicks();
  const results = await Promise.allSettled(ends);
  const drainS = (performance.now() - wall0) / 1000 - wallRec;
  const cpu2 = await threadTicks();
  const stats = rec.stats();
  await rec.close();
  const v = await validateDataset(root);
  const pct = (a: number[], p: number) => { const s = [...a].sort((x, y) => x - y); return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? 0; };
  const report = {
    config: { cameras: ncam, size, encoding, hz, seconds, episodeSteps, baseline: Boolean(cfg.baseline),
      mainThreadNice: priority ? priority.nice : 'default', ...(priority?.error ? { priorityError: priority.error } : {}) },
    framesOffered: offered,
    framesDropped: stats.droppedFrames,
    episodesWritten: results.filter((r) => r.status === 'fulfilled').length,
    maxQueueDepth: stats.maxQueueDepthSeen,
    recorderCpuPercent: +((((cpu1.total - cpu1.main) - (cpu0.total - cpu0.main)) / TICKS_PER_SEC / wallRec) * 100).toFixed(1),
    recorderCpuPercentInclDrain: +((((cpu2.total - cpu2.main) - (cpu0.total - cpu0.main)) / TICKS_PER_SEC / (wallRec + drainS)) * 100).toFixed(1),
    mainThreadCpuPercent: +(((cpu1.main - cpu0.main) / TICKS_PER_SEC / wallRec) * 100).toFixed(1),
    // monitorEventLoopDelay records whole timer intervals; the lag is that minus its 1 ms resolution.
    eventLoopLagMs: { p50: +(lag.percentile(50) / 1e6 - 1).toFixed(3), p99: +(lag.percentile(99) / 1e6 - 1).toFixed(3), max: +(lag.max / 1e6 - 1).toFixed(3) },
    tickLatenessMs: { p50: +pct(tickLate, 50).toFixed(3), p99: +pct(tickLate, 99).toFixed(3), max: +Math.max(...tickLate).toFixed(3) },
    addStepUs: { p50: +pct(addStepUs, 50).toFixed(1), p99: +pct(addStepUs, 99).toFixed(1) },
    endEpisodeToDurableMs: endLatencyMs.map((x) => Math.round(x)),
    datasetBytes: await dirBytes(join(root, 'vlad_bench')),
    valid: v.ok,
    validationProblem: v.problems[0],
  };
  if (cfg.json) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  else {
    process.stdout.write(`frames: ${report.framesOffered} offered, ${report.framesDropped} dropped (max queue depth ${report.maxQueueDepth})\n`);
    process.stdout.write(`recorder CPU: ${report.recorderCpuPercent}% of one core (main thread ${report.mainThreadCpuPercent}%)\n`);
    process.stdout.write(`event-loop lag p50 ${report.eventLoopLagMs.p50} ms, p99 ${report.eventLoopLagMs.p99} ms, max ${report.eventLoopLagMs.max} ms\n`);
    process.stdout.write(`control tick lateness p50 ${report.tickLatenessMs.p50} ms, p99 ${report.tickLatenessMs.p99} ms, max ${report.tickLatenessMs.max} ms\n`);
    process.stdout.write(`addStep p50 ${report.addStepUs.p50} us, p99 ${report.addStepUs.p99} us; episodes durable after ${report.endEpisodeToDurableMs.join(', ')} ms\n`);
    process.stdout.write(`dataset: ${report.episodesWritten} episodes, ${report.datasetBytes} bytes, ${report.valid ? 'valid' : `INVALID: ${report.validationProblem}`}\n`);
  }
  return report.valid && report.framesDropped === 0 ? 0 : 1;
}
