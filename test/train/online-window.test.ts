// The promoted adapter's online window: verdicts from episode facts, against the replaced adapter's.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EpisodeHistory, OnlineWindow, summarize, type EpisodeFacts } from '../../src/train/online-window.js';

const ep = (o: Partial<EpisodeFacts> = {}): EpisodeFacts => ({ success: true, truncated: false, steps: 100, policySteps: 100, interventionSteps: 0, clampedTicks: 0, nonFinite: 0, ...o });
const limits = { episodes: 3, maxSuccessDrop: 0.2, maxInterventionRise: 0.1, maxClampRise: 0.1, maxNonFinite: 0 };

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
  const w = new OnlineWindow(limits, history.summary());
  assert.equal(w.add(ep()), undefined);
  assert.equal(w.add(ep({ policySteps: 0 , interventionSteps: 0 })), undefined);
  assert.equal(w.counted, 1);
  assert.equal(w.add(ep({ success: false })), undefined);
  const v = w.add(ep());
  assert.equal(v?.outcome, 'committed');
});

test('rolls back on a success fall, an intervention rise or a clamp rise beyond the limits, saying which', () => {
  const base = summarize([ep(), ep(), ep(), ep()]);
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
  const w = new OnlineWindow(limits, null);
  const v = w.add(ep({ nonFinite: 1 }));
  assert.equal(v?.outcome, 'rolled_back');
  const fresh = new OnlineWindow(limits, null);
  fresh.add(ep({ success: false })); fresh.add(ep({ success: false }));
  assert.equal(fresh.add(ep({ success: false }))?.outcome, 'committed');
  assert.throws(() => new OnlineWindow({ ...limits, episodes: 0 }, null), /episodes must be >= 1/);
});
