// Trajectory output (JointTrajectoryController) on the simulated arm in its own thread: the points
// cross in shared memory and the sim thread samples them at its physics rate.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SimWorkerRobot } from '../../src/sim/index.js';
import type { JointTrajectory, TrajectoryPoint } from '../../src/core/index.js';

const NAMES = ['j1', 'j2', 'j3', 'j4', 'j5', 'j6', 'gripper'];

/** Joint 1 and 2 move by `delta` on a cosine profile over `durS`, the rest hold `q0`. */
function profile(q0: ArrayLike<number>, delta: number, durS: number, startNs: bigint, dt = 0.04): { traj: JointTrajectory; at: (tS: number) => number[] } {
  const at = (tS: number) => {
    const s = Math.min(1, Math.max(0, tS / durS));
    return Array.from(q0, (x, j) => (j === 1 || j === 2 ? x + delta * (1 - Math.cos(Math.PI * s)) / 2 : x));
  };
  const vel = (tS: number) => Array.from(q0, (_, j) => (j === 1 || j === 2 ? (tS >= durS ? 0 : (delta * Math.PI / (2 * durS)) * Math.sin(Math.PI * tS / durS)) : 0));
  const points: TrajectoryPoint[] = [];
  for (let t = dt; t <= durS + 1e-9; t += dt) points.push({ timeFromStartS: t, positions: Float64Array.from(at(t)), velocities: Float64Array.from(vel(t)) });
  return { traj: { stampNs: startNs, jointNames: NAMES, points, reason: 'plan' }, at };
}

const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => Math.max(...Array.from(a, (x, i) => Math.abs(x - b[i]!)));

test('trajectory mode through the sim worker: the arm follows the spline, holds the end, and a new trajectory takes over at its stamp', async () => {
  const robot = await SimWorkerRobot.start({ imageSize: 16, physicsDt: 0.004 });
  try {
    await robot.resetScene({ task: 'touch', seed: 2 });
    const q0 = Float64Array.from(robot.reference()!);
    const A = profile(q0, 0.3, 1.0, 0n);
    robot.sendTrajectory(A.traj);
    let worstRef = 0;
    let worstTrack = 0;
    for (let k = 1; k <= 300; k++) {
      const steps = await robot.advance(1, false);
      const tS = steps * 0.004; // the state is stamped at the end of the physics tick
      const ref = robot.reference()!;
      const pos = robot.readState()!.positions;
      worstRef = Math.max(worstRef, maxDiff(ref.subarray(0, 6), A.at(tS).slice(0, 6)));
      if (tS > 0.1) worstTrack = Math.max(worstTrack, maxDiff(Array.from(pos).slice(0, 6), A.at(tS).slice(0, 6)));
    }
    assert.equal(robot.trajectoriesApplied, 1);
    assert.ok(worstRef < 1e-3, `reference vs the spline: ${worstRef}`);
    assert.ok(worstTrack < 0.05, `measured vs the spline: ${worstTrack} rad`);
    const end = A.at(1.0);
    assert.ok(maxDiff(robot.reference()!.subarray(0, 6), end.slice(0, 6)) < 1e-9, 'holds the last point');
    assert.ok(maxDiff(Array.from(robot.readState()!.positions).slice(0, 6), end.slice(0, 6)) < 0.01, 'and the arm settles there');

    // B starts 0.2 s from now (t = 1.4 s) and goes back down; until then A's end holds.
    const B = profile(end, -0.2, 0.6, 1_400_000_000n);
    robot.sendTrajectory(B.traj);
    await robot.advance(40, false); // to t = 1.36 s
    assert.ok(maxDiff(robot.reference()!.subarray(0, 6), end.slice(0, 6)) < 1e-9, 'B waits for its stamp');
    await robot.advance(25, false); // to t = 1.46 s
    const early = robot.reference()![1]!;
    assert.ok(early < end[1]! && early > end[1]! - 0.01, `B has begun smoothly: ${early} from ${end[1]}`);
    await robot.advance(200, false); // to t = 2.26 s
    assert.ok(maxDiff(robot.reference()!.subarray(0, 6), B.at(0.6).slice(0, 6)) < 1e-9, 'B\'s end holds');
    assert.equal(robot.trajectoriesApplied, 2);
  } finally {
    await robot.close();
  }
});
