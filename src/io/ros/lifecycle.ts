// lifecycle_msgs as `ros2 lifecycle` and launch_ros speak it: state and transition ids and labels
// (lifecycle_msgs/msg/State.msg, Transition.msg; labels as rcl_lifecycle's default state machine
// names them), which transitions each primary state offers, and how a ChangeState request names
// one. The node serves these services itself (node.ts says why); this file is the ROS-free part.

export const STATE = {
  unknown: 0, unconfigured: 1, inactive: 2, active: 3, finalized: 4,
  configuring: 10, cleaningup: 11, shuttingdown: 12, activating: 13, deactivating: 14, errorprocessing: 15,
} as const;
export type StateLabel = keyof typeof STATE;
export type PrimaryState = 'unconfigured' | 'inactive' | 'active' | 'finalized';
export type TransitionLabel = 'configure' | 'activate' | 'deactivate' | 'cleanup' | 'shutdown';

export const TRANSITION = {
  configure: 1, cleanup: 2, activate: 3, deactivate: 4, unconfigured_shutdown: 5, inactive_shutdown: 6, active_shutdown: 7,
} as const;

export interface StateMsg { id: number; label: string }
export interface TransitionMsg { id: number; label: string }
export interface TransitionDescriptionMsg { transition: TransitionMsg; start_state: StateMsg; goal_state: StateMsg }

export const stateMsg = (label: StateLabel): StateMsg => ({ id: STATE[label], label });

/** The intermediate state a transition runs in. */
export const TRANSITIONING: Readonly<Record<TransitionLabel, StateLabel>> = {
  configure: 'configuring', activate: 'activating', deactivate: 'deactivating', cleanup: 'cleaningup', shutdown: 'shuttingdown',
};

const OFFERS: Readonly<Record<PrimaryState, readonly { label: TransitionLabel; id: number; goal: PrimaryState }[]>> = {
  unconfigured: [{ label: 'configure', id: TRANSITION.configure, goal: 'inactive' }, { label: 'shutdown', id: TRANSITION.unconfigured_shutdown, goal: 'finalized' }],
  inactive: [
    { label: 'cleanup', id: TRANSITION.cleanup, goal: 'unconfigured' }, { label: 'activate', id: TRANSITION.activate, goal: 'active' },
    { label: 'shutdown', id: TRANSITION.inactive_shutdown, goal: 'finalized' },
  ],
  active: [{ label: 'deactivate', id: TRANSITION.deactivate, goal: 'inactive' }, { label: 'shutdown', id: TRANSITION.active_shutdown, goal: 'finalized' }],
  finalized: [],
};

/** GetAvailableTransitions' answer for `state` (rcl lists the shutdown transitions per start state). */
export function availableTransitions(state: PrimaryState): TransitionDescriptionMsg[] {
  return OFFERS[state].map((o) => ({
    transition: { id: o.id, label: o.label },
    start_state: stateMsg(state),
    goal_state: stateMsg(TRANSITIONING[o.label]),
  }));
}

/**
 * The transition a ChangeState request asks for from `state`: by label when it has one (as
 * rclnodejs's _onChangeState does), else by id; undefined when `state` does not offer it.
 */
export function requestedTransition(state: PrimaryState, req: TransitionMsg): TransitionLabel | undefined {
  const o = req.label ? OFFERS[state].find((x) => x.label === req.label) : OFFERS[state].find((x) => x.id === req.id);
  return o?.label;
}
