// The slice of rclnodejs 2.2 the node uses, typed after its own declarations (rclnodejs@2.2.0
// types/*.d.ts: node.d.ts, lifecycle.d.ts, lifecycle_publisher.d.ts, parameter.d.ts, qos.d.ts,
// service.d.ts, time.d.ts, timer.d.ts), so the real module and the test double
// (test/support/rclnodejs-double.ts) are interchangeable. Nothing here imports rclnodejs: it is
// an optional dependency, loaded only by `--robot ros` through loadRclnodejs(), after the ROS
// environment is checked (rclnodejs imported without ROS sourced rebuilds itself and deletes its
// own addon: reference/ros2-jetson.md, "Behaviour observed").

/** rclnodejs Time (time.d.ts): nanoseconds since the clock's epoch (ROS time: sim time under use_sim_time). */
export interface RclTime { readonly nanoseconds: bigint }

/** rclnodejs Options (node.d.ts): QoS as a profile name (QoS.ProfileRef) here. */
export interface RclOptions { enableTypedArray?: boolean; qos?: string }

export interface RclPublisher { readonly topic: string; publish(message: object): void }

/** lifecycle_publisher.d.ts: publish() drops (and logs) while deactivated. */
export interface RclLifecyclePublisher extends RclPublisher { activate(): void; deactivate(): void; isActivated(): boolean }

export interface RclSubscription { readonly topic: string }
export interface RclTimer { cancel(): void; isCanceled(): boolean }
export interface RclService { readonly serviceName: string }

/** service.d.ts ServiceResponse: `template` is an empty response, send() answers the call. */
export interface RclServiceResponse<Res> { readonly template: Res; send(response: Res): void }

/** parameter.d.ts Parameter: integers are bigint. */
export interface RclParameter { readonly name: string; readonly type: number; value: unknown }
export interface RclRange { readonly fromValue: number; readonly toValue: number; readonly step: number; inRange(value: number | bigint): boolean }
export interface RclParameterDescriptor { readonly name: string; readonly type: number; readonly readOnly: boolean; additionalConstraints: string }

/** rcl_interfaces/msg/SetParametersResult as the on-set callback returns it. */
export interface SetParametersResult { successful: boolean; reason: string }

/** lifecycle.d.ts State. */
export interface RclState { readonly id: number; readonly label: string }

/** lifecycle.d.ts CallbackReturnCode (a const enum there: the values are lifecycle_msgs/msg/Transition's). */
export const CallbackReturnCode = { SUCCESS: 97, FAILURE: 98, ERROR: 99 } as const;
export type CallbackReturnCode = (typeof CallbackReturnCode)[keyof typeof CallbackReturnCode];

export interface RclCallbackReturnValue { value: CallbackReturnCode; isSuccess(): boolean }

/** node.d.ts Node, the members used. */
export interface RclNode {
  name(): string;
  namespace(): string;
  now(): RclTime;
  createPublisher(typeClass: string, topic: string, options?: RclOptions): RclPublisher;
  createSubscription(typeClass: string, topic: string, options: RclOptions, callback: (message: any) => void): RclSubscription;
  createService(typeClass: string, serviceName: string, callback: (request: any, response: RclServiceResponse<any>) => void): RclService;
  createTimer(period: bigint, callback: () => void): RclTimer;
  declareParameter(parameter: RclParameter, descriptor?: RclParameterDescriptor, ignoreOverride?: boolean): RclParameter;
  hasParameter(name: string): boolean;
  getParameter(name: string): RclParameter;
  setParameter(parameter: RclParameter): SetParametersResult;
  addOnSetParametersCallback(callback: (parameters: RclParameter[]) => SetParametersResult): void;
  destroyPublisher(publisher: RclPublisher): void;
  destroySubscription(subscription: RclSubscription): void;
  destroyService(service: RclService): void;
  destroyTimer(timer: RclTimer): void;
  spin(timeout?: number): void;
  destroy(): void;
}

/** lifecycle.d.ts LifecycleNode, the members used. Transition callbacks are synchronous (lib/lifecycle.js `_executeCallback`). */
export interface RclLifecycleNode extends RclNode {
  readonly currentState: RclState;
  registerOnConfigure(cb: (prev: RclState) => CallbackReturnCode): void;
  registerOnActivate(cb: (prev: RclState) => CallbackReturnCode): void;
  registerOnDeactivate(cb: (prev: RclState) => CallbackReturnCode): void;
  registerOnCleanup(cb: (prev: RclState) => CallbackReturnCode): void;
  registerOnShutdown(cb: (prev: RclState) => CallbackReturnCode): void;
  registerOnError(cb: (prev: RclState) => CallbackReturnCode): void;
  configure(callbackReturnValue?: RclCallbackReturnValue): RclState;
  activate(callbackReturnValue?: RclCallbackReturnValue): RclState;
  deactivate(callbackReturnValue?: RclCallbackReturnValue): RclState;
  cleanup(callbackReturnValue?: RclCallbackReturnValue): RclState;
  shutdown(callbackReturnValue?: RclCallbackReturnValue): RclState;
  createLifecyclePublisher(typeClass: string, topic: string, options?: RclOptions): RclLifecyclePublisher;
}

/** The module (index.d.ts), the members used. */
export interface Rcl {
  init(context?: unknown, argv?: string[]): Promise<void>;
  shutdown(context?: unknown): void;
  isShutdown(): boolean;
  /** A plain (unmanaged) node, as the simulated arm's ros2_control face is. */
  readonly Node: new (nodeName: string, namespace?: string, context?: unknown, options?: unknown) => RclNode;
  readonly lifecycle: {
    readonly LifecycleNode: new (nodeName: string, namespace?: string, context?: unknown, options?: unknown, enableCommunicationInterface?: boolean) => RclLifecycleNode;
    readonly CallbackReturnValue: new (value?: CallbackReturnCode) => RclCallbackReturnValue;
  };
  readonly Parameter: new (name: string, type: number, value?: unknown) => RclParameter;
  readonly ParameterDescriptor: new (name: string, type: number, description?: string, readOnly?: boolean, range?: RclRange) => RclParameterDescriptor;
  readonly IntegerRange: new (from: bigint, to: bigint, step?: bigint) => RclRange;
  readonly FloatingPointRange: new (from: number, to: number, step?: number, tolerance?: number) => RclRange;
  readonly QoS: { readonly profileDefault: string; readonly profileSystemDefault: string; readonly profileSensorData: string; readonly profileServicesDefault: string };
}

/** What a ROS 2 environment sets (`source /opt/ros/<distro>/setup.bash`); rclnodejs needs both. */
export const ROS_ENV_VARS = ['AMENT_PREFIX_PATH', 'ROS_DISTRO'] as const;

export class RosNotSourcedError extends Error {
  constructor(readonly missing: readonly string[], who = "robot 'ros'") {
    super(`ROS 2 is not sourced (${who} needs it): ${missing.join(' and ')} ${missing.length > 1 ? 'are' : 'is'} not set ` +
      '(run `source /opt/ros/<distro>/setup.bash`, e.g. humble or jazzy, then install rclnodejs in that shell: `npm i rclnodejs@2.2`)');
    this.name = 'RosNotSourcedError';
  }
}

/**
 * rclnodejs, or a clear refusal: the environment is checked BEFORE the import, because importing
 * it without ROS sourced triggers its self-rebuild, which deletes its compiled addon. `importer`
 * is for tests (it must never be called when the check fails); `who` names the command in the refusal.
 */
export async function loadRclnodejs(env: NodeJS.ProcessEnv = process.env, importer: () => Promise<unknown> = () => import('rclnodejs' as string), who?: string): Promise<Rcl> {
  const missing = ROS_ENV_VARS.filter((k) => !env[k]);
  if (missing.length) throw new RosNotSourcedError(missing, who);
  let mod: { default?: Rcl } & Partial<Rcl>;
  try {
    mod = (await importer()) as typeof mod;
  } catch (err) {
    throw new Error(`${who ?? "robot 'ros'"}: rclnodejs did not load (${(err as Error).message}); install it with ROS ${env.ROS_DISTRO} sourced: npm i rclnodejs@2.2`);
  }
  // ESM build: `export default rclnodejs` (dist/index.js); CJS interop puts it on the namespace.
  return (mod.default ?? mod) as Rcl;
}
