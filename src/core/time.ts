// Monotonic time: bigint nanoseconds in contracts, and the clocks the control path runs on. The
// real clock is process.hrtime; lockstep runs (simulation, tests, benchmarks) use a virtual one
// that moves only when told, so they do not depend on the machine's speed.

export interface Clock {
  nowNs(): bigint;
}

export const systemClock: Clock = { nowNs: () => process.hrtime.bigint() };

/** A clock that moves only when set: lockstep simulation and tests. */
export class VirtualClock implements Clock {
  constructor(public now = 0n) {}
  nowNs(): bigint { return this.now; }
}

export const secondsToNs = (s: number): bigint => BigInt(Math.round(s * 1e9));
export const nsToSeconds = (ns: bigint): number => Number(ns) / 1e9;
