// World variations: the spec parser's errors, each key changing the world it names (sampled
// positions, the MJCF the physics compiled, the rendered image, contact friction), and the
// scripted operator still solving every task under each variation (lockstep, counted ticks).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SimArm, TASK_DT_S, TASK_NAMES, MAX_STEPS, sampleTask, parseVariation, formatVariation, checkVariation, NO_VARIATION, VariationError, type Variation } from '../../src/sim/index.js';
import { SimWorld } from '../../src/sim/world.js';
import { Renderer } from '../../src/sim/render.js';
import { buildSceneXml, sceneCameraPose } from '../../src/sim/scene.js';

test('parseVariation: a spec sets the keys it names and leaves the rest at the original world', () => {
  const v = parseVariation(' workspace.dx=0.06, camera.scene.yaw=-5,object.scale=1.2 ');
  assert.equal(v['workspace.dx'], 0.06);
  assert.equal(v['camera.scene.yaw'], -5);
  assert.equal(v['object.scale'], 1.2);
  assert.equal(v['light.gain'], 1);
  assert.equal(v['workspace.dy'], 0);
  assert.deepEqual(parseVariation(''), NO_VARIATION);
  assert.equal(formatVariation(v), 'workspace.dx=0.06,camera.scene.yaw=-5,object.scale=1.2');
  assert.deepEqual(parseVariation(formatVariation(v)), v, 'the formatted spec parses back to the same world');
  assert.deepEqual(checkVariation({ ...v }), v);
});

test('parseVariation: errors name what is wrong', () => {
  const bad: [string, RegExp][] = [
    ['workspace.dz=0.1', /unknown key 'workspace\.dz' \(known: workspace\.dx, workspace\.dy, camera\.scene\.dx/],
    ['object.scale=big', /object\.scale: 'big' is not a number/],
    ['object.scale=', /object\.scale: '' is not a number/],
    ['workspace.dx=0.5', /workspace\.dx: 0\.5 m is out of range \[-0\.08, 0\.08\] m/],
    ['light.gain=0', /light\.gain: 0 x is out of range \[0\.2, 3\]/],
    ['camera.scene.pitch=45', /camera\.scene\.pitch: 45 deg is out of range \[-30, 30\] deg/],
    ['workspace.dx', /'workspace\.dx' is not KEY=VALUE/],
    ['object.friction=0.5,object.friction=0.6', /'object\.friction' is given twice/],
    ['workspace.dx=0.01,,light.gain=1', /'' is not KEY=VALUE/],
  ];
  for (const [spec, re] of bad) assert.throws(() => parseVariation(spec), (err: unknown) => err instanceof VariationError && re.test((err as Error).message), spec);
  assert.throws(() => checkVariation({ 'light.gain': Number.NaN }), /light\.gain: 'NaN' is not a number/);
});

test('workspace.dx / dy move every object and pad of every task by exactly that much (same seed, same layout)', () => {
  const v = parseVariation('workspace.dx=0.06,workspace.dy=-0.04');
  for (const task of TASK_NAMES) {
    for (const seed of [1, 2, 3]) {
      const a = sampleTask(task, seed), b = sampleTask(task, seed, v);
      assert.equal(b.instruction, a.instruction);
      assert.equal(b.layout.length, a.layout.length);
      b.layout.forEach((o, i) => {
        const o0 = a.layout[i]!;
        assert.equal(o.body, o0.body);
        assert.ok(Math.abs(o.x - o0.x - 0.06) < 1e-9 && Math.abs(o.y - o0.y + 0.04) < 1e-9, `${task}/${seed} ${o.body}: (${o0.x}, ${o0.y}) -> (${o.x}, ${o.y})`);
      });
    }
  }
});

test('a layout sampled for one world is refused by another (its objects would start inside each other)', async () => {
  const world = await SimWorld.create(undefined, parseVariation('object.scale=1.4'));
  assert.throws(() => world.reset(sampleTask('pick', 1)), /sampled for the world '', this world is 'object\.scale=1\.4'/);
  world.reset(sampleTask('pick', 1, world.variation));
  world.dispose();
});

test('object.scale resizes the cubes and balls the physics compiled, and they rest on the table at their new size', async () => {
  const world = await SimWorld.create(undefined, parseVariation('object.scale=1.2'));
  const inst = sampleTask('touch', 4, world.variation);
  world.reset(inst);
  const size = world.model.geom_size as Float64Array;
  assert.ok(Math.abs(size[3 * world.geomId('cube_red')]! - 0.024) < 1e-12);
  assert.ok(Math.abs(size[3 * world.geomId('ball_yellow')]! - 0.03) < 1e-12);
  for (let i = 0; i < 25; i++) world.step();
  assert.ok(Math.abs(world.bodyPos('cube_red')[2] - 0.024) < 0.002, `cube centre ${world.bodyPos('cube_red')[2]}`);
  assert.ok(Math.abs(world.bodyPos('ball_yellow')[2] - 0.03) < 0.002, `ball centre ${world.bodyPos('ball_yellow')[2]}`);
  world.dispose();
});

/** Contact friction (sliding) of every contact of `body` with the fingers after the scripted operator picked it up. */
async function graspFriction(v: Variation): Promise<number[]> {
  const arm = await SimArm.create({ physicsDt: TASK_DT_S, imageSize: 8, cameras: ['scene'], variation: v });
  arm.reset({ task: 'pick', seed: 100 });
  arm.startOperator();
  for (let t = 0; t < MAX_STEPS.pick && !arm.success; t++) {
    const op = arm.operatorAct();
    if (op) arm.applyCommand(op.positions);
    arm.step(arm.clockNs + TASK_DT_S * 1e9);
  }
  assert.ok(arm.success);
  const w = arm.world;
  const target = w.geomId(w.instance!.target), fingers = new Set([w.geomId('finger_l'), w.geomId('finger_r')]);
  const out: number[] = [];
  const contacts = w.data.contact;
  for (let i = 0; i < w.data.ncon; i++) {
    const c = contacts.get(i)!;
    if ((c.geom1 === target && fingers.has(c.geom2)) || (c.geom2 === target && fingers.has(c.geom1))) out.push(c.friction[0]!);
    c.delete();
  }
  contacts.delete();
  arm.dispose();
  return out;
}

test('object.friction reaches the contacts: the held cube\'s finger contacts slide with 0.5 x the original friction', async () => {
  const base = await graspFriction(NO_VARIATION);
  const slippery = await graspFriction(parseVariation('object.friction=0.5'));
  assert.ok(base.length > 0 && slippery.length > 0);
  for (const f of base) assert.ok(Math.abs(f - 1.5) < 1e-9, `original finger contact friction ${f}`);
  for (const f of slippery) assert.ok(Math.abs(f - 0.75) < 1e-9, `varied finger contact friction ${f}`);
  assert.equal(buildSceneXml().includes('<pair'), false, 'the original world has no explicit pairs');
});

/** Mean absolute pixel difference between two images. */
const meanDiff = (a: Uint8Array, b: Uint8Array): number => { let s = 0; for (let i = 0; i < a.length; i++) s += Math.abs(a[i]! - b[i]!); return s / a.length; };

async function sceneImage(spec: string): Promise<Uint8Array> {
  const v = parseVariation(spec);
  const world = await SimWorld.create(undefined, v);
  world.reset(sampleTask('place', 31, v));
  const r = new Renderer(world.mj, world.model, { width: 96, height: 96, lightGain: v['light.gain'] });
  const img = r.render(world.data, r.cameraId('scene')).data;
  world.dispose();
  return img;
}

test('each camera key, light.gain, object.scale and the workspace shift change the rendered scene image; friction leaves it as it is', async () => {
  const base = await sceneImage('');
  assert.deepEqual(await sceneImage('object.friction=0.5'), base, 'friction is invisible');
  for (const spec of ['camera.scene.dx=0.03', 'camera.scene.dy=0.03', 'camera.scene.dz=0.05', 'camera.scene.yaw=3', 'camera.scene.pitch=3', 'light.gain=0.6', 'object.scale=1.2', 'workspace.dx=0.06']) {
    const d = meanDiff(base, await sceneImage(spec));
    assert.ok(d > 1, `${spec}: mean pixel change ${d.toFixed(2)}`);
  }
  // dimmer light: every pixel darker or equal, none brighter
  const dim = await sceneImage('light.gain=0.6');
  let brighter = 0;
  for (let i = 0; i < base.length; i++) if (dim[i]! > base[i]!) brighter++;
  assert.equal(brighter, 0);
});

test('the scene camera moves in its own frame: dx sideways (world y), dz back along its view axis, yaw turns it about the vertical', () => {
  const p0 = sceneCameraPose().pos;
  const side = sceneCameraPose(parseVariation('camera.scene.dx=0.03'));
  assert.ok(Math.abs(side.pos[1] - p0[1] - 0.03) < 1e-9 && Math.abs(side.pos[0] - p0[0]) < 1e-9 && Math.abs(side.pos[2] - p0[2]) < 1e-9);
  const back = sceneCameraPose(parseVariation('camera.scene.dz=0.1')).pos;
  assert.ok(back[0] > p0[0] && back[2] > p0[2] && Math.abs(Math.hypot(back[0] - p0[0], back[1] - p0[1], back[2] - p0[2]) - 0.1) < 1e-9);
  const yawed = sceneCameraPose(parseVariation('camera.scene.yaw=10'));
  assert.ok(Math.abs(Math.atan2(yawed.right[1], yawed.right[0]) - (Math.PI / 2 + (10 * Math.PI) / 180)) < 1e-9);
});

// The scripted operator solves every task under each key at a meaningful magnitude.
const VARIED = ['workspace.dx=0.06', 'workspace.dy=-0.06', 'camera.scene.dx=0.03', 'object.scale=1.2', 'object.scale=0.8', 'object.friction=0.5', 'light.gain=0.6'];
test('the scripted operator solves every task under each variation (3 seeds a task, lockstep)', async () => {
  for (const spec of VARIED) {
    const arm = await SimArm.create({ physicsDt: TASK_DT_S, imageSize: 8, cameras: ['scene'], variation: parseVariation(spec) });
    for (const task of TASK_NAMES) {
      for (const seed of [200, 201, 202]) {
        arm.reset({ task, seed });
        arm.startOperator();
        for (let t = 0; t < MAX_STEPS[task] && !arm.success; t++) {
          const op = arm.operatorAct();
          if (op) arm.applyCommand(op.positions);
          arm.step(arm.clockNs + TASK_DT_S * 1e9);
        }
        const r = arm.report();
        assert.equal(r.variation, spec);
        assert.ok(r.success, `${spec}: ${task} seed ${seed} failed (closest ${r.closestApproachM.toFixed(3)} m)`);
      }
    }
    arm.dispose();
  }
});
