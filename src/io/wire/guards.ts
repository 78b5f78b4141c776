// Guards every peer server shares: a per-client token bucket, and secrets compared in constant time.
import { createHash, timingSafeEqual } from 'node:crypto';

/** A token bucket per client: `ratePerS` sustained, `burst` at once. */
export class RateLimiter {
  private readonly buckets = new Map<string, { tokens: number; atMs: number }>();

  constructor(private readonly ratePerS: number, private readonly burst: number, private readonly now: () => number = () => performance.now()) {}

  /** Takes one token for `client`; false when the client is over its rate. */
  take(client: string): boolean {
    const t = this.now();
    let b = this.buckets.get(client);
    if (!b) {
      if (this.buckets.size > 10_000) this.buckets.clear(); // a flood of identities must not grow without bound
      b = { tokens: this.burst, atMs: t };
      this.buckets.set(client, b);
    }
    b.tokens = Math.min(this.burst, b.tokens + ((t - b.atMs) / 1000) * this.ratePerS);
    b.atMs = t;
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  }

  forget(client: string): void { this.buckets.delete(client); }
}

/** Compares two secrets in time independent of where they differ (and of their lengths). */
export function constantTimeEqual(a: string, b: string): boolean {
  const ha = createHash('sha256').update(a).digest();
  const hb = createHash('sha256').update(b).digest();
  return timingSafeEqual(ha, hb);
}

/** `work`, or the error `timeoutError(ms)` when it takes longer than `ms` (the work is not cancelled: its answer is dropped). */
export async function withTimeout<T>(work: Promise<T>, ms: number, timeoutError: (ms: number) => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(timeoutError(ms)), ms); });
  try {
    return await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
