import type CircuitBreaker from 'opossum';

export type BreakerState = 'closed' | 'open' | 'half-open';

export const breakerState = (breaker: CircuitBreaker): BreakerState =>
  breaker.opened ? 'open' : breaker.halfOpen ? 'half-open' : 'closed';

/**
 * A statement the database refused (bad data, a constraint, a syntax error:
 * any SQLSTATE outside connection exceptions, operator intervention and
 * insufficient resources) is an answer about that statement, not an outage:
 * it must not open a breaker for everyone else.
 */
export function refusedByDatabase(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) && !/^(08|53|57)/.test(code);
}
