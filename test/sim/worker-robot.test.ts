import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SimRobot, SimWorkerRobot, sampleTask } from '../../src/sim/index.js';
import { loadRobotDescription } from '../../src/control/index.js';
import { packagePath, systemClock } from '../../src/core/index.js';
import { GRIPPER_LIMITS, JOINT_LIMITS, STATE_NAMES, VELOCITY_LIMITS } from '../../src/sim/scene.js';

/** A deterministic command sequence that moves every joint. */
function command(k: number): Float64Array {
  const base = [0, 0.35, 1.55, 0, 1.24, 0, 0.08];
  return Float64Array.from(base.map((q, j) => q + (j === 6 ? -0.0004 * k : 0.004 * k * Math.sin(j + 1))));
}

const cmd = (k: number) => ({ stampNs: 0n, step: k, positions: command(k), velocities: new Float64Array(7) });

test('sim worker round trip: commands in, state and images out, identical to the in-process SimRobot', async () => {
  const worker = await SimWorkerRobot.start({ imageSize: 48 });
  const local = await SimRobot.create({ imageSize: 48 });
  try {
    const inst = sampleTask('pick', 11);
    const a = await local.resetScene({ task: 'pick', seed: 11 });
    const info = await worker.resetScene({ task: 'pick', seed: 11 });
    assert.equal(info.instruction, inst.instruction);
    assert.deepEqual(a, info);
    assert.equal(info.maxSeconds, inst.maxSteps * 0.02);
    const first = worker.readFrame();
    assert.ok(first, 'a frame is published at reset');
    assert.equal(first.stampNs, 0n);
    assert.deepEqual(Object.keys(first.images), ['scene', 'wrist']);
    assert.deepEqual(worker.cameras, local.cameras);
    const applied0 = worker.commandsApplied;
    for (let k = 0; k < 30; k++) {
      local.sendCommand(cmd(k));
      await local.advance(1, true);
      worker.sendCommand(cmd(k));
      assert.equal(await worker.advance(1, true), k + 1);
    }
    assert.equal(worker.commandsApplied - applied0, 30, 'every command reached the sim thread');
    assert.equal(worker.steps, 30);
    const state = worker.readState()!;
    const ref = local.readState()!;
    assert.equal(state.stampNs, ref.stampNs);
    for (let j = 0; j < 7; j++) assert.equal(state.positions[j], ref.positions[j], `joint ${j}`);
    assert.deepEqual(await worker.physicsState(), local.physicsState(), 'bit-identical physics');
    const f = worker.readFrame()!, g = local.readFrame()!;
    assert.equal(f.stampNs, g.stampNs);
    assert.deepEqual(f.state, g.state);
    for (const cam of ['scene', 'wrist']) assert.ok(Buffer.from(f.images[cam]!.data).equals(Buffer.from(g.images[cam]!.data)), `camera ${cam} pixels`);
    assert.ok(Math.abs(state.positions[1]! - 0.35) > 0.01, 'the arm moved');
    const [rw, rl] = [await worker.report(), await local.report()];
    assert.deepEqual(rw, rl, 'the privileged report agrees');
    assert.equal(rw.task, 'pick');
    assert.ok(rw.closestApproachM > 0 && Number.isFinite(rw.closestApproachM));
  } finally {
    await worker.close();
    await local.close();
  }
});

test('the scripted operator publishes a command per physics tick, flags deliberate errors, and ends with its script', async () => {
  for (const robot of [await SimRobot.create({ imageSize: 16 }), await SimWorkerRobot.start({ imageSize: 16 })]) {
    try {
      await robot.resetScene({ task: 'pick', seed: 3, operatorSeed: 9, operator: { missRate: 1 } });
      assert.equal(robot.readOperator(), undefined, 'no command before the operator starts');
      await robot.setOperator(true);
      const first = robot.readOperator()!;
      assert.ok(first, 'its first command is there at once');
      let perturbed = 0, last = first.seq;
      for (let k = 0; k < 600 && robot.operatorActive; k++) {
        const c = robot.readOperator()!;
        assert.equal(c.seq, last + (k === 0 ? 0 : 1), 'one new command per tick');
        last = c.seq;
        if (c.perturbation) perturbed++;
        robot.sendCommand({ stampNs: 0n, step: k, positions: c.positions, velocities: new Float64Array(7) });
        await robot.advance(1, false);
      }
      assert.ok(perturbed > 50, `the deliberate miss is flagged (${perturbed} ticks)`);
      assert.ok(robot.succeeded, 'the operator recovered and picked the cube');
      assert.equal((await robot.report()).operatorRetries, 1);
    } finally {
      await robot.close();
    }
  }
});

test('sim worker in realtime mode free-runs physics and cameras on the wall clock', async () => {
  const worker = await SimWorkerRobot.start({ imageSize: 32, physicsDt: 0.004, cameraHz: 50 });
  try {
    await worker.resetScene({ task: 'touch', seed: 3 });
    const t0 = systemClock.nowNs();
    await worker.startRealtime(t0);
    await new Promise((r) => setTimeout(r, 300));
    const state = worker.readState()!;
    const frame = worker.readFrame()!;
    await worker.stopRealtime();
    assert.ok(worker.steps >= 20, `physics ran on its own: ${worker.steps} ticks in 0.3 s`);
    assert.ok(state.stampNs > t0, 'stamps are on the process monotonic clock');
    assert.ok(frame.stampNs > t0 && systemClock.nowNs() - frame.stampNs < 200_000_000n, 'frames keep coming');
  } finally {
    await worker.close();
  }
});

test('the shipped robot description of the simulated arm is the arm\'s own limits', async () => {
  const desc = await loadRobotDescription(packagePath('hw-profiles', 'robots', 'vlad-sim-arm.yaml'));
  const limits = [...JOINT_LIMITS, GRIPPER_LIMITS];
  assert.deepEqual(desc.joints.map((j) => j.name), [...STATE_NAMES]);
  desc.joints.forEach((j, i) => {
    assert.deepEqual([j.position.min, j.position.max], [limits[i]![0], limits[i]![1]], j.name);
    assert.equal(j.velocity, VELOCITY_LIMITS[i], j.name);
  });
});
