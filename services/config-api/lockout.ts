import type { Redis } from 'ioredis';
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';

export interface LockoutSettings {
  /** Failed authentications from one address within the window that lock it out. */
  maxFailures: number;
  windowSeconds: number;
  lockSeconds: number;
}

export const DEFAULT_LOCKOUT: LockoutSettings = { maxFailures: 10, windowSeconds: 60, lockSeconds: 300 };

export interface Lockout {
  /** Milliseconds the address stays locked out, 0 when it is not. */
  lockedFor(address: string): Promise<number>;
  /** Counts a failure; answers true for the failure that locked the address out (one instance sees it). */
  fail(address: string): Promise<boolean>;
  /** Forgets the address's failures and lock. */
  lift(address: string): Promise<void>;
}

/**
 * Failed authentications per source address, counted in a fixed window that
 * a success in between does not reset. With Redis the count and the lock are
 * shared by every instance; if Redis stops answering, each instance goes on
 * counting in memory rather than letting failures through uncounted.
 */
export function createLockout(
  settings: LockoutSettings = DEFAULT_LOCKOUT,
  redis?: { client: Redis; namespace: string },
): Lockout {
  // `points` failures are tolerated; the next one exceeds them and blocks the key.
  const options = {
    points: settings.maxFailures - 1,
    duration: settings.windowSeconds,
    blockDuration: settings.lockSeconds,
  };
  const memory = new RateLimiterMemory({ ...options, keyPrefix: 'lockout' });
  const limiter: RateLimiterAbstract = redis
    ? new RateLimiterRedis({
        ...options,
        storeClient: redis.client,
        keyPrefix: `${redis.namespace}lockout`,
        insuranceLimiter: memory,
      })
    : memory;
  return {
    async lockedFor(address) {
      const state = await limiter.get(address);
      return state && state.consumedPoints > options.points ? state.msBeforeNext : 0;
    },
    async fail(address) {
      try {
        await limiter.consume(address);
        return false;
      } catch (refusal) {
        if (refusal instanceof RateLimiterRes) return refusal.consumedPoints === options.points + 1;
        throw refusal;
      }
    },
    async lift(address) {
      await limiter.delete(address);
    },
  };
}
