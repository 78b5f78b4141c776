// The daemon's lifecycle, as a ROS 2 managed (lifecycle) node's: primary states unconfigured ->
// inactive -> active -> finalized, moved by the transitions configure, activate, deactivate,
// cleanup and shutdown. A transition that fails leaves the state where it was, with the reason.
export const LIFECYCLE_STATES = ['unconfigured', 'inactive', 'active', 'finalized'] as const;
export type LifecycleState = (typeof LIFECYCLE_STATES)[number];

export const TRANSITIONS = ['configure', 'activate', 'deactivate', 'cleanup', 'shutdown'] as const;
export type Transition = (typeof TRANSITIONS)[number];

/** Which states each transition starts from and where it leads (rclcpp_lifecycle's graph). */
export const TRANSITION_TABLE: Readonly<Record<Transition, { from: readonly LifecycleState[]; to: LifecycleState }>> = {
  configure: { from: ['unconfigured'], to: 'inactive' },
  activate: { from: ['inactive'], to: 'active' },
  deactivate: { from: ['active'], to: 'inactive' },
  cleanup: { from: ['inactive'], to: 'unconfigured' },
  shutdown: { from: ['unconfigured', 'inactive', 'active'], to: 'finalized' },
};

const HINT: Partial<Record<LifecycleState, string>> = {
  unconfigured: 'configure first',
  inactive: 'activate first, or cleanup',
  active: 'deactivate first',
  finalized: 'the node has shut down',
};

export class TransitionRefused extends Error {
  constructor(readonly transition: string, readonly state: LifecycleState, message: string) {
    super(message);
    this.name = 'TransitionRefused';
  }
}

export const isTransition = (v: unknown): v is Transition => (TRANSITIONS as readonly unknown[]).includes(v);

/**
 * The state machine alone: transitions run one at a time (a request during another waits for it),
 * and the state moves only when the transition's work succeeded.
 */
export class Lifecycle {
  private current: LifecycleState = 'unconfigured';
  private chain: Promise<unknown> = Promise.resolve();
  private busy: Transition | undefined;
  /** Why the last failed transition failed. */
  lastError: string | undefined;

  get state(): LifecycleState { return this.current; }
  get transitioning(): Transition | undefined { return this.busy; }

  /** Throws TransitionRefused when `t` cannot start from the current state. */
  check(t: string): asserts t is Transition {
    if (!isTransition(t)) throw new TransitionRefused(t, this.current, `unknown transition '${t}' (expected ${TRANSITIONS.join(', ')})`);
    const spec = TRANSITION_TABLE[t];
    if (!spec.from.includes(this.current)) {
      throw new TransitionRefused(t, this.current, `cannot ${t} from ${this.current}${HINT[this.current] ? ` (${HINT[this.current]})` : ''}`);
    }
  }

  /** Runs `work` as transition `t`; on success the state becomes the transition's target. */
  run(t: string, work: () => Promise<void>): Promise<LifecycleState> {
    const next = this.chain.then(async () => {
      this.check(t);
      this.busy = t;
      try {
        await work();
        this.current = TRANSITION_TABLE[t].to;
        this.lastError = undefined;
        return this.current;
      } catch (err) {
        this.lastError = `${t} failed: ${(err as Error).message}`;
        throw err;
      } finally {
        this.busy = undefined;
      }
    });
    this.chain = next.catch(() => undefined);
    return next;
  }
}
