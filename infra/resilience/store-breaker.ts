import CircuitBreaker from 'opossum';
import { breakerState, refusedByDatabase } from './breaker-state.ts';
import { type EventStore, WrongExpectedRevision } from '#infra/eventstore/port.ts';

/**
 * The same store, its appends behind a circuit breaker: while the store keeps
 * failing, writes fail at once (503 STORE_UNAVAILABLE) instead of piling up on
 * a dead connection; a concurrency conflict is an answer, not a failure.
 */
export function withStoreBreaker(store: EventStore) {
  const breaker = new CircuitBreaker((...args: Parameters<EventStore['append']>) => store.append(...args), {
    timeout: 5000,
    errorThresholdPercentage: 50,
    volumeThreshold: 5,
    resetTimeout: 2000,
    errorFilter: (error: unknown) => error instanceof WrongExpectedRevision || refusedByDatabase(error),
  });
  return {
    store: { ...store, append: (...args: Parameters<EventStore['append']>) => breaker.fire(...args) } satisfies EventStore,
    state: () => breakerState(breaker),
    shutdown: () => breaker.shutdown(),
  };
}
