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

  /** Lockstep: waits for the next command the device sent (nothing is lost, nothing is early). */
  async next(timeoutMs = 5000): Promise<OperatorCommand> { return this.take(await this.receiver.next(timeoutMs)); }

  get count(): number { return this.seq; }
}

/**
 * The scripted operator as a teleop device: it reads the sim's operator block (the script runs
 * beside the physics, privileged) and publishes each new command on the teleop socket, as a
 * person's device would. In realtime it pumps on its own timer; in lockstep the daemon calls
 * pump() between ticks.
 */
export class ScriptedOperatorDevice {
  private lastSeq = 0;
  private timer: NodeJS.Timeout | undefined;
  private wasActive = false;
  sent = 0;

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
    if (!c || c.seq === this.lastSeq) return false;
    this.lastSeq = c.seq;
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
