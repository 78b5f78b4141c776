// What `vlad sim` reports per task, from the episodes' outcomes and the simulated scenes'
// privileged facts: success, length, closest approach, how often the cube was grasped, and for
// place where each cube ended and why the failures failed.
import { percentile } from '../core/index.js';
import type { EpisodeOutcome } from '../daemon/index.js';
import { PAD_HALF, type PlaceEnd } from '../sim/index.js';

/** A rise this large (m) in the gripper's hold means the grasp worked (failures after it are elsewhere). */
export const HELD_LIFT_M = 0.03;

/** Why place episodes failed, counted over the failures only. */
export interface PlaceFailures {
  /** The cube never rose HELD_LIFT_M in the fingers. */
  not_grasped: number;
  /** Grasped, and still in the fingers when the episode ran out. */
  still_held: number;
  /** Released within the other pad's square. */
  on_other_pad: number;
  /** Out of the fingers anywhere else: short of the pad, dropped on the way, pushed off (or, rarely,
   *  on the named pad with the fingers let go but not opened as wide as success asks). */
  off_pad: number;
}

export function classifyPlaceFailure(heldLiftM: number, end: PlaceEnd): keyof PlaceFailures {
  if (heldLiftM < HELD_LIFT_M) return 'not_grasped';
  if (end.held) return 'still_held';
  return end.otherPadOffsetM < PAD_HALF ? 'on_other_pad' : 'off_pad';
}

export interface TaskReport {
  success_rate: number;
  /** With a swapped instruction: how often the policy achieved the *original* instruction. */
  original_target_rate?: number;
  episodes: number;
  successes: number;
  mean_episode_steps: number;
  mean_episode_seconds: number;
  /** Median over episodes of the closest approach to the named object (m). */
  median_closest_approach_m: number;
  /** Pick/place: share of episodes whose object rose >= HELD_LIFT_M in the gripper (the grasp worked). */
  grasped_rate?: number;
  place_failures?: PlaceFailures;
  /** Steps by who commanded them, summed over the task's episodes (policy, hold, ...). */
  steps_by_source: Record<string, number>;
  /** Supervised (--supervise): the operator's takeovers by reason, and how many episodes it took over. */
  takeovers?: Record<string, number>;
  episodes_taken_over?: number;
}

export function taskReport(episodes: readonly EpisodeOutcome[], periodS: number): TaskReport {
  const n = episodes.length;
  const successes = episodes.filter((e) => e.success).length;
  const steps = episodes.reduce((a, e) => a + e.steps, 0);
  const scenes = episodes.map((e) => e.scene!).filter(Boolean);
  const grasps = scenes.some((s) => s.heldLiftM !== undefined);
  const report: TaskReport = {
    success_rate: n ? successes / n : 0, episodes: n, successes, mean_episode_steps: n ? steps / n : 0, mean_episode_seconds: n ? (steps / n) * periodS : 0,
    median_closest_approach_m: percentile(scenes.map((s) => s.closestApproachM), 50),
    steps_by_source: {},
  };
  for (const e of episodes) for (const [k, v] of Object.entries(e.sources)) report.steps_by_source[k] = (report.steps_by_source[k] ?? 0) + v;
  if (grasps) report.grasped_rate = n ? scenes.filter((s) => (s.heldLiftM ?? 0) >= HELD_LIFT_M).length / n : 0;
  if (scenes.some((s) => s.placeEnd)) {
    const f: PlaceFailures = { not_grasped: 0, still_held: 0, on_other_pad: 0, off_pad: 0 };
    for (const e of episodes) if (!e.success && e.scene?.placeEnd) f[classifyPlaceFailure(e.scene.heldLiftM ?? 0, e.scene.placeEnd)]++;
    report.place_failures = f;
  }
  if (scenes.some((s) => s.takeovers.length > 0)) {
    report.takeovers = {};
    for (const s of scenes) for (const t of s.takeovers) report.takeovers[t.reason] = (report.takeovers[t.reason] ?? 0) + 1;
    report.episodes_taken_over = scenes.filter((s) => s.takeovers.length > 0).length;
  }
  if (scenes.some((s) => s.originalSuccess !== undefined)) report.original_target_rate = n ? scenes.filter((s) => s.originalSuccess).length / n : 0;
  return report;
}

/** One stderr line per episode: the outcome and the graded facts that explain a failure. */
export function episodeLine(e: EpisodeOutcome): string {
  const s = e.scene;
  if (!s) return `sim ${e.success ? 'success' : 'fail'} steps=${e.steps} "${e.instruction}"`;
  const lift = s.heldLiftM !== undefined ? ` held-lift=${(100 * s.heldLiftM).toFixed(1)}cm` : '';
  const end = s.placeEnd ? ` end=${(100 * s.placeEnd.goalOffsetM).toFixed(1)}cm-from-pad${s.placeEnd.held ? ',held' : ''}` : '';
  const original = s.originalSuccess !== undefined ? ` original-object=${s.originalSuccess ? 'success' : 'no'}` : '';
  const hold = e.sources.hold ? ` hold=${e.sources.hold}` : '';
  const takeovers = s.takeovers.length ? ` takeovers=${s.takeovers.map((t) => `${t.reason}@${t.atS.toFixed(1)}s`).join(',')} intervention=${e.sources.intervention ?? 0}` : '';
  return `sim ${s.task} seed=${s.seed} ${e.success ? 'success' : 'fail'} steps=${e.steps}${hold} closest=${(100 * s.closestApproachM).toFixed(1)}cm${lift}${end}${takeovers} "${e.instruction}"${original}`;
}

export function taskLine(task: string, t: TaskReport): string {
  const original = t.original_target_rate !== undefined ? `  originally named object ${(100 * t.original_target_rate).toFixed(0)}%` : '';
  const grasped = t.grasped_rate !== undefined ? `  grasped ${(100 * t.grasped_rate).toFixed(0)}%` : '';
  const f = t.place_failures;
  const failures = f && t.successes < t.episodes ? `  failures: not grasped ${f.not_grasped}, still held ${f.still_held}, on the other pad ${f.on_other_pad}, off the pad ${f.off_pad}` : '';
  const takeovers = t.takeovers ? `  taken over in ${t.episodes_taken_over}/${t.episodes} (${Object.entries(t.takeovers).map(([r, n]) => `${r} ${n}`).join(', ')})` : '';
  return `${task.padEnd(6)} success ${(100 * t.success_rate).toFixed(0).padStart(3)}% (${t.successes}/${t.episodes})  mean length ${t.mean_episode_steps.toFixed(0)} steps (${t.mean_episode_seconds.toFixed(1)} s)  closest approach p50 ${(100 * t.median_closest_approach_m).toFixed(1)} cm${grasped}${original}${failures}${takeovers}`;
}
