// The teleop path into the control loop: the ZeroMQ receiver (any device: a leader arm, a
// spacemouse bridge, the simulated arm's scripted operator) as the loop's OperatorInput, and the
// scripted operator as a device that publishes on that same socket.
import type { Clock, Logger } from '../core/index.js';
import type { OperatorCommand, OperatorInput } from '../control/index.js';
import { TeleopPublisher, TeleopReceiver, type TeleopCommand } from '../io/zmq/index.js';
import type { SimDriver } from '../sim/index.js';

/** The newest valid teleop command, stamped on the loop's clock when the loop first saw it. */
export class TeleopInput implements OperatorInput {
  private newest: OperatorCommand | undefined;
  private seq = 0;

  constructor(readonly receiver: TeleopReceiver, private readonly clock: Clock) {}

  private take(c: TeleopCommand): OperatorCommand {
    this.newest = { seq: ++this.seq, stampNs: this.clock.nowNs(), positions: c.positions, perturbation: c.perturbation, release: c.release };
    return this.newest;
  }

  /** Realtime: whatever arrived since the last tick (the newest wins). */
  latest(): OperatorCommand | undefined {
    const c = this.receiver.latest();
    return c ? this.take(c) : this.newest;
  }

  /**
   * Lockstep: waits for frame `seq` of `device` (nothing is lost, nothing is early); frames queued
   * before it (a previous stream's last release, say) are passed over.
   */
  async next(device: string, seq: number, timeoutMs = 5000): Promise<OperatorCommand> {
    for (;;) {
      const c = await this.receiver.next(timeoutMs);
      if (c.device === device && c.seq === seq) return this.take(c);
    }
  }

  get count(): number { return this.seq; }
}

/**
 * The scripted operator as a teleop device: it reads the sim's operator block (the script runs
 * beside the physics, privileged) and publishes each new command on the teleop socket, as a
 * person's device would. In realtime it pumps on its own timer; in lockstep the daemon calls
 * pump() between ticks.
 */
export class ScriptedOperatorDevice {
  /** The sim operator's last command that was published. */
  private lastTaken = 0;
  private timer: NodeJS.Timeout | undefined;
  private wasActive = false;
  sent = 0;
  get device(): string { return this.publisher.device; }
  /** The teleop sequence number of the last frame this device sent. */
  get lastSeq(): number { return this.publisher.lastSeq; }

  private constructor(private readonly sim: SimDriver, private readonly publisher: TeleopPublisher, private readonly clock: Clock, private readonly log: Logger) {}

  static async connect(sim: SimDriver, endpoint: string, clock: Clock, log: Logger): Promise<ScriptedOperatorDevice> {
    return new ScriptedOperatorDevice(sim, await TeleopPublisher.connect(endpoint, 'scripted-operator'), clock, log);
  }

  /** Publishes the operator's newest command if there is a new one; true when it sent. */
  async pump(): Promise<boolean> {
    const c = this.sim.readOperator();
    const active = this.sim.operatorActive;
    if (this.wasActive && !active) {
      // Its script has ended: hand control back (intervention) rather than go silent.
      this.wasActive = false;
      await this.publisher.release(Number(this.clock.nowNs()));
      return true;
    }
    this.wasActive = active;
    if (!c || c.seq === this.lastTaken) return false;
    this.lastTaken = c.seq;
    await this.publisher.send(c.positions, Number(this.clock.nowNs()), { perturbation: c.perturbation });
    this.sent++;
    return true;
  }

  /** Realtime: pump at `rateHz` until stop(). */
  start(rateHz: number): void {
    if (this.timer) return;
    this.timer = setInterval(() => { this.pump().catch((err: unknown) => this.log.warn({ err }, 'scripted operator: send failed')); }, Math.max(1, 1000 / rateHz));
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Hands control back to the policy (intervention mode): the operator lets go. */
  async release(): Promise<void> {
    this.wasActive = false;
    await this.publisher.release(Number(this.clock.nowNs()));
  }

  close(): void {
    this.stop();
    this.publisher.close();
  }
}

/**
 * Two operator inputs as one (the ZeroMQ teleop socket and the ROS teleop topic): whichever sent
 * the newer command, renumbered so `seq` still rises with every new command from either.
 */
export function newestOperatorInput(a: OperatorInput | undefined, b: { latest(): Omit<OperatorCommand, 'seq'> & { seq: number } | undefined }): OperatorInput {
  const last = new Map<object, number>();
  let seq = 0;
  let newest: OperatorCommand | undefined;
  return {
    latest() {
      for (const [src, c] of [[a, a?.latest()], [b, b.latest()]] as const) {
        if (!src || !c || last.get(src) === c.seq) continue;
        last.set(src, c.seq);
        if (!newest || c.stampNs >= newest.stampNs) newest = { ...c, seq: ++seq };
      }
      return newest;
    },
  };
}
