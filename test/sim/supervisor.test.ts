// The supervising scripted operator (HG-DAgger) on the simulated arm, lockstep: a deliberately
// bad "policy" of each kind (one that stalls, closes the gripper on nothing, drifts off, or
// creeps too slowly) is taken over for its own reason, and the operator finishes the task.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SimArm, SimRobot, SimWorkerRobot, TASK_DT_S, MAX_STEPS, SUPERVISION, solveTopDownIk, forwardGraspPoint, parseVariation, type TaskName, type TakeoverReason } from '../../src/sim/index.js';
import { HOME_QPOS } from '../../src/sim/scene.js';

type Policy = (arm: SimArm, tick: number) => ArrayLike<number> | undefined;

/** Home joints with the gripper open (what the arm holds at reset). */
const home = (grip = 0.08): number[] => [...HOME_QPOS, grip];

const POLICIES: Record<TakeoverReason, Policy> = {
  // holds still where it started
  stall: () => undefined,
  // closes the gripper over the workspace, nowhere near the cube
  gripper: () => home(0),
  // swings the arm out to the side, away from everything
  drift: () => { const q = home(); q[0] = 1.6; return q; },
  // creeps towards the target at 1 cm/s: progress, never a stall, but too slow for the time limit
  time: (arm, tick) => {
    const start = forwardGraspPoint(HOME_QPOS);
    const inst = arm.world.instance!;
    const p = arm.world.bodyPos(inst.target);
    const goal = [p[0], p[1], 0.12];
    const d = Math.hypot(goal[0]! - start[0], goal[1]! - start[1], goal[2]! - start[2]);
    const s = Math.min(1, (0.01 * tick * TASK_DT_S) / d);
    const q = solveTopDownIk({ x: start[0] + s * (goal[0]! - start[0]), y: start[1] + s * (goal[1]! - start[1]), z: start[2] + s * (goal[2]! - start[2]), yaw: 0 });
    return [...q, 0.08];
  },
};

interface Run { success: boolean; reasons: TakeoverReason[]; policyTicks: number; operatorTicks: number; takeoverAtS: number; successAtS: number }

/** One supervised episode: the policy commands until the operator takes over, the operator until it lets go. */
async function supervised(arm: SimArm, task: TaskName, seed: number, policy: Policy, superviseFrom = 0): Promise<Run> {
  arm.reset({ task, seed });
  let policyTicks = 0, operatorTicks = 0, successAt = -1;
  let op: ReturnType<SimArm['operatorAct']>;
  for (let t = 0; t < MAX_STEPS[task]; t++) {
    if (t === superviseFrom) { arm.startOperator('supervise'); op = arm.operatorAct(); }
    if (op) { arm.applyCommand(op.positions); operatorTicks++; } else {
      const cmd = policy(arm, t);
      if (cmd) arm.applyCommand(cmd);
      policyTicks++;
    }
    arm.step(arm.clockNs + TASK_DT_S * 1e9);
    if (arm.success && successAt < 0) successAt = t + 1;
    op = arm.operatorAct();
  }
  const r = arm.report();
  return { success: r.success, reasons: r.takeovers.map((k) => k.reason), policyTicks, operatorTicks, takeoverAtS: r.takeovers[0]?.atS ?? -1, successAtS: successAt * TASK_DT_S };
}

for (const reason of ['stall', 'gripper', 'drift', 'time'] as const) {
  test(`supervising: a policy that ${reason === 'time' ? 'creeps too slowly' : reason === 'stall' ? 'stalls' : reason === 'gripper' ? 'closes the gripper on nothing' : 'drifts off'} is taken over for '${reason}', and every task still ends in success`, async () => {
    const arm = await SimArm.create({ physicsDt: TASK_DT_S, imageSize: 8, cameras: ['scene'] });
    for (const task of ['pick', 'place', 'touch'] as const) {
      for (const seed of [3, 4]) {
        const r = await supervised(arm, task, seed, POLICIES[reason]);
        const where = `${task} seed ${seed}: ${JSON.stringify(r)}`;
        // touching is done with the gripper closed: a closed gripper there is no error, only its stall
        assert.equal(r.reasons[0], reason === 'gripper' && task === 'touch' ? 'stall' : reason, where);
        assert.ok(r.success, where);
        assert.ok(r.policyTicks > 0 && r.operatorTicks > 0, where);
        if (reason === 'stall') assert.ok(Math.abs(r.takeoverAtS - SUPERVISION.stallS) <= 2 * TASK_DT_S, where);
        if (reason === 'time') assert.ok(Math.abs(r.takeoverAtS - (MAX_STEPS[task] * TASK_DT_S - SUPERVISION.reserveS[task])) <= 2 * TASK_DT_S, where);
      }
    }
    arm.dispose();
  });
}

test('a supervisor started mid-episode keeps the episode\'s clock: a time takeover comes at the same episode time', async () => {
  const arm = await SimArm.create({ physicsDt: TASK_DT_S, imageSize: 8, cameras: ['scene'] });
  const r = await supervised(arm, 'pick', 3, POLICIES.time, 100);
  assert.deepEqual(r.reasons, ['time']);
  assert.ok(Math.abs(r.takeoverAtS - (MAX_STEPS.pick * TASK_DT_S - SUPERVISION.reserveS.pick)) <= 2 * TASK_DT_S, JSON.stringify(r));
  assert.ok(r.success);
  arm.dispose();
});

test('supervising a good policy (the scripted expert\'s own plan): no takeover', async () => {
  const arm = await SimArm.create({ physicsDt: TASK_DT_S, imageSize: 8, cameras: ['scene'] });
  for (const task of ['pick', 'place', 'touch'] as const) {
    // the privileged planner's per-tick commands, as a policy that does the task well
    const r = await supervised(arm, task, 5, (a) => a.expertPlan(a.clockNs, 1, 1));
    assert.ok(r.success && r.reasons.length === 0 && r.operatorTicks === 0, `${task}: ${JSON.stringify(r)}`);
  }
  arm.dispose();
});

test('supervising under a variation: the takeover finishes a task in the moved workspace', async () => {
  const arm = await SimArm.create({ physicsDt: TASK_DT_S, imageSize: 8, cameras: ['scene'], variation: parseVariation('workspace.dx=0.06,object.scale=1.2') });
  for (const task of ['pick', 'place', 'touch'] as const) {
    const r = await supervised(arm, task, 8, POLICIES.stall);
    assert.ok(r.success && r.reasons[0] === 'stall', `${task}: ${JSON.stringify(r)}`);
  }
  arm.dispose();
});

test('both drivers (in-process and the sim worker) carry the variation and the supervising role: a stalled arm is taken over at the same tick, the task succeeds', async () => {
  const variation = parseVariation('workspace.dy=0.05,light.gain=0.8');
  const results = [];
  for (const robot of [await SimRobot.create({ imageSize: 16, variation }), await SimWorkerRobot.start({ imageSize: 16, variation })]) {
    try {
      await robot.resetScene({ task: 'touch', seed: 12 });
      await robot.setOperator(true, 'supervise');
      let firstActive = -1;
      for (let k = 0; k < MAX_STEPS.touch && !robot.succeeded; k++) {
        // the "policy" sends nothing: the arm holds; the operator's commands go to the arm once it has taken over
        if (robot.operatorActive) {
          if (firstActive < 0) firstActive = k;
          robot.sendCommand({ stampNs: 0n, step: k, positions: robot.readOperator()!.positions, velocities: new Float64Array(7) });
        }
        await robot.advance(1, false);
      }
      const r = await robot.report();
      assert.equal(r.variation, 'workspace.dy=0.05,light.gain=0.8');
      assert.deepEqual(r.takeovers.map((t) => t.reason), ['stall']);
      assert.ok(robot.succeeded);
      results.push({ firstActive, takeovers: r.takeovers });
    } finally {
      await robot.close();
    }
  }
  assert.deepEqual(results[1], results[0], 'the worker supervises exactly as the in-process arm');
});
