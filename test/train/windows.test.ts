// What the trainer learns from, as pure functions of the recorded step labels; the offline gate's
// decision; the seeded draws; the config's errors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ControlMode } from '../../src/core/index.js';
import {
  DEFAULT_TRAINING_CONFIG, drawBatch, gateDecision, targetChunk, targetEnd, takeovers, trainingConfig, windowWeights, WeightedPool, type GateMetrics,
} from '../../src/train/index.js';

const H = 4;
const cfg = { ...DEFAULT_TRAINING_CONFIG, weights: { intervention: 4, teleop: 2, policy: 1 }, pre_takeover_s: 0.1, window_stride: 1 };
/** Labels at 50 Hz from a run-length spec: [['policy', 10], ['intervention', 5]]. */
function labels(runs: [ControlMode, number][], success = true) {
  const modes = runs.flatMap(([m, n]) => Array<ControlMode>(n).fill(m));
  return { modes, stampsS: modes.map((_, i) => i * 0.02), success };
}

test('operator steps are weighted up, policy steps of a successful episode kept, policy steps just before a takeover excluded', () => {
  const ep = labels([['hold', 1], ['policy', 10], ['intervention', 8], ['policy', 6]]);
  const w = Array.from(windowWeights(ep, cfg, H));
  assert.equal(w[0], 0, 'hold is never a window start');
  // The takeover is at step 11; pre_takeover_s 0.1 s = 5 steps at 50 Hz: steps 6..10 are what the operator corrected.
  assert.deepEqual(takeovers(ep.modes), [11]);
  assert.deepEqual(w.slice(1, 6), [1, 1, 1, 1, 1]);
  assert.deepEqual(w.slice(6, 11), [0, 0, 0, 0, 0]);
  assert.deepEqual(w.slice(11, 19), Array(8).fill(4));
  assert.deepEqual(w.slice(19), Array(6).fill(1), 'the policy after the hand-back of a successful episode is kept');
});

test('a failed episode: its policy steps are never imitated, its operator steps are', () => {
  const w = Array.from(windowWeights(labels([['policy', 10], ['intervention', 6], ['teleop', 3]], false), cfg, H));
  assert.deepEqual(w.slice(0, 10), Array(10).fill(0));
  assert.deepEqual(w.slice(10), [...Array(6).fill(4), 2, 2, 2]);
});

test('perturbations: never a window start, and no window whose targets contain one (as the toolchain trains only after them)', () => {
  const ep = labels([['teleop', 6], ['perturbation', 3], ['teleop', 6]]);
  const w = Array.from(windowWeights(ep, cfg, H));
  // Windows at 0..2 end before step 6 + ... : targets t..t+3; t = 3, 4, 5 reach the perturbation at 6.
  assert.deepEqual(w, [2, 2, 2, 0, 0, 0, 0, 0, 0, 2, 2, 2, 2, 2, 2]);
  assert.equal(targetEnd(ep.modes, 4, H), -1);
});

test('targets that run into a hold are cut there and padded with the last action before it, as at an episode end', () => {
  const modes: ControlMode[] = ['teleop', 'teleop', 'hold', 'teleop', 'teleop'];
  assert.equal(targetEnd(modes, 0, H), 2);
  assert.equal(targetEnd(modes, 3, H), 5, 'the episode end');
  const actions = Float32Array.from([0, 0, 1, 1, 9, 9, 3, 3, 4, 4]); // [5][2]
  const out = new Float32Array(H * 2);
  targetChunk(actions, 2, 0, targetEnd(modes, 0, H), H, out);
  assert.deepEqual(Array.from(out), [0, 0, 1, 1, 1, 1, 1, 1]);
  targetChunk(actions, 2, 3, targetEnd(modes, 3, H), H, out);
  assert.deepEqual(Array.from(out), [3, 3, 4, 4, 4, 4, 4, 4]);
});

test('window_stride: only every k-th step starts a window', () => {
  const w = Array.from(windowWeights(labels([['teleop', 9]]), { ...cfg, window_stride: 4 }, H));
  assert.deepEqual(w, [2, 0, 0, 0, 2, 0, 0, 0, 2]);
});

test('weighted sampling: draws follow the weights, replay_fraction of the batch comes from replay, and the same seed draws the same batch', () => {
  const fresh = new WeightedPool(['a', 'b'], (x) => (x === 'a' ? 3 : 1));
  const replay = new WeightedPool(['r'], () => 1);
  const counts: Record<string, number> = { a: 0, b: 0, r: 0 };
  for (let s = 0; s < 400; s++) for (const x of drawBatch(fresh, replay, 0.25, 8, 2, s).windows) counts[x]!++;
  const n = 400 * 8;
  assert.ok(Math.abs(counts.r! / n - 0.25) < 0.03, JSON.stringify(counts));
  assert.ok(Math.abs(counts.a! / (counts.a! + counts.b!) - 0.75) < 0.03, JSON.stringify(counts));
  const one = drawBatch(fresh, replay, 0.25, 8, 350, 7), two = drawBatch(fresh, replay, 0.25, 8, 350, 7);
  assert.deepEqual(one, two);
  assert.ok(Array.from(one.t).every((t) => t >= 0.001 && t <= 0.999));
  const noReplay = drawBatch(fresh, new WeightedPool<string>([], () => 1), 0.5, 8, 2, 3);
  assert.equal(noReplay.replayed, 0, 'an empty replay pool gives its share to the new episodes');
});

const metrics = (c: [number, number], r: [number, number]): GateMetrics => ({
  corrections: { windows: 16, episodes: 1, parentLoss: c[0], candidateLoss: c[1] },
  retention: { windows: 16, episodes: 1, parentLoss: r[0], candidateLoss: r[1] },
});

test('gate decision: better on corrections and within the margin on retention passes; worse, regressing, NaN or unjudgeable does not', () => {
  const g = DEFAULT_TRAINING_CONFIG.gate; // max_regression 0.05
  const lora = new Float32Array(4);
  assert.equal(gateDecision(lora, metrics([0.3, 0.2], [0.1, 0.104]), g).accepted, true);
  const worse = gateDecision(lora, metrics([0.3, 0.31], [0.1, 0.1]), g);
  assert.equal(worse.accepted, false);
  assert.match(worse.reasons[0]!, /corrections: .*not below parent/);
  const forgets = gateDecision(lora, metrics([0.3, 0.2], [0.1, 0.12]), g);
  assert.equal(forgets.accepted, false);
  assert.match(forgets.reasons[1]!, /retention: .*regresses more than \+5\.0%/);
  const nan = gateDecision(Float32Array.of(0, NaN, 0, 0), metrics([0.3, 0.2], [0.1, 0.1]), g);
  assert.deepEqual([nan.accepted, nan.reasons], [false, ['the candidate adapter contains NaN or Inf']]);
  const inf = gateDecision(lora, metrics([0.3, Infinity], [0.1, 0.1]), g);
  assert.equal(inf.accepted, false);
  const none = gateDecision(lora, { ...metrics([0, 0], [0.1, 0.1]), corrections: { windows: 0, episodes: 0, parentLoss: NaN, candidateLoss: NaN } }, g);
  assert.equal(none.accepted, false);
  assert.match(none.reasons[0]!, /no held-out intervention windows/);
});

test('training config: defaults, merged sections, and a wrong field named', () => {
  const c = trainingConfig({ lr: 1e-3, weights: { teleop: 3 }, max_steps_per_pass: 50 });
  assert.deepEqual([c.lr, c.weights, c.max_steps_per_pass, c.gate], [1e-3, { intervention: 4, teleop: 3, policy: 1 }, 50, DEFAULT_TRAINING_CONFIG.gate]);
  assert.throws(() => trainingConfig({ replay_fraction: 2 }, 'hw-profiles/cpu.yaml training'), /hw-profiles\/cpu\.yaml training: .*replay_fraction/);
  assert.throws(() => trainingConfig({ weights: { operator: 2 } } as never), /weights/);
  assert.throws(() => trainingConfig({ lr: 0 }), /lr/);
});
