import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SimWorld } from '../../src/sim/world.js';
import { sampleTask, TASK_NAMES } from '../../src/sim/tasks.js';
import { solveTopDownIk, forwardGraspPoint } from '../../src/sim/kinematics.js';
import { Rng } from '../../src/sim/rng.js';
import { JOINT_LIMITS, WORKSPACE } from '../../src/sim/scene.js';

/** Drive a fixed, seeded joint-target wander and return the physics state trace. */
function rollout(world: SimWorld, seed: number, steps: number): Float64Array[] {
  world.reset(sampleTask('pick', seed));
  const rng = new Rng(seed);
  const trace: Float64Array[] = [];
  const target = Array.from(world.currentTarget());
  for (let t = 0; t < steps; t++) {
    for (let j = 0; j < 6; j++) target[j] = target[j]! + rng.uniform(-0.02, 0.02);
    target[6] = rng.next() < 0.5 ? 0 : 0.08;
    world.setTarget(target);
    world.step();
    trace.push(world.physicsState());
  }
  return trace;
}

test('same seed gives the same layout, instruction and trajectory', async () => {
  const world = await SimWorld.create();
  for (const task of TASK_NAMES) assert.deepEqual(sampleTask(task, 42), sampleTask(task, 42));
  const a = rollout(world, 7, 60);
  const b = rollout(world, 7, 60);
  assert.equal(a.length, b.length);
  for (let i = 0; i < a.length; i++) assert.deepEqual(a[i], b[i], `step ${i} differs`);
  const c = rollout(world, 8, 60);
  assert.notDeepEqual(a[59], c[59]);
  world.dispose();
});

test('a second world replays a trajectory bit for bit', async () => {
  const w1 = await SimWorld.create();
  const w2 = await SimWorld.create();
  assert.deepEqual(rollout(w1, 3, 30).at(-1), rollout(w2, 3, 30).at(-1));
  w1.dispose(); w2.dispose();
});

test('layouts stay in the workspace, keep clearances, and vary with the seed', () => {
  const seen = new Set<string>();
  for (let seed = 0; seed < 50; seed++) {
    const inst = sampleTask('place', seed);
    seen.add(inst.instruction);
    for (const o of inst.layout) {
      assert.ok(o.x >= WORKSPACE.xMin && o.x <= WORKSPACE.xMax && o.y >= WORKSPACE.yMin && o.y <= WORKSPACE.yMax, `${o.body} outside`);
    }
    const objects = inst.layout.filter((o) => !o.body.startsWith('pad_'));
    for (let i = 0; i < objects.length; i++) for (let j = i + 1; j < objects.length; j++) {
      assert.ok(Math.hypot(objects[i]!.x - objects[j]!.x, objects[i]!.y - objects[j]!.y) > 0.06);
    }
  }
  assert.ok(seen.size >= 4, 'instructions vary over seeds');
});

test('closed-form IK agrees with the MuJoCo model and respects the joint limits', async () => {
  const world = await SimWorld.create();
  world.reset(sampleTask('touch', 1));
  const rng = new Rng(5);
  for (let k = 0; k < 10; k++) {
    const goal = { x: rng.uniform(0.27, 0.5), y: rng.uniform(-0.2, 0.2), z: rng.uniform(0.02, 0.2), yaw: rng.uniform(-3, 3) };
    const q = solveTopDownIk(goal);
    q.forEach((v, i) => assert.ok(v >= JOINT_LIMITS[i]![0] && v <= JOINT_LIMITS[i]![1]));
    const fk = forwardGraspPoint(q);
    assert.ok(Math.hypot(fk[0] - goal.x, fk[1] - goal.y, fk[2] - goal.z) < 1e-6, 'analytic FK');
    world.setTarget([...q, 0.08]);
    for (let t = 0; t < 75; t++) world.step();
    const site = world.graspPoint();
    assert.ok(Math.hypot(site[0] - goal.x, site[1] - goal.y, site[2] - goal.z) < 0.01, `tracking error at ${JSON.stringify(goal)}: ${site}`);
  }
  world.dispose();
});

test('targets are clamped to joint limits and non-finite targets hold the previous one', async () => {
  const world = await SimWorld.create();
  world.reset(sampleTask('pick', 0));
  world.setTarget([10, -10, Number.NaN, 0, 0, 0, 1]);
  const t = world.currentTarget();
  assert.equal(t[0], JOINT_LIMITS[0]![1]);
  assert.equal(t[1], JOINT_LIMITS[1]![0]);
  assert.ok(Number.isFinite(t[2]!));
  assert.equal(t[6], 0.08);
  world.dispose();
});

test('stepping does not grow the WASM heap: every embind object read per tick is deleted (it once leaked 8 KB a tick, 2 MB/s at 250 Hz)', async () => {
  const { SimArm } = await import('../../src/sim/index.js');
  const arm = await SimArm.create({ physicsDt: 0.004, imageSize: 32, cameras: ['scene'] }, 64);
  arm.reset({ task: 'pick', seed: 0 });
  const frames = [new Uint8Array(32 * 32 * 3)];
  const run = (ticks: number, from: number) => { for (let i = 0; i < ticks; i++) { arm.step((from + i) * 4e6); if (i % 8 === 0) arm.render(frames); } };
  run(2000, 0); // the heap's own warm-up
  // WASM memory only grows, and is counted in `external`: a leak shows as growth, whatever the speed.
  const before = process.memoryUsage().external;
  run(10_000, 2000);
  const grewMb = (process.memoryUsage().external - before) / 2 ** 20;
  assert.ok(grewMb < 8, `the WASM heap grew ${grewMb.toFixed(1)} MB over 10000 ticks`);
});
