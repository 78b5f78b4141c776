// The shipped bundle is a trained policy: it must solve seeded episodes of every task in closed
// loop (lockstep, so machine load cannot change the outcome), on layouts never used in training
// (training data: `vlad collect --seed 1`).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SimRobot } from '../../src/sim/robot.js';
import { runClosedLoop } from '../../src/sim/runner.js';
import { openEnginePolicy } from '../../src/sim/integration.js';
import { SHIPPED_BUNDLE } from '../../src/sim/cli.js';
import { TASK_NAMES } from '../../src/sim/tasks.js';
import { repoRoot } from '../support/bundles.js';
import { join } from 'node:path';

// Float results of ORT kernels differ slightly across CPUs, so a trajectory may too: each task
// must succeed in at least 2 of its 3 seeded episodes (the random-init model solves ~none).
const EPISODES = 3;
const MIN_SUCCESSES = 2;

test('the shipped bundle solves seeded episodes of every task in closed loop', { timeout: 600_000 }, async () => {
  const policy = await openEnginePolicy(join(repoRoot, SHIPPED_BUNDLE), { profile: 'cpu', seed: 0 });
  const robot = await SimRobot.create({ imageSize: policy.cameras[0]!.width, controlDt: policy.controlDt });
  try {
    const report = await runClosedLoop(robot, policy, { tasks: TASK_NAMES, episodes: EPISODES, seed: 4242, mode: 'lockstep' });
    for (const task of TASK_NAMES) {
      const t = report.tasks[task]!;
      assert.ok(t.successes >= MIN_SUCCESSES, `${task}: ${t.successes}/${t.episodes} seeded episodes solved (need ${MIN_SUCCESSES}): ${JSON.stringify(report.tasks)}`);
    }
  } finally {
    await policy.close();
    await robot.close();
  }
});
