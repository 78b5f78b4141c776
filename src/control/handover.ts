// Who commands the arm this tick, by operating mode (the daemon's idle / autonomous / teleop /
// intervention), and the blend that makes every change of commander smooth. In intervention mode
// the policy drives until the operator sends a command; the operator then has the arm until it
// sends a release or stays silent for `releaseAfterS`; after a hand-back the arm stands still until
// the policy's first chunk lands, then blends into it. Pure state: the loop feeds it every tick.
import type { ControlMode, OperatingMode } from '../core/index.js';
import type { OperatorCommand } from './streams.js';

export interface HandoverConfig {
  /** Blend time at every change of commander (and when the watchdog lets the arm move again), s. */
  blendS: number;
  /** Intervention: the policy takes back after the operator has been silent this long, s. */
  releaseAfterS: number;
  /** An operator command older than this is stale: the watchdog holds the arm, s. */
  operatorTimeoutS: number;
}

export const DEFAULT_HANDOVER: HandoverConfig = { blendS: 0.3, releaseAfterS: 1.0, operatorTimeoutS: 0.25 };

/** `hold`: nobody is meant to command (idle, or waiting for the policy's first chunk): stand still. */
export type Commander = 'policy' | 'operator' | 'hold';

export interface HandoverDecision {
  readonly commander: Commander;
  /** What the commander wants this tick; undefined when it should but cannot (stale operator, no chunk). */
  readonly desired: Float64Array | undefined;
  /** Provenance of the step if the arm follows `desired`. */
  readonly provenance: ControlMode;
  /** May the loop ask the policy for plans? */
  readonly planning: boolean;
  /** The operator just took over: the policy's plan is obsolete. */
  readonly dropPlan: boolean;
}

export interface HandoverInput {
  readonly nowNs: bigint;
  readonly operator: OperatorCommand | undefined;
  /** The policy's joined action for this step, if the queue has one. */
  readonly policy: Float64Array | undefined;
}

export interface HandoverEvent { readonly kind: 'takeover' | 'release' | 'silence'; readonly atNs: bigint }

export class Handover {
  private current: OperatingMode;
  /** Operator commands up to this sequence number came before the current mode: they command nothing. */
  private seqFloor = 0;
  private lastSeq = 0;
  private lastSeqNs = 0n;
  private engaged = false;
  private awaitingPolicy = true;
  private floorPending = false;
  /** Hand-overs since construction (the daemon logs and counts them). */
  readonly events: HandoverEvent[] = [];
  private readonly releaseNs: bigint;
  private readonly timeoutNs: bigint;

  constructor(readonly config: HandoverConfig = DEFAULT_HANDOVER, mode: OperatingMode = 'autonomous') {
    this.current = mode;
    this.releaseNs = BigInt(Math.round(config.releaseAfterS * 1e9));
    this.timeoutNs = BigInt(Math.round(config.operatorTimeoutS * 1e9));
  }

  get mode(): OperatingMode { return this.current; }
  get operatorEngaged(): boolean { return this.engaged; }

  /** Switches mode; operator commands that arrived before the next tick are ignored. */
  setMode(mode: OperatingMode): void {
    this.current = mode;
    this.floorPending = true;
    this.engaged = false;
    this.awaitingPolicy = true;
  }

  /** Forget the policy's state (its plan was dropped, e.g. a simulated scene reset): wait for a new chunk. */
  awaitPolicy(): void { this.awaitingPolicy = true; }

  decide(input: HandoverInput): HandoverDecision {
    const op = input.operator;
    if (this.floorPending) {
      this.seqFloor = Math.max(this.seqFloor, op?.seq ?? 0);
      this.floorPending = false;
    }
    const fresh = op !== undefined && op.seq > this.seqFloor && input.nowNs - op.stampNs <= this.timeoutNs;
    const opProvenance = (m: ControlMode): ControlMode => (op?.perturbation ? 'perturbation' : m);
    switch (this.current) {
      case 'idle':
        return hold(false);
      case 'teleop':
        return { commander: 'operator', desired: fresh && !op!.release ? op!.positions : undefined, provenance: opProvenance('teleop'), planning: false, dropPlan: false };
      case 'autonomous':
        return this.policyDecision(input);
      case 'intervention': {
        let dropPlan = false;
        if (op && op.seq > this.seqFloor && op.seq !== this.lastSeq) {
          this.lastSeq = op.seq;
          this.lastSeqNs = op.stampNs;
          if (op.release) {
            if (this.engaged) this.handBack('release', input.nowNs);
          } else if (!this.engaged) {
            this.engaged = true;
            dropPlan = true;
            this.events.push({ kind: 'takeover', atNs: input.nowNs });
          }
        }
        if (this.engaged && input.nowNs - this.lastSeqNs > this.releaseNs) this.handBack('silence', input.nowNs);
        if (this.engaged) return { commander: 'operator', desired: fresh ? op!.positions : undefined, provenance: opProvenance('intervention'), planning: false, dropPlan };
        return this.policyDecision(input);
      }
    }
  }

  private handBack(kind: 'release' | 'silence', atNs: bigint): void {
    this.engaged = false;
    this.awaitingPolicy = true;
    this.events.push({ kind, atNs });
  }

  private policyDecision(input: HandoverInput): HandoverDecision {
    if (this.awaitingPolicy) {
      if (!input.policy) return hold(true);
      this.awaitingPolicy = false;
    }
    return { commander: 'policy', desired: input.policy, provenance: 'policy', planning: true, dropPlan: false };
  }
}

function hold(planning: boolean): HandoverDecision {
  return { commander: 'hold', desired: undefined, provenance: 'hold', planning, dropPlan: false };
}

/**
 * A blend from where the arm was commanded to whatever the new commander wants, with a
 * minimum-jerk weight over at least `blend_s`, and longer when the gap is large: the weight's
 * steepest step (1.875 / ticks) times the gap stays within half of each joint's per-tick step
 * limit, so the blend alone never asks for a jump, whatever the distance (the other half is left
 * for the commander's own motion). The safety filter still bounds everything after it.
 */
export class Blend {
  private readonly from: Float64Array;
  private tick = 0;
  private ticks = 0;

  constructor(dim: number) { this.from = new Float64Array(dim); }

  get active(): boolean { return this.tick < this.ticks; }

  /** `stepLimit[j]`: the largest position change joint j may make in one tick. */
  start(from: ArrayLike<number>, target: ArrayLike<number>, minTicks: number, stepLimit: ArrayLike<number>): void {
    let ticks = Math.max(0, Math.round(minTicks));
    for (let j = 0; j < this.from.length; j++) {
      this.from[j] = from[j]!;
      const limit = stepLimit[j]!;
      if (limit > 0 && Number.isFinite(limit) && Number.isFinite(target[j]!)) ticks = Math.max(ticks, Math.ceil((1.875 * Math.abs(target[j]! - from[j]!)) / (0.5 * limit)));
    }
    this.tick = 0;
    this.ticks = ticks;
  }

  get durationTicks(): number { return this.ticks; }

  stop(): void { this.ticks = 0; }

  /** A copy that advances on its own (trajectory look-ahead). */
  fork(): Blend {
    const b = new Blend(this.from.length);
    b.from.set(this.from);
    b.tick = this.tick;
    b.ticks = this.ticks;
    return b;
  }

  /** Blends `target` in place for this tick and advances. */
  apply(target: Float64Array): void {
    if (this.tick >= this.ticks) return;
    this.tick++;
    const s = this.tick / this.ticks;
    const w = s * s * s * (10 - 15 * s + 6 * s * s);
    for (let j = 0; j < target.length; j++) target[j] = this.from[j]! + (target[j]! - this.from[j]!) * w;
  }
}
