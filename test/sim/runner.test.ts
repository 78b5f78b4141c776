import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SimRobot } from '../../src/sim/robot.js';
import { runClosedLoop, classifyPlaceFailure, ExpertChunkPolicy, HELD_LIFT_M, type ChunkPolicy, type ClosedLoopEpisode } from '../../src/sim/runner.js';
import { PAD_HALF } from '../../src/sim/scene.js';
import { encodeGif } from '../../src/sim/gif.js';
import type { ActionChunk, Observation } from '../../src/core/contracts.js';

test('closed loop with a chunk policy solves tasks in lockstep, reports timings, reproducibly', async () => {
  const robot = await SimRobot.create();
  const run = async () => runClosedLoop(robot, new ExpertChunkPolicy(robot, 50, 4), { tasks: ['pick', 'touch'], episodes: 2, seed: 8, mode: 'lockstep' });
  const a = await run();
  assert.equal(a.tasks.pick!.episodes, 2);
  assert.ok(a.tasks.pick!.success_rate >= 0.5 && a.tasks.touch!.success_rate >= 0.5, JSON.stringify(a.tasks));
  assert.ok(a.control_hz > 50, `lockstep runs faster than real time: ${a.control_hz}`);
  assert.ok(a.obs_to_chunk_ms.count > 4 && a.obs_to_chunk_ms.p50 <= a.obs_to_chunk_ms.p99);
  assert.equal(a.starved_ticks, 0);
  // the operator closes its fingers around the cube's centre; a touch stops on the ball's top
  assert.ok(a.tasks.pick!.median_closest_approach_m < 0.01, `pick closest approach ${a.tasks.pick!.median_closest_approach_m}`);
  assert.ok(a.tasks.touch!.median_closest_approach_m < 0.05, `touch closest approach ${a.tasks.touch!.median_closest_approach_m}`);
  // a pick counts as grasped when the cube rose in the fingers: every success is one; touch has no grasp
  assert.ok(a.tasks.pick!.grasped_rate! >= a.tasks.pick!.success_rate && a.tasks.pick!.grasped_rate! > 0, JSON.stringify(a.tasks.pick));
  assert.equal(a.tasks.touch!.grasped_rate, undefined);
  const b = await run();
  assert.deepEqual(b.tasks, a.tasks);
  await robot.close();
});

test('place episodes report where the cube ended, and failures are sorted by what went wrong', async () => {
  const robot = await SimRobot.create({ imageSize: 48 });
  const episodes: ClosedLoopEpisode[] = [];
  const r = await runClosedLoop(robot, new ExpertChunkPolicy(robot, 50, 4), { tasks: ['place'], episodes: 3, seed: 8, mode: 'lockstep', onEpisode: (e) => episodes.push(e) });
  await robot.close();
  const t = r.tasks.place!;
  const f = t.place_failures!;
  assert.equal(f.not_grasped + f.still_held + f.on_other_pad + f.off_pad, t.episodes - t.successes, JSON.stringify(t));
  for (const e of episodes) {
    assert.ok(e.placeEnd, 'every place episode says where the cube ended');
    if (e.success) assert.ok(e.placeEnd.goalOffsetM < PAD_HALF && !e.placeEnd.held, JSON.stringify(e));
    assert.ok(e.placeEnd.otherPadOffsetM > 0 && Number.isFinite(e.placeEnd.otherPadOffsetM));
  }
  assert.equal(classifyPlaceFailure(HELD_LIFT_M / 2, { goalOffsetM: 0.2, otherPadOffsetM: 0.2, held: false }), 'not_grasped');
  assert.equal(classifyPlaceFailure(0.1, { goalOffsetM: 0.2, otherPadOffsetM: 0.2, held: true }), 'still_held');
  assert.equal(classifyPlaceFailure(0.1, { goalOffsetM: 0.2, otherPadOffsetM: PAD_HALF - 0.01, held: false }), 'on_other_pad');
  assert.equal(classifyPlaceFailure(0.1, { goalOffsetM: 0.12, otherPadOffsetM: 0.2, held: false }), 'off_pad');
});

test('realtime mode holds the control rate while a slow policy thinks, and skips elapsed steps', async () => {
  const robot = await SimRobot.create({ imageSize: 64 });
  const expert = new ExpertChunkPolicy(robot, 50, 1);
  const slow: ChunkPolicy = {
    name: 'slow-expert',
    beginEpisode: (i) => expert.beginEpisode(i),
    plan: async (obs: Observation): Promise<ActionChunk> => { const c = await expert.plan(obs); await new Promise((r) => setTimeout(r, 60)); return c; },
  };
  const r = await runClosedLoop(robot, slow, { tasks: ['touch'], episodes: 1, seed: 2, mode: 'realtime', video: { size: 64, every: 5, maxFrames: 40 } });
  assert.ok(Math.abs(r.control_hz - 50) < 5, `control rate ${r.control_hz}`);
  assert.ok(r.obs_to_chunk_ms.p50 >= 60, `latency ${r.obs_to_chunk_ms.p50}`);
  assert.equal(r.tasks.touch!.success_rate, 1);
  assert.ok(r.frames.length > 5);
  const gif = encodeGif(r.frames, 100);
  assert.equal(Buffer.from(gif.subarray(0, 6)).toString('latin1'), 'GIF89a');
  await robot.close();
});

test('input probes: a swapped instruction moves the goal to the newly named object; blanked cameras reach the policy black', async () => {
  const robot = await SimRobot.create({ imageSize: 48 });
  // The scripted operator reads the instance it is given, so it follows the swapped instruction:
  // the new object is touched, the originally named one is not.
  const swapped = await runClosedLoop(robot, new ExpertChunkPolicy(robot, 50, 3), { tasks: ['touch'], episodes: 2, seed: 21, mode: 'lockstep', probe: { swapInstruction: true } });
  assert.equal(swapped.tasks.touch!.success_rate, 1, JSON.stringify(swapped.tasks));
  assert.equal(swapped.tasks.touch!.original_target_rate, 0);
  const plain = await runClosedLoop(robot, new ExpertChunkPolicy(robot, 50, 3), { tasks: ['touch'], episodes: 1, seed: 21, mode: 'lockstep' });
  assert.equal(plain.tasks.touch!.original_target_rate, undefined);

  const expert = new ExpertChunkPolicy(robot, 50, 3);
  const seen: number[] = [];
  const watcher: ChunkPolicy = {
    name: 'watcher', beginEpisode: (i) => expert.beginEpisode(i),
    plan: async (obs) => { for (const img of Object.values(obs.images)) seen.push(img.data.reduce((m, v) => Math.max(m, v), 0), img.data.length); return expert.plan(obs); },
  };
  await runClosedLoop(robot, watcher, { tasks: ['touch'], episodes: 1, seed: 21, mode: 'lockstep', probe: { blankCameras: true } });
  assert.ok(seen.length >= 4);
  for (let i = 0; i < seen.length; i += 2) { assert.equal(seen[i], 0, 'every pixel black'); assert.equal(seen[i + 1], 48 * 48 * 3); }
  await robot.close();
});
