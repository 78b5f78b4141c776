// The promoted adapter's online window: verdicts from episode facts, against the replaced adapter's.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EpisodeHistory, OnlineWindow, summarize, type EpisodeFacts } from '../../src/train/online-window.js';

const ep = (o: Partial<EpisodeFacts> = {}): EpisodeFacts => ({ task: 'pick', success: true, truncated: false, steps: 100, policySteps: 100, interventionSteps: 0, clampedTicks: 0, nonFinite: 0, ...o });
const limits = { episodes: 3, maxSuccessDrop: 0.2, maxInterventionRise: 0.1, maxClampRise: 0.1, maxNonFinite: 0, maxTaskInterventionRise: 0.2, minTaskEpisodes: 2 };

test('summarize: success over judged episodes, interventions over acted steps, clamps over ticks', () => {
  const s = summarize([ep({ success: false }), ep(), ep({ truncated: true, success: false }), ep({ policySteps: 60, interventionSteps: 40, clampedTicks: 30 })]);
  assert.equal(s.episodes, 4);
  assert.equal(s.successRate, 2 / 3);
  assert.equal(s.interventionRate, 40 / 400);
  assert.equal(s.clampRate, 30 / 400);
});

test('a window commits after N acting episodes no worse than the baseline; operator-only episodes do not count', () => {
  const history = new EpisodeHistory();
  for (let i = 0; i < 4; i++) history.add(ep({ success: i !== 0 }));
  history.add(ep({ policySteps: 0, interventionSteps: 0 })); // teleop: ignored
  assert.equal(history.size, 4);
  const w = new OnlineWindow(limits, history.episodes());
  assert.deepEqual(w.baseline, summarize(history.episodes()));
  assert.equal(w.add(ep()), undefined);
  assert.equal(w.add(ep({ policySteps: 0 , interventionSteps: 0 })), undefined);
  assert.equal(w.counted, 1);
  assert.equal(w.add(ep({ success: false })), undefined);
  const v = w.add(ep());
  assert.equal(v?.outcome, 'committed');
});

test('rolls back on a success fall, an intervention rise or a clamp rise beyond the limits, saying which', () => {
  const base = [ep(), ep(), ep(), ep()];
  const fall = new OnlineWindow(limits, base);
  fall.add(ep({ success: false })); fall.add(ep()); const v1 = fall.add(ep({ success: false }));
  assert.equal(v1?.outcome, 'rolled_back');
  assert.match(v1 && 'reason' in v1 ? v1.reason : '', /success fell from 100\.0% to 33\.3%/);
  const more = new OnlineWindow(limits, base);
  more.add(ep({ policySteps: 60, interventionSteps: 40 })); more.add(ep()); const v2 = more.add(ep());
  assert.match(v2 && 'reason' in v2 ? v2.reason : '', /operator took 13\.3% .* 0\.0% before/);
  const clamps = new OnlineWindow(limits, base);
  clamps.add(ep({ clampedTicks: 50 })); clamps.add(ep()); const v3 = clamps.add(ep());
  assert.match(v3 && 'reason' in v3 ? v3.reason : '', /clamped 16\.7% of ticks/);
});

test('a non-finite chunk rolls back at once; without a baseline only absolute limits apply', () => {
  const w = new OnlineWindow(limits, []);
  const v = w.add(ep({ nonFinite: 1 }));
  assert.equal(v?.outcome, 'rolled_back');
  const fresh = new OnlineWindow(limits, []);
  fresh.add(ep({ success: false })); fresh.add(ep({ success: false }));
  assert.equal(fresh.add(ep({ success: false }))?.outcome, 'committed');
  assert.throws(() => new OnlineWindow({ ...limits, episodes: 0 }, []), /episodes must be >= 1/);
});

test('one task taken over far more often rolls back even when the overall rate stays within its limit', () => {
  // The shape measured in learn demo: two tasks better, the third taken over again and again.
  const six = { ...limits, episodes: 6, maxInterventionRise: 0.25 };
  const taken = (task: string) => ep({ task, policySteps: 60, interventionSteps: 40 });
  const baseline = [taken('pick'), taken('pick'), taken('place'), taken('place'), ep({ task: 'touch' }), ep({ task: 'touch' }), ep({ task: 'touch' })];
  const w = new OnlineWindow(six, baseline);
  for (const f of [ep({ task: 'pick' }), ep({ task: 'pick' }), ep({ task: 'place' }), ep({ task: 'place' }), taken('touch')]) assert.equal(w.add(f), undefined);
  const v = w.add(taken('touch'));
  // Overall the operator's share fell (80 of 600 steps vs 160 of 700): only the per-task check sees touch.
  assert.ok(v && v.summary.interventionRate < w.baseline!.interventionRate);
  assert.equal(v?.outcome, 'rolled_back');
  assert.match(v && 'reason' in v ? v.reason : '', /^touch: the operator took 40\.0% of the steps over 2 episodes, 0\.0% over 3 before \(a rise of at most 20\.0% a task allowed\)/);
});

test('a task is judged only where the window and the baseline both hold min_task_episodes of it', () => {
  const taken = (task: string) => ep({ task, policySteps: 50, interventionSteps: 50 });
  // One touch episode in the window: too few to judge touch alone (overall within a loose limit).
  const loose = { ...limits, episodes: 3, maxInterventionRise: 1 };
  const w = new OnlineWindow(loose, [ep({ task: 'touch' }), ep({ task: 'touch' }), ep(), ep()]);
  w.add(ep()); w.add(ep());
  assert.equal(w.add(taken('touch'))?.outcome, 'committed');
  // A task the baseline never saw: nothing to compare it with.
  const unseen = new OnlineWindow(loose, [ep(), ep()]);
  unseen.add(taken('touch')); unseen.add(taken('touch'));
  assert.equal(unseen.add(ep())?.outcome, 'committed');
  // The same two takeovers against a baseline that holds touch: rolled back.
  const seen = new OnlineWindow(loose, [ep({ task: 'touch' }), ep({ task: 'touch' })]);
  seen.add(taken('touch')); seen.add(taken('touch'));
  assert.match((v => (v && 'reason' in v ? v.reason : ''))(seen.add(ep())), /^touch: /);
  assert.throws(() => new OnlineWindow({ ...limits, minTaskEpisodes: 0 }, []), /minTaskEpisodes must be >= 1/);
});
