import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SimWorld } from '../../src/sim/world.js';
import { isSuccess, sampleTask, swapTargetColour, type SuccessProbe, type TaskInstance, type TaskName } from '../../src/sim/tasks.js';
import { ScriptedExpert } from '../../src/sim/expert.js';

/** Reset to `inst`, let an expert act on `acted`, report the success test for `inst`. */
function drive(world: SimWorld, inst: TaskInstance, acted: TaskInstance, seed: number): boolean {
  world.reset(inst);
  const expert = new ScriptedExpert(world, acted, seed);
  let success = false;
  for (let t = 0; t < inst.maxSteps && !expert.done; t++) {
    world.setTarget(expert.act());
    world.step();
    success ||= world.success();
  }
  return success;
}

/** Same scene, but the instruction points at another object: the task's failure case. */
function wrongTarget(inst: TaskInstance): TaskInstance {
  const kind = inst.target.split('_')[0]!;
  const other = inst.layout.find((o) => o.body.startsWith(`${kind}_`) && o.body !== inst.target)!;
  if (inst.task === 'place') {
    const otherPad = inst.layout.find((o) => o.body.startsWith('pad_') && o.body !== inst.goal)!;
    return { ...inst, goal: otherPad.body };
  }
  return { ...inst, target: other.body };
}

for (const task of ['pick', 'place', 'touch'] as TaskName[]) {
  test(`${task}: scripted success passes the success test, acting on the wrong object fails it`, async () => {
    const world = await SimWorld.create();
    const inst = sampleTask(task, 77);
    assert.equal(drive(world, inst, inst, 1), true, `${inst.instruction} should succeed`);
    assert.equal(drive(world, inst, wrongTarget(inst), 1), false, `${inst.instruction} done on the wrong object should fail`);
    world.dispose();
  });
}

test('doing nothing succeeds at no task', async () => {
  const world = await SimWorld.create();
  for (const task of ['pick', 'place', 'touch'] as TaskName[]) {
    world.reset(sampleTask(task, 5));
    for (let t = 0; t < 100; t++) world.step();
    assert.equal(world.success(), false, task);
  }
  world.dispose();
});

test('the expert varies like a person: same seed same path, other seeds other paths', async () => {
  const world = await SimWorld.create();
  const inst = sampleTask('pick', 9);
  const path = (seed: number): number[] => {
    world.reset(inst);
    const e = new ScriptedExpert(world, inst, seed);
    const out: number[] = [];
    for (let t = 0; t < 120; t++) { const a = e.act(); out.push(...a); world.setTarget(a); world.step(); }
    return out;
  };
  const a = path(1), b = path(1), c = path(2);
  assert.deepEqual(a, b);
  const diff = Math.max(...a.map((v, i) => Math.abs(v - c[i]!)));
  assert.ok(diff > 0.05, `paths differ by ${diff}`);
  world.dispose();
});

test('swapTargetColour names another object of the same kind in the same layout, deterministically', () => {
  for (const task of ['pick', 'place', 'touch'] as TaskName[]) {
    for (let seed = 0; seed < 20; seed++) {
      const inst = sampleTask(task, seed);
      const swapped = swapTargetColour(inst);
      assert.notEqual(swapped.target, inst.target);
      assert.equal(swapped.target.split('_')[0], inst.target.split('_')[0]);
      assert.ok(inst.layout.some((o) => o.body === swapped.target), `${swapped.target} is in the scene`);
      const [kind, colour] = swapped.target.split('_') as [string, string];
      assert.ok(swapped.instruction.includes(`the ${colour} ${kind}`), swapped.instruction);
      assert.equal(swapped.goal, inst.goal);
      assert.deepEqual(swapped.layout, inst.layout);
      assert.deepEqual(swapTargetColour(inst), swapped);
    }
  }
  assert.throws(() => swapTargetColour({ ...sampleTask('pick', 1), instruction: 'wave' }), /does not name/);
});

test('pick counts only a cube that is lifted and held: one knocked into the air is not a pick', () => {
  const inst = sampleTask('pick', 3);
  const probe = (z: number, touching: boolean): SuccessProbe => ({
    bodyPos: () => [0.4, 0, z], gripperOpening: () => 0.02, gripperTouches: (b) => touching && b === inst.target,
  });
  assert.equal(isSuccess(inst, probe(0.12, true)), true);
  assert.equal(isSuccess(inst, probe(0.12, false)), false, 'airborne, not held');
  assert.equal(isSuccess(inst, probe(0.03, true)), false, 'held on the table');
});
