import type CircuitBreaker from 'opossum';

export type BreakerState = 'closed' | 'open' | 'half-open';

export const breakerState = (breaker: CircuitBreaker): BreakerState => (breaker.opened ? 'open' : breaker.halfOpen ? 'half-open' : 'closed');
