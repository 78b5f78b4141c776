// Watchdog: decides each tick whether the loop may follow its commander. Stale inputs or a
// commander with nothing to give (an exhausted plan, a silent operator) -> hold (brake at the
// acceleration limit, then stand still); fresh inputs and something to follow -> run again. For
// the policy, "something" is a chunk planned after the fault (the loop drops its queue on a
// fault). The hard-stop input always wins and latches until released; after a release the loop
// holds until its commander has something fresh. When nobody is meant to command (idle, or waiting
// for the policy's first chunk) the loop stands still without a fault.

export type WatchdogState = 'waiting' | 'run' | 'hold' | 'stop';

export const WATCHDOG_EVENTS = ['obs_stale', 'chunk_overdue', 'operator_stale', 'planner_timeout', 'planner_error', 'hard_stop', 'hard_stop_released', 'recovered', 'started'] as const;
export type WatchdogEvent = (typeof WATCHDOG_EVENTS)[number];

export interface WatchdogInput {
  readonly hardStop: boolean;
  /** Someone is meant to command the arm now (false: a deliberate hold, not a fault). */
  readonly engaged: boolean;
  /** The streams the commander needs are alive. */
  readonly observationsFresh: boolean;
  /** The commander has an action for this step. */
  readonly haveAction: boolean;
  /** What it means when the commander has none: the policy's plan ran out, or the operator fell silent. */
  readonly starvedEvent?: 'chunk_overdue' | 'operator_stale';
}

export interface WatchdogDecision {
  readonly state: WatchdogState;
  /** Set when the state changed this tick. */
  readonly event?: WatchdogEvent;
  /** The loop must drop its queue (the plan no longer matches where the robot will stop). */
  readonly invalidatePlan: boolean;
}

export class Watchdog {
  private current: WatchdogState = 'waiting';

  get state(): WatchdogState { return this.current; }

  update(input: WatchdogInput): WatchdogDecision {
    const prev = this.current;
    if (input.hardStop) {
      this.current = 'stop';
      return prev === 'stop' ? { state: 'stop', invalidatePlan: false } : { state: 'stop', event: 'hard_stop', invalidatePlan: true };
    }
    if (prev === 'stop') {
      this.current = 'hold';
      return { state: 'hold', event: 'hard_stop_released', invalidatePlan: true };
    }
    if (!input.engaged) {
      // A hold after a fault stays a hold (it needs fresh data to end); otherwise wait quietly.
      if (prev !== 'hold') this.current = 'waiting';
      return { state: this.current, invalidatePlan: false };
    }
    if (prev === 'run') {
      if (!input.observationsFresh) return this.enterHold('obs_stale');
      if (!input.haveAction) return this.enterHold(input.starvedEvent ?? 'chunk_overdue');
      return { state: 'run', invalidatePlan: false };
    }
    // waiting or hold: resume only on fresh data and something made after the fault.
    if (input.observationsFresh && input.haveAction) {
      this.current = 'run';
      return { state: 'run', event: prev === 'hold' ? 'recovered' : 'started', invalidatePlan: false };
    }
    return { state: prev, invalidatePlan: false };
  }

  private enterHold(event: WatchdogEvent): WatchdogDecision {
    this.current = 'hold';
    return { state: 'hold', event, invalidatePlan: true };
  }
}
