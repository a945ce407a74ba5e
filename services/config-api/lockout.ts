/**
 * Failed authentications per source IP; too many in a window lock the IP out
 * for a while. In memory, per instance: a locked-out client meets the lock on
 * whichever instance it reaches as soon as it fails there too.
 */
export class FailedAuthentications {
  private readonly byIp = new Map<string, { failures: number; windowStart: number; lockedUntil: number }>();

  constructor(private readonly settings = { maxFailures: 10, windowMs: 60_000, lockMs: 300_000 }) {}

  /** Milliseconds the IP stays locked out, 0 when it is not. */
  lockedFor(ip: string, now = Date.now()): number {
    const entry = this.byIp.get(ip);
    return entry && entry.lockedUntil > now ? entry.lockedUntil - now : 0;
  }

  /** Counts a failure; answers true when this one locked the IP out. */
  fail(ip: string, now = Date.now()): boolean {
    let entry = this.byIp.get(ip);
    if (!entry || now - entry.windowStart > this.settings.windowMs) {
      entry = { failures: 0, windowStart: now, lockedUntil: 0 };
      this.byIp.set(ip, entry);
    }
    entry.failures++;
    if (entry.failures >= this.settings.maxFailures && entry.lockedUntil <= now) {
      entry.lockedUntil = now + this.settings.lockMs;
      return true;
    }
    if (this.byIp.size > 100_000) this.forgetStale(now);
    return false;
  }

  succeed(ip: string): void {
    const entry = this.byIp.get(ip);
    if (entry && entry.lockedUntil === 0) this.byIp.delete(ip);
  }

  private forgetStale(now: number): void {
    for (const [ip, entry] of this.byIp) if (entry.lockedUntil <= now && now - entry.windowStart > this.settings.windowMs) this.byIp.delete(ip);
  }
}
