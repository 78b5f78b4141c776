// The control loop: one step per tick, synchronous and allocation-light, on the main thread.
//   poll inputs -> who commands (mode, hand-over) -> watchdog -> joined action or operator target
//   -> blend at a change of commander -> safety filter -> send -> maybe re-plan
// Planning is asynchronous: when the remaining horizon falls to the threshold, the latest
// observation goes to the planner (a policy worker) and the loop keeps executing the old plan.
// The chunk joins the queue when it lands; its delay d (control steps from its observation time to
// its arrival) is recorded, and it acts only from the next step on. Every executed step goes to
// the taps with its provenance (who commanded it, and for policy steps the chunk it came from).
import type { ActionChunk, ControlMode, JointCommand, JointTrajectory, Observation, OperatingMode, TrajectoryPoint } from '../core/index.js';
import { systemClock, type Clock } from '../core/index.js';
import { ActionQueue, type JoinConfig, type QueuedChunk } from './action-queue.js';
import type { RobotDescription } from './limits.js';
import { Ratekeeper, type RatekeeperOptions, type TickAccountant, type TickTiming } from './ratekeeper.js';
import { SafetyFilter, type SafetyRule } from './safety.js';
import type { ChunkPlanner, LoopInputs, LoopRobot, PlanOutcome, PlanRequest, RtcPrefix } from './types.js';
import { Watchdog, type WatchdogState, type WatchdogEvent } from './watchdog.js';
import { Blend, DEFAULT_HANDOVER, Handover, type Commander, type HandoverConfig } from './handover.js';
import { warmUpControlPath, type WarmUpResult } from './warmup.js';

/** What the loop reports; src/metrics' ControlMetrics implements it with Prometheus instruments. */
export interface ControlTelemetry {
  /** `timing` (real timers only) says how late the coarse wake came and which margin it used. */
  tick(lateS: number, misses: number, timing?: TickTiming): void;
  clamp(rule: SafetyRule, joint: string): void;
  watchdog(event: WatchdogEvent, state: WatchdogState): void;
  queueDepth(steps: number): void;
  inferenceDelay(steps: number): void;
  inferenceStage(stage: string, seconds: number): void;
  /** `chunk` comes with 'accepted' (telemetry publishes it). */
  chunk(outcome: 'accepted' | 'stale' | 'invalid' | 'late', chunk?: ActionChunk): void;
}

/** Gate for compute (src/sched): control inference asks through it at the highest priority. */
export interface ComputeGate {
  control<T>(work: () => Promise<T>): Promise<T>;
}

/**
 * Fraction of a chunk left when the next plan is requested: the loop executes ~80% of each chunk.
 * Measured in closed loop with the shipped model (MODEL_CARD.md, 100 episodes a task): re-planning
 * after 40-50 of 50 steps beats every 25 (pick 58-64% vs 46%, touch 89-95% vs 81%), and every 5
 * or 10 steps is far worse: each new chunk may switch modes, and a chunk is most coherent whole.
 */
export const DEFAULT_REPLAN_THRESHOLD = 0.2;

export interface TickRecord {
  readonly step: number;
  readonly scheduledNs: bigint;
  readonly actualNs: bigint;
  readonly state: WatchdogState;
  /** Who commanded this step (the recorded control_mode). */
  readonly source: ControlMode;
  readonly commander: Commander;
  /** The commander's target before the safety filter, blended at a hand-over (undefined when holding). */
  readonly desired: Float64Array | undefined;
  /** The policy's joined action for this step, before any blend (undefined when the queue has none). */
  readonly planned: Float64Array | undefined;
  readonly command: JointCommand;
  /** Sequence number of the newest chunk in the queue (0 = none). */
  readonly chunkSeq: number;
  /** For policy steps: the newest chunk that produced the action (model, adapter, noise seed, delay d). */
  readonly chunk: ActionChunk | undefined;
  readonly observation: Observation | undefined;
}

export type TickTap = (record: TickRecord) => void;

export interface ControlLoopOptions {
  rateHz: number;
  robot: LoopRobot;
  robotDescription: RobotDescription;
  /** The observation store: inputs polled every tick, with per-stream health. */
  observations: LoopInputs;
  planner: ChunkPlanner;
  /** Who may command the arm at start (default autonomous; setMode() switches). */
  mode?: OperatingMode;
  handover?: HandoverConfig;
  join?: JoinConfig;
  /**
   * Re-plan when the remaining horizon is at most this fraction of the last chunk (default
   * DEFAULT_REPLAN_THRESHOLD), or earlier when the remainder no longer covers the measured inference
   * delay plus one step (so the next chunk lands before this one runs out).
   */
  replanThreshold?: number;
  /** A plan request unanswered for this long is abandoned (and retried). Default 1 s. */
  maxPlanWaitS?: number;
  /** RTC: estimate d from the largest delay of this many recent chunks. Default 20. */
  delayWindow?: number;
  output?: 'forward' | 'trajectory';
  /** Trajectory mode: one point every this many control steps. Default: the chunk dt. */
  trajectoryStride?: number;
  clock?: Clock;
  telemetry?: ControlTelemetry;
  compute?: ComputeGate;
  ratekeeper?: Omit<RatekeeperOptions, 'rateHz' | 'clock' | 'log'>;
  /**
   * run() first drives a throwaway loop this many virtual ticks through every path (warmup.ts),
   * so the first real ticks run optimized code. Default 3000; 0 skips it.
   */
  warmUpTicks?: number;
  log?: (line: string) => void;
}

export interface ControlLoopStats {
  ticks: number;
  state: WatchdogState;
  mode: OperatingMode;
  /** Executed steps by provenance. */
  steps: Record<ControlMode, number>;
  /** Operator take-overs and hand-backs (intervention mode). */
  handovers: { takeover: number; release: number; silence: number };
  chunksAccepted: number;
  chunksDropped: number;
  planRequests: number;
  plannerErrors: number;
  /** Inference delay d of every accepted chunk, control steps. */
  delays: number[];
  watchdogEvents: Partial<Record<WatchdogEvent, number>>;
  clamps: Record<SafetyRule, number[]>;
}

interface InFlight { id: number; generation: number; sentNs: bigint }

export class ControlLoop {
  readonly periodS: number;
  readonly periodNs: bigint;
  readonly jointNames: readonly string[];
  private readonly clock: Clock;
  private readonly queue: ActionQueue;
  private readonly safety: SafetyFilter;
  private readonly watchdogState = new Watchdog();
  private readonly handover: Handover;
  private readonly blend: Blend;
  private lastCommander: Commander | undefined;
  private lastSource: ControlMode = 'hold';
  private readonly policyDesired: Float64Array;
  private readonly stepLimit: Float64Array;
  private readonly join: JoinConfig;
  private readonly desired: Float64Array;
  private readonly taps = new Set<TickTap>();
  private epochNs: bigint | undefined;
  private lastStep = -1;
  private inflight: InFlight | undefined;
  private requestSeq = 0;
  private generation = 0;
  private hardStopActive = false;
  private suspended = false;
  private closed = false;
  private recentDelaysS: number[] = [];
  /** Largest of recentDelaysS (0 before the first chunk). */
  private recentDelayMaxS = 0;
  private lastChunkSteps = 0;
  /** After a planner error, the next request waits until this step (no retry storm). */
  private retryAfterStep = 0;
  private abort: AbortController | undefined;
  /** What run()'s warm-up did (undefined before run() or when skipped). */
  warmUp: WarmUpResult | undefined;
  private readonly stats: ControlLoopStats;

  constructor(private readonly opts: ControlLoopOptions) {
    this.periodS = 1 / opts.rateHz;
    this.periodNs = BigInt(Math.round(1e9 / opts.rateHz));
    this.clock = opts.clock ?? systemClock;
    this.join = opts.join ?? { method: 'replace' };
    const n = opts.robotDescription.joints.length;
    this.jointNames = opts.robotDescription.joints.map((j) => j.name);
    this.queue = new ActionQueue(this.join, this.periodS, n);
    this.safety = new SafetyFilter(opts.robotDescription, this.periodS);
    this.desired = new Float64Array(n);
    this.policyDesired = new Float64Array(n);
    // The per-tick step each joint may take: its max_step, or what its velocity limit allows.
    this.stepLimit = Float64Array.from(opts.robotDescription.joints, (j) => Math.min(j.max_step ?? Infinity, j.velocity / opts.rateHz));
    this.handover = new Handover(opts.handover ?? DEFAULT_HANDOVER, opts.mode ?? 'autonomous');
    this.blend = new Blend(n);
    const output = opts.output ?? 'forward';
        const t = opts.telemetry;
    if (t) this.safety.onClamp((rule, j) => t.clamp(rule, this.jointNames[j]!));
    this.stats = {
      ticks: 0, state: 'waiting', mode: this.handover.mode, steps: { policy: 0, teleop: 0, intervention: 0, hold: 0, perturbation: 0 },
      handovers: { takeover: 0, release: 0, silence: 0 },
      chunksAccepted: 0, chunksDropped: 0, planRequests: 0, plannerErrors: 0, delays: [], watchdogEvents: {}, clamps: this.safety.clamps,
    };
  }

  /** The watchdog's state (run, hold, stop, waiting). */
  get state(): WatchdogState { return this.watchdogState.state; }
  /** Who may command the arm. */
  get mode(): OperatingMode { return this.handover.mode; }
  get operatorEngaged(): boolean { return this.handover.operatorEngaged; }
  get epoch(): bigint | undefined { return this.epochNs; }
  get lastExecutedStep(): number { return this.lastStep; }
  get actionQueue(): ActionQueue { return this.queue; }
  get commandState() { return this.safety.state; }

  snapshot(): ControlLoopStats {
    const handovers = { takeover: 0, release: 0, silence: 0 };
    for (const e of this.handover.events) handovers[e.kind]++;
    return { ...this.stats, state: this.state, mode: this.mode, steps: { ...this.stats.steps }, handovers, delays: [...this.stats.delays], watchdogEvents: { ...this.stats.watchdogEvents }, clamps: Object.fromEntries(Object.entries(this.safety.clamps).map(([k, v]) => [k, [...v]])) as Record<SafetyRule, number[]> };
  }

  /** Subscribes to every executed step (the recorder's tap). Returns the unsubscribe function. */
  addTap(tap: TickTap): () => void {
    this.taps.add(tap);
    return () => this.taps.delete(tap);
  }

  /** The hard-stop input: while active the loop brakes at the emergency deceleration and holds. */
  hardStop(active: boolean): void { this.hardStopActive = active; }
  get hardStopped(): boolean { return this.hardStopActive; }

  /**
   * Switches who may command the arm; takes effect at the next tick, blended. The policy's plan
   * is dropped (a new mode plans afresh) and operator commands sent before now are ignored.
   */
  setMode(mode: OperatingMode): void {
    if (mode === this.handover.mode) return;
    this.handover.setMode(mode);
    this.dropPlan();
    this.opts.log?.(`mode: ${mode}`);
  }

  /**
   * The robot was moved by something other than this loop (a simulated scene reset): restart the
   * command state from the next measured state and plan afresh.
   */
  resync(): void {
    this.suspended = false;
    this.safety.unset();
    this.dropPlan();
    this.handover.awaitPolicy();
    this.blend.stop();
  }

  /** Ticks do nothing until resync(): the robot is being moved by something else (a scene reset). */
  suspend(): void { this.suspended = true; }

  private dropPlan(): void {
    this.queue.clear();
    this.generation++; // answers to requests made before now are dropped
    this.inflight = undefined;
  }

  /** Fixes the time base: control step k is due at epochNs + k * period. */
  begin(epochNs: bigint): void {
    if (this.epochNs !== undefined) throw new Error('control loop: already started');
    this.epochNs = epochNs;
  }

  stepTimeNs(step: number): bigint {
    if (this.epochNs === undefined) throw new Error('control loop: begin() first');
    return this.epochNs + BigInt(step) * this.periodNs;
  }

  private secondsSinceEpoch(ns: bigint): number { return Number(ns - this.epochNs!) / 1e9; }

  /** Runs on real timers until stop(); resolves with the Ratekeeper's accounting. */
  async run(): Promise<TickAccountant> {
    if (this.abort) throw new Error('control loop: already running');
    this.abort = new AbortController();
    const warmTicks = this.opts.warmUpTicks ?? 3000;
    if (warmTicks > 0) {
      this.warmUp = await warmUpControlPath({
        rateHz: this.opts.rateHz, robotDescription: this.opts.robotDescription, join: this.join,
        output: this.opts.output ?? 'forward', ticks: warmTicks,
      });
      if (this.abort.signal.aborted) return new Ratekeeper({ rateHz: this.opts.rateHz }).run(() => undefined, this.abort.signal);
    }
    const rk = new Ratekeeper({ ...this.opts.ratekeeper, rateHz: this.opts.rateHz, clock: this.clock, ...(this.opts.log ? { log: this.opts.log } : {}) });
    const epoch = this.clock.nowNs() + this.periodNs;
    this.begin(epoch);
    return rk.run((timing) => this.onTiming(timing), this.abort.signal, epoch);
  }

  private onTiming(timing: TickTiming): void {
    this.opts.telemetry?.tick(timing.lateS, timing.misses, timing);
    this.tick(timing.step, timing.actualNs);
  }

  stop(): void { this.abort?.abort(); }

  /** Stops ticking and ignores any answer still on its way. */
  close(): void {
    this.stop();
    this.closed = true;
  }

  /**
   * Executes control step `step` (strictly increasing). Tests call this directly with a virtual
   * clock; run() calls it from the Ratekeeper.
   */
  tick(step: number, actualNs: bigint = this.clock.nowNs()): TickRecord | undefined {
    if (this.epochNs === undefined) this.begin(actualNs - BigInt(step) * this.periodNs);
    if (step <= this.lastStep) throw new Error(`control loop: step ${step} after step ${this.lastStep}`);
    if (this.suspended) return undefined;
    const scheduledNs = this.stepTimeNs(step);
    const nowNs = this.clock.nowNs();
    const inputs = this.opts.observations;
    inputs.poll(nowNs);
    const state = this.opts.robot.readState();
    if (!this.safety.ready) {
      if (!state) return undefined; // nothing to command before the first joint state
      this.safety.reset(state.positions, state.velocities);
    }
    this.lastStep = step;
    this.stats.ticks++;
    this.queue.prune(step);
    const obs = inputs.latest();
    this.expirePlanRequest(nowNs);

    const havePolicy = this.queue.sample(step, this.policyDesired);
    const d = this.handover.decide({ nowNs, operator: inputs.operator(), policy: havePolicy ? this.policyDesired : undefined });
    if (d.dropPlan) this.dropPlan();
    const consumer = d.commander === 'policy' ? 'policy' : d.commander === 'operator' ? 'operator' : 'hold';
    const stale = inputs.staleFor(consumer, nowNs);
    const prevState = this.watchdogState.state;
    const decision = this.watchdogState.update({
      hardStop: this.hardStopActive, engaged: d.commander !== 'hold', observationsFresh: stale === undefined,
      haveAction: d.desired !== undefined, starvedEvent: d.commander === 'operator' ? 'operator_stale' : 'chunk_overdue',
    });
    if (decision.invalidatePlan) this.dropPlan();
    if (decision.event) this.event(decision.event, stale);

    let desired: Float64Array | undefined;
    let source: ControlMode = 'hold';
    if (decision.state === 'run' && d.desired) {
      // A new commander, or the arm allowed to move again: blend from where it was commanded.
      if (prevState !== 'run' || d.commander !== this.lastCommander) this.blend.start(this.safety.state.positions, d.desired, (this.opts.handover?.blendS ?? DEFAULT_HANDOVER.blendS) / this.periodS, this.stepLimit);
      desired = this.desired;
      desired.set(d.desired);
      this.blend.apply(desired);
      this.safety.filter(desired);
      source = d.provenance;
    } else {
      this.safety.brake(decision.state === 'stop' ? 'emergency' : 'hold');
    }
    this.lastCommander = decision.state === 'run' ? d.commander : undefined;
    this.stats.steps[source]++;
    const cmdState = this.safety.state;
    const command: JointCommand = { stampNs: scheduledNs, step, positions: Float64Array.from(cmdState.positions), velocities: Float64Array.from(cmdState.velocities) };
    if ((this.opts.output ?? 'forward') === 'forward') this.opts.robot.sendCommand(command);
    else if (decision.event && decision.state !== 'run') this.sendTrajectory(decision.state === 'stop' ? 'stop' : 'hold');
    else if (source !== 'policy' && source !== 'hold') this.sendTrajectory('teleop');
    else if (source === 'policy' && this.lastSource !== 'policy') this.sendTrajectory('plan');
    this.lastSource = source;

    this.opts.telemetry?.queueDepth(this.queue.remainingSteps(step));
    if (d.planning && decision.state !== 'stop' && obs && inputs.staleFor('policy', nowNs) === undefined) this.maybeRequestPlan(step, obs);

    const chunk = source === 'policy' ? this.queue.latest?.chunk : undefined;
    const record: TickRecord = { step, scheduledNs, actualNs, state: decision.state, source, commander: d.commander, desired: desired ? Float64Array.from(desired) : undefined, planned: havePolicy ? Float64Array.from(this.policyDesired) : undefined, command, chunkSeq: this.queue.latest?.seq ?? 0, chunk, observation: obs };
    for (const tap of this.taps) tap(record);
    return record;
  }

  private event(e: WatchdogEvent, staleStream?: string): void {
    this.stats.watchdogEvents[e] = (this.stats.watchdogEvents[e] ?? 0) + 1;
    this.opts.telemetry?.watchdog(e, this.watchdogState.state);
    if (e !== 'started') this.opts.log?.(`watchdog: ${e}${e === 'obs_stale' && staleStream ? ` (${staleStream})` : ''} -> ${this.watchdogState.state} at step ${this.lastStep}`);
  }

  private expirePlanRequest(nowNs: bigint): void {
    if (!this.inflight) return;
    const maxWaitNs = BigInt(Math.round((this.opts.maxPlanWaitS ?? 1) * 1e9));
    if (nowNs - this.inflight.sentNs > maxWaitNs) {
      this.inflight = undefined;
      this.event('planner_timeout');
    }
  }

  private maybeRequestPlan(step: number, obs: Observation): void {
    if (this.inflight || this.closed || step < this.retryAfterStep) return;
    const threshold = this.opts.replanThreshold ?? DEFAULT_REPLAN_THRESHOLD;
    const delaySteps = this.recentDelayMaxS > 0 ? Math.ceil(this.recentDelayMaxS / this.periodS - 1e-9) + 1 : 0;
    if (this.queue.size > 0 && this.queue.remainingSteps(step) > Math.max(threshold * this.lastChunkSteps, delaySteps)) return;
    const id = ++this.requestSeq;
    const generation = this.generation;
    const sentNs = this.clock.nowNs();
    this.inflight = { id, generation, sentNs };
    this.stats.planRequests++;
    const prefix = this.join.method === 'rtc' ? this.rtcPrefix(obs) : undefined;
    const request: PlanRequest = prefix ? { id, prefix } : { id };
    const work = () => this.opts.planner.plan(obs, request);
    let pending: Promise<ActionChunk | PlanOutcome>;
    try {
      pending = this.opts.compute ? this.opts.compute.control(work) : work();
    } catch (err) {
      pending = Promise.reject(err);
    }
    pending.then(
      (result) => this.onPlan(result, id, generation, sentNs),
      (err: unknown) => this.onPlanError(err, id),
    );
  }

  /** What the robot will execute from the observation time on, at the current chunk's dt. */
  private rtcPrefix(obs: Observation): RtcPrefix | undefined {
    const latest = this.queue.latest;
    if (!latest) return undefined;
    const dt = latest.chunk.dt;
    const A = this.jointNames.length;
    const t0S = this.secondsSinceEpoch(obs.stampNs);
    const rows: number[] = [];
    const buf = new Float64Array(A);
    for (let i = 0; i < 4096; i++) {
      if (!ActionQueue.interpolate(latest, t0S + i * dt, buf)) break;
      for (let j = 0; j < A; j++) rows.push(buf[j]!);
    }
    const length = rows.length / A;
    if (length === 0) return undefined;
    const frozenSteps = Math.min(length, Math.ceil(this.recentDelayMaxS / dt - 1e-9));
    return { actions: Float32Array.from(rows), length, actionDim: A, dt, frozenSteps };
  }

  private onPlanError(err: unknown, id: number): void {
    if (this.inflight?.id === id) this.inflight = undefined;
    this.retryAfterStep = this.lastStep + Math.max(1, Math.round(0.1 / this.periodS));
    this.stats.plannerErrors++;
    this.event('planner_error');
    this.opts.log?.(`planner failed: ${err instanceof Error ? err.message : String(err)}`);
  }

  private drop(outcome: 'stale' | 'invalid' | 'late', why: string): void {
    this.stats.chunksDropped++;
    this.opts.telemetry?.chunk(outcome);
    this.opts.log?.(`chunk dropped (${outcome}): ${why}`);
  }

  private onPlan(result: ActionChunk | PlanOutcome, id: number, generation: number, sentNs: bigint): void {
    if (this.closed) return;
    if (this.inflight?.id === id) this.inflight = undefined;
    if (generation !== this.generation || id !== this.requestSeq) return this.drop('late', `request ${id} answered after the plan was abandoned`);
    const outcome: PlanOutcome = 'chunk' in result ? result : { chunk: result };
    const chunk = outcome.chunk;
    const arrivalNs = this.clock.nowNs();
    const problem = this.checkChunk(chunk, arrivalNs);
    if (problem) return this.drop('invalid', problem);
    const t0S = this.secondsSinceEpoch(chunk.t0Ns);
    const firstStep = this.lastStep + 1;
    const entry: QueuedChunk = { chunk, t0S, endS: t0S + (chunk.horizon - 1) * chunk.dt, firstStep, seq: 0 };
    if (entry.endS < firstStep * this.periodS - 1e-9) return this.drop('stale', `chunk ends before step ${firstStep}`);
    const delayS = Number(arrivalNs - chunk.t0Ns) / 1e9;
    chunk.inferenceDelaySteps = Math.max(0, Math.ceil(delayS / this.periodS - 1e-9));
    this.queue.add(chunk, t0S, firstStep);
    this.lastChunkSteps = ((chunk.horizon - 1) * chunk.dt) / this.periodS;
    this.recentDelaysS.push(delayS);
    if (this.recentDelaysS.length > (this.opts.delayWindow ?? 20)) this.recentDelaysS.shift();
    this.recentDelayMaxS = Math.max(...this.recentDelaysS);
    this.stats.chunksAccepted++;
    this.stats.delays.push(chunk.inferenceDelaySteps);
    const tel = this.opts.telemetry;
    if (tel) {
      tel.chunk('accepted', chunk);
      tel.inferenceDelay(chunk.inferenceDelaySteps);
      tel.inferenceStage('round_trip', Number(arrivalNs - sentNs) / 1e9);
      tel.inferenceStage('observation_to_chunk', delayS);
      for (const [stage, ms] of Object.entries(outcome.stageMs ?? {})) tel.inferenceStage(stage, ms / 1e3);
    }
    if (this.opts.output === 'trajectory') this.sendTrajectory('plan');
  }

  private checkChunk(c: ActionChunk, arrivalNs: bigint): string | undefined {
    const A = this.jointNames.length;
    if (c.actionDim !== A) return `action dim ${c.actionDim}, robot has ${A} joints`;
    if (!Number.isInteger(c.horizon) || c.horizon < 1) return `horizon ${c.horizon}`;
    if (!(c.dt > 0 && Number.isFinite(c.dt))) return `dt ${c.dt}`;
    if (c.actions.length !== c.horizon * c.actionDim) return `${c.actions.length} actions for ${c.horizon}x${c.actionDim}`;
    if (c.t0Ns > arrivalNs + 1_000_000n) return `t0 ${c.t0Ns} is in the future (now ${arrivalNs})`;
    return undefined;
  }

  /** Trajectory mode: the next steps as the safety filter will command them, JTC-style. */
  buildTrajectory(reason: JointTrajectory['reason']): JointTrajectory {
    const f = this.safety.fork();
    const from = this.lastStep + 1;
    if (reason === 'teleop') {
      // Streamed teleop: one point a period ahead, where this tick's command goes.
      const point = { positions: Float64Array.from(f.state.positions), velocities: Float64Array.from(f.state.velocities), timeFromStartS: this.periodS };
      return { stampNs: this.stepTimeNs(this.lastStep), jointNames: this.jointNames, points: [point], reason };
    }
    const blend = this.blend.fork();
    const latest = this.queue.latest;
    const stride = this.opts.trajectoryStride ?? Math.max(1, Math.round((latest?.chunk.dt ?? this.periodS) / this.periodS));
    const points: TrajectoryPoint[] = [];
    const buf = new Float64Array(this.jointNames.length);
    const last = reason === 'plan' ? this.queue.lastCoveredStep() : from + 100_000;
    for (let s = from, n = 1; s <= last; s++, n++) {
      let done = false;
      if (reason === 'plan') {
        if (!this.queue.sample(s, buf)) break;
        blend.apply(buf);
        f.filter(buf);
        done = s === last;
      } else {
        done = f.brake(reason === 'stop' ? 'emergency' : 'hold');
      }
      if (n % stride === 0 || done) {
        points.push({ positions: Float64Array.from(f.state.positions), velocities: Float64Array.from(f.state.velocities), timeFromStartS: n * this.periodS });
      }
      if (done) break;
    }
    return { stampNs: this.stepTimeNs(this.lastStep), jointNames: this.jointNames, points, reason };
  }

  private sendTrajectory(reason: JointTrajectory['reason']): void {
    this.opts.robot.sendTrajectory(this.buildTrajectory(reason));
  }
}
