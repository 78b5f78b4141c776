// `vlad collect`, `vlad sim` and `vlad demo`: the embedded robot's commands.
import { parseArgs } from 'node:util';
import { existsSync, statSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import process from 'node:process';
import { TASK_NAMES, isTaskName, type TaskName } from './tasks.js';
import { collect } from './collect.js';
import { SimRobot } from './robot.js';
import { runClosedLoop, ExpertChunkPolicy, type ChunkPolicy, type ClosedLoopEpisode, type InputProbe, type RunReport } from './runner.js';
import { writeGif } from './gif.js';
import { openEnginePolicy, openRldsSink } from './integration.js';
import { STATE_NAMES } from './scene.js';
import type { RecorderIOSpec } from '../rlds/index.js';
import type { EpisodeSink } from './episode.js';
import type { CameraSpec } from '../robot/index.js';

class UsageError extends Error {}

/** The simulated arm's recording schema: its cameras, 6 joints + gripper in and out. */
function simRecorderSpec(cameras: readonly CameraSpec[]): RecorderIOSpec {
  return {
    cameras: cameras.map((c) => ({ name: c.name, height: c.height, width: c.width, channels: 3 })),
    stateDim: STATE_NAMES.length, actionDim: STATE_NAMES.length,
    stateNames: [...STATE_NAMES], actionNames: [...STATE_NAMES],
  };
}

const err = (msg: string): void => { process.stderr.write(`${msg}\n`); };

function parseTasks(value: string | undefined): TaskName[] {
  if (value === undefined) throw new UsageError(`--task is required (one of ${TASK_NAMES.join(', ')}, or all)`);
  if (value === 'all') return [...TASK_NAMES];
  const names = value.split(',');
  for (const n of names) if (!isTaskName(n)) throw new UsageError(`--task: unknown task '${n}' (expected ${TASK_NAMES.join(', ')}, or all)`);
  return names as TaskName[];
}

function parseNoiseScale(value: string): number {
  const x = Number(value);
  if (value.trim() === '' || !Number.isFinite(x) || x < 0 || x > 4) throw new UsageError(`--noise-scale: expected a number in [0, 4], got '${value}'`);
  return x;
}

function parseInt32(name: string, value: string | undefined, fallback: number | undefined, min: number): number {
  if (value === undefined) {
    if (fallback === undefined) throw new UsageError(`--${name} is required`);
    return fallback;
  }
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > 2 ** 31) throw new UsageError(`--${name}: expected an integer >= ${min}, got '${value}'`);
  return n;
}

async function guard(usage: string, body: () => Promise<number>): Promise<number> {
  try {
    return await body();
  } catch (e) {
    if (e instanceof UsageError || (e as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      err(`vlad: ${(e as Error).message}\nusage: ${usage}`);
      return 2;
    }
    throw e;
  }
}

const COLLECT_USAGE = 'vlad collect --task T|all --episodes N --out DIR [--seed S] [--image-size PX] [--miss-rate P] [--release-miss-rate Q] [--edge-miss-rate E]';

export async function runCollect(args: string[]): Promise<number> {
  return guard(COLLECT_USAGE, async () => {
    const { values } = parseArgs({ args, options: {
      task: { type: 'string' }, episodes: { type: 'string' }, out: { type: 'string' }, seed: { type: 'string' },
      'image-size': { type: 'string' }, 'miss-rate': { type: 'string' }, 'release-miss-rate': { type: 'string' }, 'edge-miss-rate': { type: 'string' }, help: { type: 'boolean' },
    } });
    if (values.help) { process.stdout.write(`usage: ${COLLECT_USAGE}\n`); return 0; }
    const probability = (name: 'miss-rate' | 'release-miss-rate' | 'edge-miss-rate'): number => {
      const v = values[name] === undefined ? 0 : Number(values[name]);
      if (!(v >= 0 && v <= 1) || values[name]?.trim() === '') throw new UsageError(`--${name}: '${values[name]}' is not a probability in [0, 1]`);
      return v;
    };
    const missRate = probability('miss-rate'), releaseMissRate = probability('release-miss-rate'), edgeMissRate = probability('edge-miss-rate');
    const tasks = parseTasks(values.task);
    const episodes = parseInt32('episodes', values.episodes, undefined, 1);
    const seed = parseInt32('seed', values.seed, 0, 0);
    const imageSize = parseInt32('image-size', values['image-size'], 96, 16);
    if (!values.out) throw new UsageError('--out is required');
    const out = resolve(values.out);
    if (existsSync(out) && !statSync(out).isDirectory()) throw new UsageError(`--out: ${out} exists and is not a directory`);
    await mkdir(out, { recursive: true });
    const cameras: CameraSpec[] = ['scene', 'wrist'].map((name) => ({ name, width: imageSize, height: imageSize }));
    const sink = await openRldsSink(out, simRecorderSpec(cameras));
    err(`collect: ${tasks.join(',')} x ${episodes} episodes -> ${out} (seed ${seed}, teleop over ZeroMQ${missRate ? `, deliberate grasp misses in ${missRate * 100}% of pick/place` : ''}${releaseMissRate ? `, short releases in ${releaseMissRate * 100}% of the other places` : ''}${edgeMissRate ? `, edge grasps in ${edgeMissRate * 100}% of the other pick/place` : ''})`);
    try {
      const summary = await collect({
        tasks, episodes, seed, sink, imageSize, missRate, releaseMissRate, edgeMissRate,
        onEpisode: (r, i, total) => err(`collect ${i}/${total} ${r.task} seed=${r.seed} ${r.success ? 'success' : 'FAIL'} steps=${r.steps} "${r.instruction}"${r.retries ? ` retries=${r.retries} perturbed=${r.perturbedSteps}` : ''}${r.refused ? ` refused=${r.refused}` : ''}`),
      });
      for (const [task, t] of Object.entries(summary.tasks)) err(`collect ${task}: ${t.successes}/${t.episodes} successful, mean ${t.mean_steps.toFixed(0)} steps${t.retried ? `, ${t.retried} retried after a failed attempt` : ''}`);
      err(`collect: ${summary.episodes.length} episodes, ${summary.sim_s.toFixed(1)} s simulated in ${summary.wall_s.toFixed(1)} s (${(summary.sim_s / summary.wall_s).toFixed(1)}x real time); teleop accepted ${summary.teleop.accepted}, rejected ${summary.teleop.rejected}`);
    } finally {
      await sink.close();
    }
    return 0;
  });
}

const SIM_USAGE = 'vlad sim (--bundle DIR | --policy expert) --task T|all --episodes N [--seed S] [--json] [--record DIR] [--video FILE.gif] [--mode realtime|lockstep] [--profile NAME] [--replan-every STEPS] [--noise-scale X] [--swap-instruction] [--blank-cameras]';

interface SimArgs {
  tasks: TaskName[];
  episodes: number;
  seed: number;
  json: boolean;
  record?: string;
  video?: string;
  mode: 'realtime' | 'lockstep';
  bundle?: string;
  policy?: 'expert';
  profile?: string;
  probe?: InputProbe;
  replanEvery?: number;
  noiseScale?: number;
}

async function simulate(a: SimArgs): Promise<number> {
  let policy: ChunkPolicy;
  let closePolicy = async (): Promise<void> => {};
  let cameras: CameraSpec[] = [{ name: 'scene', width: 96, height: 96 }, { name: 'wrist', width: 96, height: 96 }];
  let controlDt = 0.02;
  let robot: SimRobot;
  if (a.bundle) {
    const engine = await openEnginePolicy(a.bundle, { profile: a.profile, seed: a.seed, ...(a.noiseScale !== undefined ? { noiseScale: a.noiseScale } : {}) });
    policy = engine; closePolicy = () => engine.close(); cameras = engine.cameras; controlDt = engine.controlDt;
    const size = cameras[0]?.width ?? 96;
    if (cameras.some((c) => c.width !== size || c.height !== size)) throw new UsageError(`bundle ${a.bundle}: cameras must be square and equal-sized, got ${JSON.stringify(cameras)}`);
    robot = await SimRobot.create({ imageSize: size, controlDt, cameras: cameras.map((c) => c.name) });
  } else {
    robot = await SimRobot.create({ imageSize: 96, controlDt });
    policy = new ExpertChunkPolicy(robot, 50, a.seed);
  }
  let sink: EpisodeSink | undefined;
  if (a.record) sink = await openRldsSink(resolve(a.record), simRecorderSpec(cameras), { hwProfile: a.profile ?? 'cpu' });
  const probes = [a.probe?.swapInstruction ? 'instruction swapped to another object' : '', a.probe?.blankCameras ? 'cameras blanked' : ''].filter(Boolean);
  if (!a.json) err(`sim: ${policy.name} on ${a.tasks.join(',')} x ${a.episodes} (${a.mode}, ${(1 / controlDt).toFixed(0)} Hz)${probes.length ? `; probe: ${probes.join(', ')}` : ''}`);
  let report: RunReport;
  try {
    report = await runClosedLoop(robot, policy, {
      tasks: a.tasks, episodes: a.episodes, seed: a.seed, mode: a.mode, sink, probe: a.probe, replanEvery: a.replanEvery,
      video: a.video ? { size: 160, every: 2, maxFrames: 1500 } : undefined,
      onEpisode: (r) => err(episodeLine(r)),
    });
  } finally {
    await sink?.close();
    await closePolicy();
    await robot.close();
  }
  if (a.video) {
    await mkdir(dirname(resolve(a.video)), { recursive: true });
    await writeGif(a.video, report.frames, Math.round(controlDt * 2 * 1000));
    err(`sim: wrote ${report.frames.length} frames to ${a.video}`);
  }
  const { frames: _frames, ...rest } = report;
  void _frames;
  if (a.json) {
    process.stdout.write(`${JSON.stringify({ ...rest, policy: policy.name })}\n`);
  } else {
    for (const [task, t] of Object.entries(report.tasks)) {
      const original = t.original_target_rate !== undefined ? `  originally named object ${(100 * t.original_target_rate).toFixed(0)}%` : '';
      const grasped = t.grasped_rate !== undefined ? `  grasped ${(100 * t.grasped_rate).toFixed(0)}%` : '';
      const f = t.place_failures;
      const failures = f && t.successes < t.episodes ? `  failures: not grasped ${f.not_grasped}, still held ${f.still_held}, on the other pad ${f.on_other_pad}, off the pad ${f.off_pad}` : '';
      process.stdout.write(`${task.padEnd(6)} success ${(100 * t.success_rate).toFixed(0).padStart(3)}% (${t.successes}/${t.episodes})  mean length ${t.mean_episode_steps.toFixed(0)} steps (${t.mean_episode_seconds.toFixed(1)} s)  closest approach p50 ${(100 * t.median_closest_approach_m).toFixed(1)} cm${grasped}${original}${failures}\n`);
    }
    process.stdout.write(`control rate ${report.control_hz.toFixed(1)} Hz (target ${report.target_control_hz.toFixed(0)}), obs->chunk p50 ${report.obs_to_chunk_ms.p50.toFixed(1)} ms, p99 ${report.obs_to_chunk_ms.p99.toFixed(1)} ms, starved ticks ${report.starved_ticks}\n`);
  }
  return 0;
}

/** One stderr line per episode: the outcome and the graded facts that explain a failure. */
function episodeLine(r: ClosedLoopEpisode): string {
  const lift = r.heldLiftM !== undefined ? ` held-lift=${(100 * r.heldLiftM).toFixed(1)}cm` : '';
  const end = r.placeEnd ? ` end=${(100 * r.placeEnd.goalOffsetM).toFixed(1)}cm-from-pad${r.placeEnd.held ? ',held' : ''}` : '';
  const original = r.originalSuccess !== undefined ? ` original-object=${r.originalSuccess ? 'success' : 'no'}` : '';
  return `sim ${r.task} seed=${r.seed} ${r.success ? 'success' : 'fail'} steps=${r.steps} closest=${(100 * r.closestApproachM).toFixed(1)}cm${lift}${end} "${r.instruction}"${original}`;
}

function parseSimArgs(args: string[]): SimArgs | 'help' {
  const { values } = parseArgs({ args, options: {
    bundle: { type: 'string' }, policy: { type: 'string' }, task: { type: 'string' }, episodes: { type: 'string' },
    seed: { type: 'string' }, json: { type: 'boolean' }, record: { type: 'string' }, video: { type: 'string' },
    mode: { type: 'string' }, profile: { type: 'string' }, help: { type: 'boolean' },
    'swap-instruction': { type: 'boolean' }, 'blank-cameras': { type: 'boolean' }, 'replan-every': { type: 'string' },
    'noise-scale': { type: 'string' },
  } });
  if (values.help) return 'help';
  if (values.bundle && values.policy) throw new UsageError('give --bundle or --policy, not both');
  if (!values.bundle && values.policy !== 'expert') throw new UsageError(values.policy ? `--policy: unknown '${values.policy}' (only 'expert')` : '--bundle DIR is required (or --policy expert)');
  if (values.bundle && !existsSync(join(values.bundle, 'manifest.json'))) throw new UsageError(`--bundle: ${join(values.bundle, 'manifest.json')} not found`);
  if (values.video && !values.video.endsWith('.gif')) throw new UsageError(`--video: only GIF output is supported (got '${values.video}'; use a .gif name)`);
  const mode = values.mode ?? 'realtime';
  if (mode !== 'realtime' && mode !== 'lockstep') throw new UsageError(`--mode: expected realtime or lockstep, got '${mode}'`);
  return {
    tasks: parseTasks(values.task), episodes: parseInt32('episodes', values.episodes, undefined, 1), seed: parseInt32('seed', values.seed, 0, 0),
    json: values.json ?? false, record: values.record, video: values.video, mode, bundle: values.bundle,
    policy: values.policy as 'expert' | undefined, profile: values.profile,
    probe: { swapInstruction: values['swap-instruction'] ?? false, blankCameras: values['blank-cameras'] ?? false },
    ...(values['replan-every'] !== undefined ? { replanEvery: parseInt32('replan-every', values['replan-every'], undefined, 1) } : {}),
    ...(values['noise-scale'] !== undefined ? { noiseScale: parseNoiseScale(values['noise-scale']) } : {}),
  };
}

export async function run(args: string[]): Promise<number> {
  return guard(SIM_USAGE, async () => {
    const a = parseSimArgs(args);
    if (a === 'help') { process.stdout.write(`usage: ${SIM_USAGE}\n`); return 0; }
    return simulate(a);
  });
}

export const SHIPPED_BUNDLE = 'models/bundles/vlad-base-flow';

/** `npm start`: a short closed-loop run on the shipped model (the scripted expert if the policy engine is absent). */
export async function runDemo(args: string[]): Promise<number> {
  return guard('vlad demo [--episodes N] [--bundle DIR]', async () => {
    const { values } = parseArgs({ args, options: { episodes: { type: 'string' }, bundle: { type: 'string' } } });
    const episodes = parseInt32('episodes', values.episodes, 2, 1);
    const bundle = values.bundle ?? SHIPPED_BUNDLE;
    const base: SimArgs = { tasks: [...TASK_NAMES], episodes, seed: 0, json: false, mode: 'realtime' };
    if (!existsSync(join(bundle, 'manifest.json'))) throw new UsageError(`no bundle at ${bundle} (manifest.json missing)`);
    return simulate({ ...base, bundle });
  });
}
