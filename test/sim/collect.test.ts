import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SimRobot } from '../../src/sim/robot.js';
import { sampleTask, TASK_NAMES } from '../../src/sim/tasks.js';
import { runTeleopEpisode, type EpisodeMeta, type EpisodeSink, type EpisodeStep } from '../../src/sim/episode.js';
import { TeleopPublisher, TeleopReceiver } from '../../src/io/zmq/index.js';
import { deriveSeed } from '../../src/sim/rng.js';

/** A real in-memory sink (the RLDS recorder implements the same interface). */
class MemorySink implements EpisodeSink {
  episodes: { meta: EpisodeMeta; steps: EpisodeStep[]; success?: boolean; truncated?: boolean }[] = [];
  beginEpisode(meta: EpisodeMeta): void { this.episodes.push({ meta, steps: [] }); }
  addStep(step: EpisodeStep): boolean { this.episodes.at(-1)!.steps.push(step); return true; }
  async endEpisode(r: { success: boolean; truncated?: boolean }): Promise<void> { Object.assign(this.episodes.at(-1)!, r); }
  async close(): Promise<void> {}
}

test('expert drives through the ZeroMQ teleop path and solves a seeded sample of every task', async () => {
  const robot = await SimRobot.create();
  const receiver = await TeleopReceiver.bind({ endpoint: 'tcp://127.0.0.1:*', dim: 7, limits: robot.spec.positionLimits, logger: { warn: () => {} } });
  const publisher = await TeleopPublisher.connect(receiver.endpoint, 'scripted-operator');
  let ok = 0, total = 0;
  for (const [ti, task] of TASK_NAMES.entries()) {
    for (let ep = 0; ep < 4; ep++) {
      const r = await runTeleopEpisode(robot, sampleTask(task, deriveSeed(99, ti, ep)), deriveSeed(99, ti, ep, 1), { publisher, receiver }, undefined);
      total++;
      if (r.success) ok++;
    }
  }
  assert.ok(ok >= total - 1, `expert solved ${ok}/${total}`);
  const stats = receiver.stats();
  assert.equal(stats.rejected, 0);
  assert.ok(stats.accepted > 500, `teleop commands ${stats.accepted}`);
  publisher.close();
  await receiver.close();
  await robot.close();
});

test('recorded episodes hold instruction, both cameras, state, the delivered actions and the success label', async () => {
  const robot = await SimRobot.create();
  const receiver = await TeleopReceiver.bind({ endpoint: 'tcp://127.0.0.1:*', dim: 7, logger: { warn: () => {} } });
  const publisher = await TeleopPublisher.connect(receiver.endpoint);
  const sink = new MemorySink();
  const inst = sampleTask('touch', 21);
  const r = await runTeleopEpisode(robot, inst, 5, { publisher, receiver }, sink);
  assert.equal(sink.episodes.length, 1);
  const ep = sink.episodes[0]!;
  assert.equal(ep.meta.instruction, inst.instruction);
  assert.equal(ep.meta.mode, 'teleop');
  assert.equal(ep.success, r.success);
  assert.equal(ep.steps.length, r.steps);
  assert.equal(ep.steps.filter((s) => s.reward === 1).length, r.success ? 1 : 0);
  const first = ep.steps[0]!;
  assert.equal(first.observation.images.scene!.data.length, 96 * 96 * 3);
  assert.equal(first.observation.images.wrist!.data.length, 96 * 96 * 3);
  assert.equal(first.observation.state.length, 7);
  assert.equal(first.action.length, 7);
  // Each recorded state follows from the previous action: the arm moves toward it.
  const last = ep.steps.at(-1)!;
  assert.notDeepEqual(first.observation.state, last.observation.state);
  assert.deepEqual(ep.steps.map((s) => s.observation.stampNs), ep.steps.map((_, i) => BigInt(i) * 20_000_000n));
  publisher.close();
  await receiver.close();
  await robot.close();
});

test('recovery data: a deliberate miss beside the cube or a release short of the pad is flagged as a perturbation, then the operator retries and succeeds', async () => {
  const robot = await SimRobot.create();
  // collect --seed 77 --miss-rate 1: pick episode 0 and place episode 1 (both misses that fail)
  for (const [ti, ep, task] of [[0, 0, 'pick'], [1, 1, 'place']] as const) {
    const sink = new MemorySink();
    const inst = sampleTask(task, deriveSeed(77, ti, ep));
    const r = await runTeleopEpisode(robot, inst, deriveSeed(77, ti, ep, 1), undefined, sink, { missRate: 1 });
    const modes = sink.episodes[0]!.steps.map((s) => s.provenance.mode);
    const perturbed = modes.flatMap((m, i) => (m === 'perturbation' ? [i] : []));
    assert.ok(perturbed.length > 50, `${task}: ${perturbed.length} perturbed steps`);
    assert.equal(perturbed.at(-1)! - perturbed[0]! + 1, perturbed.length, `${task}: one contiguous block`);
    assert.equal(r.perturbedSteps, perturbed.length);
    assert.ok(modes.slice(perturbed.at(-1)! + 1).every((m) => m === 'teleop'), `${task}: only the operator's own moves after the miss`);
    assert.equal(r.retries, 1, `${task}: the failed grasp was retried`);
    assert.equal(r.success, true, `${task}: the retry succeeded`);
  }
  // a place that lets the cube go short of the pad (collect --task place --seed 78 --release-miss-rate 1, episode 1)
  const short = new MemorySink();
  const placed = await runTeleopEpisode(robot, sampleTask('place', deriveSeed(78, 0, 1)), deriveSeed(78, 0, 1, 1), undefined, short, { releaseMissRate: 1 });
  const steps = short.episodes[0]!.steps;
  const marked = steps.flatMap((s, i) => (s.provenance.mode === 'perturbation' ? [i] : []));
  assert.ok(marked.length > 20 && marked.at(-1)! - marked[0]! + 1 === marked.length, `${marked.length} perturbed steps in one block`);
  assert.ok(marked[0]! > 50, 'the grasp before it is the operator\'s own');
  // the gripper opens inside the block (the deliberate release), and the cube is put on the pad afterwards
  const grip = steps.map((s) => s.action[6]!);
  assert.ok(grip[marked[0]!]! < 0.03 && grip[marked.at(-1)!]! > 0.05, `gripper ${grip[marked[0]!]} -> ${grip[marked.at(-1)!]}`);
  assert.equal(placed.retries, 1);
  assert.equal(placed.success, true);
  // missRate 0 (the default) never perturbs
  const sink = new MemorySink();
  await runTeleopEpisode(robot, sampleTask('pick', deriveSeed(77, 0, 0)), deriveSeed(77, 0, 0, 1), undefined, sink, { missRate: 0 });
  assert.ok(sink.episodes[0]!.steps.every((s) => s.provenance.mode === 'teleop'));
  await robot.close();
});

test('recovery data: an edge miss closes the fingers on the cube\'s edge (off centre along the pads), it slips, and the retry succeeds', async () => {
  const robot = await SimRobot.create();
  // collect --task pick,place --seed 14 --edge-miss-rate 1: pick episode 2 and place episode 0 (edge grasps that slip)
  for (const [ti, ep, task] of [[0, 2, 'pick'], [1, 0, 'place']] as const) {
    const inst = sampleTask(task, deriveSeed(14, ti, ep));
    // where the fingers first touch the cube during the deliberate error, in the hand's frame (m)
    let contact: { alongPads: number; acrossPads: number } | undefined;
    const sink = new (class extends MemorySink {
      override addStep(step: EpisodeStep): boolean {
        if (!contact && step.provenance.mode === 'perturbation' && robot.world.gripperTouches(inst.target)) {
          const [gx, gy] = robot.world.graspPoint(), [cx, cy] = robot.world.bodyPos(inst.target), [px, py] = robot.world.padAxis();
          contact = { alongPads: (gx - cx) * px + (gy - cy) * py, acrossPads: (gx - cx) * py - (gy - cy) * px };
        }
        return super.addStep(step);
      }
    })();
    const r = await runTeleopEpisode(robot, inst, deriveSeed(14, ti, ep, 1), undefined, sink, { edgeMissRate: 1 });
    assert.ok(contact, `${task}: the fingers touched the cube during the edge grasp`);
    assert.ok(Math.abs(contact.alongPads) > 0.022 && Math.abs(contact.alongPads) < 0.04, `${task}: ${(100 * contact.alongPads).toFixed(1)} cm off centre along the pads`);
    assert.ok(Math.abs(contact.acrossPads) < 0.015, `${task}: ${(100 * contact.acrossPads).toFixed(1)} cm across the pads`);
    const modes = sink.episodes[0]!.steps.map((s) => s.provenance.mode);
    const perturbed = modes.flatMap((m, i) => (m === 'perturbation' ? [i] : []));
    assert.equal(perturbed.at(-1)! - perturbed[0]! + 1, perturbed.length, `${task}: one contiguous block`);
    assert.equal(r.retries, 1, `${task}: the slipped grasp was retried`);
    assert.equal(r.success, true, `${task}: the retry succeeded`);
  }
  await robot.close();
});

test('the default operator replays the committed model\'s demonstrations (collect --seed 1: episode lengths)', async () => {
  // models/MODEL_CARD.md's rlds-v1 came from `vlad collect --task all --episodes 150 --seed 1`;
  // recovery options must not shift the operator's random stream when they are off
  const robot = await SimRobot.create();
  const lengths: number[] = [];
  for (const [ti, task] of TASK_NAMES.entries()) {
    for (let ep = 0; ep < 2; ep++) {
      const r = await runTeleopEpisode(robot, sampleTask(task, deriveSeed(1, ti, ep)), deriveSeed(1, ti, ep, 1), undefined, undefined);
      lengths.push(r.steps);
    }
  }
  assert.deepEqual(lengths, [154, 162, 272, 245, 100, 94]);
  await robot.close();
});
