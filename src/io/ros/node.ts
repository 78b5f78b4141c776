// The vlad lifecycle node on rclnodejs: the thin ROS-facing shell of the daemon. It declares the
// parameters (descriptors from params.ts) and vetoes run-time changes through an injected check,
// serves the lifecycle services, std_srvs services handed in by the daemon, and /diagnostics at
// 1 Hz. It knows nothing of the daemon: everything it does with one goes through the narrow
// interfaces below (daemon/ros-node.ts implements them).
//
// Why the node serves the lifecycle services itself. rclnodejs calls transition callbacks
// synchronously (lib/lifecycle.js `_executeCallback`: `result = callback(prevState)`, no await),
// and its own change_state service answers from that return value. The daemon's configure is
// asynchronous (bundle load, golden self-test in the policy worker, waiting for the first joint
// state), so a callback cannot know its outcome. The LifecycleNode is therefore created without
// its communication interface (`enableCommunicationInterface` false) and the node serves
// ~/change_state, ~/get_state, ~/get_available_states, ~/get_available_transitions (lifecycle_msgs,
// what `ros2 lifecycle` and launch_ros call) and publishes ~/transition_event itself: a request
// runs the daemon's transition, and when it has finished the rcl state machine is moved through
// the same transition, its callbacks returning the outcome (SUCCESS or FAILURE). The rcl state
// machine thus follows the daemon's, whichever way a transition was asked for (ROS, ops RPC,
// autostart).
import { MSG, type DiagnosticArrayMsg } from './messages.js';
import { availableTransitions, requestedTransition, STATE, stateMsg, TRANSITIONING, type PrimaryState, type StateLabel, type TransitionLabel, type TransitionMsg } from './lifecycle.js';
import { fromRosValue, ParameterType, toRosValue, type ParamDescriptor, type RuntimeChange } from './params.js';
import { CallbackReturnCode, type Rcl, type RclLifecycleNode, type RclParameter, type RclPublisher, type RclServiceResponse, type RclTimer } from './rclnodejs.js';

/** The daemon's lifecycle as the node drives it. */
export interface LifecycleTarget {
  readonly state: PrimaryState;
  readonly transitioning: TransitionLabel | undefined;
  /** Runs the transition; rejects with the reason it was refused or failed. */
  transition(t: TransitionLabel): Promise<unknown>;
}

export interface ServiceResult { success: boolean; message: string }

/** A std_srvs service: Trigger (no request data) or SetBool (request.data). */
export interface NodeService {
  readonly name: string;
  readonly type: 'std_srvs/srv/Trigger' | 'std_srvs/srv/SetBool';
  /** `data`: SetBool's request (false for Trigger). A throw is answered as success=false with its message. */
  handle(data: boolean): Promise<string> | string;
}

export interface RosNodeOptions {
  readonly name: string;
  readonly namespace?: string;
  readonly lifecycle: LifecycleTarget;
  readonly params: readonly ParamDescriptor[];
  /** Whether a parameter change may go ahead (and, when it may, applies it). */
  readonly onSetParameter: (name: string, value: unknown) => RuntimeChange;
  readonly services: readonly NodeService[];
  /** The DiagnosticArray to publish now (1 Hz timer). */
  readonly diagnostics: () => DiagnosticArrayMsg;
  readonly log: { warn(obj: object, msg: string): void; error(obj: object, msg: string): void };
}

const SERVICE_TYPES = {
  getState: 'lifecycle_msgs/srv/GetState',
  changeState: 'lifecycle_msgs/srv/ChangeState',
  getAvailableStates: 'lifecycle_msgs/srv/GetAvailableStates',
  getAvailableTransitions: 'lifecycle_msgs/srv/GetAvailableTransitions',
} as const;

/** lifecycle_msgs/msg/Transition ids of a transition's end (ON_<X>_SUCCESS / _FAILURE). */
const END_IDS: Readonly<Record<TransitionLabel, readonly [number, number]>> = {
  configure: [10, 11], cleanup: [20, 21], activate: [30, 31], deactivate: [40, 41], shutdown: [50, 51],
};
const START_IDS: Readonly<Record<TransitionLabel, Readonly<Partial<Record<PrimaryState, number>>>>> = {
  configure: { unconfigured: 1 }, cleanup: { inactive: 2 }, activate: { inactive: 3 }, deactivate: { active: 4 },
  shutdown: { unconfigured: 5, inactive: 6, active: 7 },
};

export class RosLifecycleNode {
  readonly node: RclLifecycleNode;
  private readonly transitionEvents: RclPublisher;
  private readonly diagnosticsPub: RclPublisher;
  private readonly timer: RclTimer;
  /** What the rcl transition callbacks return: the daemon's outcome of the transition being mirrored. */
  private pending: CallbackReturnCode = CallbackReturnCode.SUCCESS;
  private closed = false;

  constructor(private readonly rcl: Rcl, private readonly opts: RosNodeOptions) {
    const node = new rcl.lifecycle.LifecycleNode(opts.name, opts.namespace ?? '', undefined, undefined, false);
    this.node = node;
    const ret = () => this.pending;
    node.registerOnConfigure(ret);
    node.registerOnActivate(ret);
    node.registerOnDeactivate(ret);
    node.registerOnCleanup(ret);
    node.registerOnShutdown(ret);
    this.declareParameters();
    // After declaring: rclnodejs runs on-set callbacks for declarations too (node.js _setParametersAtomically).
    node.addOnSetParametersCallback((ps) => this.onSet(ps));
    this.serveLifecycle();
    for (const s of opts.services) {
      node.createService(s.type, s.name, (req: { data?: boolean }, res: RclServiceResponse<ServiceResult>) => {
        void (async () => {
          let out: ServiceResult;
          try { out = { success: true, message: await s.handle(req?.data === true) }; } catch (err) { out = { success: false, message: (err as Error).message }; }
          res.send(out);
        })();
      });
    }
    this.transitionEvents = node.createPublisher('lifecycle_msgs/msg/TransitionEvent', '~/transition_event', { qos: rcl.QoS.profileDefault });
    this.diagnosticsPub = node.createPublisher(MSG.diagnosticArray, '/diagnostics', { qos: rcl.QoS.profileDefault });
    this.timer = node.createTimer(1_000_000_000n, () => this.publishDiagnostics());
    node.spin();
  }

  private declareParameters(): void {
    const { Parameter, ParameterDescriptor, IntegerRange, FloatingPointRange } = this.rcl;
    for (const d of this.opts.params) {
      const range = d.integerRange
        ? new IntegerRange(BigInt(Math.max(d.integerRange.fromValue, Number.MIN_SAFE_INTEGER)), BigInt(Math.min(d.integerRange.toValue, Number.MAX_SAFE_INTEGER)), 1n)
        : d.floatingPointRange ? new FloatingPointRange(d.floatingPointRange.fromValue, d.floatingPointRange.toValue, d.floatingPointRange.step) : undefined;
      const descriptor = new ParameterDescriptor(d.name, d.type, d.description, d.readOnly, range);
      descriptor.additionalConstraints = d.additionalConstraints;
      // The daemon has already read and validated the params file (and flags): its values win
      // over rcl's copy of the same file (ignoreOverride), whose YAML typing may differ (1 vs 1.0).
      this.node.declareParameter(new Parameter(d.name, d.type, toRosValue(d.type, d.value)), descriptor, true);
    }
  }

  private onSet(ps: RclParameter[]): { successful: boolean; reason: string } {
    for (const p of ps) {
      if (p.type === ParameterType.PARAMETER_NOT_SET) return { successful: false, reason: `'${p.name}' cannot be undeclared` };
      const r = this.opts.onSetParameter(p.name, fromRosValue(p.value));
      if (!r.accepted) return { successful: false, reason: r.reason };
    }
    return { successful: true, reason: '' };
  }

  private currentLabel(): StateLabel {
    const t = this.opts.lifecycle.transitioning;
    return t ? TRANSITIONING[t] : this.opts.lifecycle.state;
  }

  private serveLifecycle(): void {
    const n = this.node;
    const lc = this.opts.lifecycle;
    n.createService(SERVICE_TYPES.getState, '~/get_state', (_req: unknown, res: RclServiceResponse<{ current_state: object }>) => {
      res.send({ current_state: stateMsg(this.currentLabel()) });
    });
    n.createService(SERVICE_TYPES.getAvailableStates, '~/get_available_states', (_req: unknown, res: RclServiceResponse<{ available_states: object[] }>) => {
      res.send({ available_states: (Object.keys(STATE) as StateLabel[]).map(stateMsg) });
    });
    n.createService(SERVICE_TYPES.getAvailableTransitions, '~/get_available_transitions', (_req: unknown, res: RclServiceResponse<{ available_transitions: object[] }>) => {
      res.send({ available_transitions: lc.transitioning ? [] : availableTransitions(lc.state) });
    });
    n.createService(SERVICE_TYPES.changeState, '~/change_state', (req: { transition?: TransitionMsg }, res: RclServiceResponse<{ success: boolean }>) => {
      const t = req?.transition && !lc.transitioning ? requestedTransition(lc.state, req.transition) : undefined;
      if (!t) {
        this.opts.log.warn({ request: req?.transition, state: lc.state }, `change_state: no such transition from ${lc.state}`);
        res.send({ success: false });
        return;
      }
      lc.transition(t).then(
        () => res.send({ success: true }),
        (err: unknown) => { this.opts.log.warn({ transition: t, err }, `change_state ${t}: ${(err as Error).message}`); res.send({ success: false }); },
      );
    });
  }

  /** A transition began (from `from`): ~/transition_event start -> transitioning. */
  transitionStarted(t: TransitionLabel, from: PrimaryState): void {
    const id = START_IDS[t][from];
    if (id === undefined || this.closed) return;
    this.publishEvent({ id, label: t }, stateMsg(from), stateMsg(TRANSITIONING[t]));
  }

  /**
   * A transition ended: the rcl state machine goes through it with the outcome (its callbacks
   * return SUCCESS or FAILURE), and ~/transition_event says where it landed.
   */
  transitionEnded(t: TransitionLabel, from: PrimaryState, ok: boolean, to: PrimaryState): void {
    if (this.closed) return;
    this.pending = ok ? CallbackReturnCode.SUCCESS : CallbackReturnCode.FAILURE;
    try {
      const rv = new this.rcl.lifecycle.CallbackReturnValue();
      this.node[t](rv);
    } catch (err) {
      this.opts.log.error({ err, transition: t }, 'rcl lifecycle state machine out of step with the daemon');
    } finally {
      this.pending = CallbackReturnCode.SUCCESS;
    }
    const [okId, failId] = END_IDS[t];
    this.publishEvent({ id: ok ? okId : failId, label: ok ? 'transition_success' : 'transition_failure' }, stateMsg(TRANSITIONING[t]), stateMsg(ok ? to : from));
  }

  private publishEvent(transition: TransitionMsg, start: object, goal: object): void {
    this.transitionEvents.publish({ timestamp: this.node.now().nanoseconds, transition, start_state: start, goal_state: goal });
  }

  publishDiagnostics(): void {
    if (this.closed) return;
    try {
      this.diagnosticsPub.publish(this.opts.diagnostics());
    } catch (err) {
      this.opts.log.error({ err }, 'diagnostics not published');
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.node.destroyTimer(this.timer);
    this.node.destroy();
  }
}
