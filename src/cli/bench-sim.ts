// `vlad sim-bench`: the embedded robot's figures. Expert success per task through the daemon's
// teleop path (the scripted operator over ZeroMQ, the control loop, the safety filter), simulation
// speed (physics alone; physics + both cameras every tick at the control rate), and rendering time
// per frame.
import process from 'node:process';
import { percentile } from '../core/index.js';
import { SimArm, TASK_NAMES, TASK_DT_S } from '../sim/index.js';
import { command, flag } from './args.js';
import { collect } from './collect.js';

export interface SpeedFigures {
  physics_x_realtime: number;
  physics_render_x_realtime: number;
  render_ms_per_frame: Record<string, { p50: number; p99: number; mean: number }>;
  physics_ms_per_tick: number;
  ticks: number;
}

/** Expert-driven episodes, timing physics and, separately, rendering each camera every tick. */
export async function measureSpeed(episodesPerTask: number, imageSize = 96): Promise<SpeedFigures> {
  const cameras = ['scene', 'wrist'];
  const arm = await SimArm.create({ physicsDt: TASK_DT_S, imageSize, cameras });
  const renderers = cameras.map(() => arm.newRenderer(imageSize));
  const times: Record<string, number[]> = Object.fromEntries(cameras.map((c) => [c, []]));
  let physicsMs = 0, renderMs = 0, ticks = 0;
  for (const [pass, count] of [[0, 1], [1, episodesPerTask]] as const) {
    if (pass === 1) { physicsMs = 0; renderMs = 0; ticks = 0; for (const c of cameras) times[c]!.length = 0; } // pass 0 warms up the JIT
    for (const task of TASK_NAMES) {
      for (let ep = 0; ep < count; ep++) {
        arm.reset({ task, seed: 500 + ep, operatorSeed: 900 + ep });
        arm.startOperator();
        for (let t = 0; t < 10_000 && arm.operatorActive && !arm.success; t++) {
          cameras.forEach((cam, i) => {
            const t0 = performance.now();
            arm.renderView(cam, renderers[i]!);
            const dt = performance.now() - t0;
            times[cam]!.push(dt);
            renderMs += dt;
          });
          const t0 = performance.now();
          const op = arm.operatorAct();
          if (op) arm.applyCommand(op.positions);
          arm.step((ticks + 1) * TASK_DT_S * 1e9);
          physicsMs += performance.now() - t0;
          ticks++;
        }
      }
    }
  }
  arm.dispose();
  const simS = ticks * TASK_DT_S;
  const stats = (a: number[]) => ({ p50: percentile(a, 50), p99: percentile(a, 99), mean: a.reduce((x, y) => x + y, 0) / Math.max(1, a.length) });
  return {
    physics_x_realtime: simS / (physicsMs / 1000),
    physics_render_x_realtime: simS / ((physicsMs + renderMs) / 1000),
    render_ms_per_frame: Object.fromEntries(cameras.map((c) => [c, stats(times[c]!)])),
    physics_ms_per_tick: physicsMs / ticks,
    ticks,
  };
}

export async function run(args: string[]): Promise<number> {
  return command({ name: 'sim-bench', usage: 'vlad sim-bench [--episodes N] [--seed S] [--speed-episodes N]', options: { episodes: { type: 'string' }, seed: { type: 'string' }, 'speed-episodes': { type: 'string' } } }, args, async (v) => {
    const episodes = flag.int('episodes', v.episodes, { min: 1, max: 100_000, default: 100 });
    const seed = flag.int('seed', v.seed, { min: 0, max: 2 ** 31 - 1, default: 0 });
    const speedEpisodes = flag.int('speed-episodes', v['speed-episodes'], { min: 1, max: 10_000, default: 5 });
    process.stderr.write(`sim-bench: speed over ${speedEpisodes} expert episodes per task ...\n`);
    const speed = await measureSpeed(speedEpisodes);
    process.stderr.write(`sim-bench: expert success over ${episodes} episodes per task (teleop over ZeroMQ through the control loop) ...\n`);
    const summary = await collect({
      tasks: [...TASK_NAMES], episodes, seed,
      onEpisode: (e, i) => { if (i % 25 === 0 || !e.success) process.stderr.write(`sim-bench ${i} ${e.scene?.task} ${e.success ? 'ok' : `FAIL seed=${e.scene?.seed}`}\n`); },
    });
    const expert = Object.fromEntries(Object.entries(summary.tasks).map(([k, t]) => [k, { success_rate: t.success_rate, episodes: t.episodes, mean_steps: t.mean_steps }]));
    process.stdout.write(`${JSON.stringify({ expert, teleop_commands: summary.teleop_commands, collect_x_realtime: summary.sim_s / summary.wall_s, speed }, null, 2)}\n`);
    return 0;
  });
}
