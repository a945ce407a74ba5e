import CircuitBreaker from 'opossum';
import { breakerState, refusedByDatabase } from './breaker-state.ts';
import { type EventStore, StoreUnavailable, WrongExpectedRevision } from '#infra/eventstore/port.ts';

/**
 * The same store, its appends behind a circuit breaker: while the store keeps
 * failing, writes fail at once (503 STORE_UNAVAILABLE: not sent) instead of
 * piling up on a dead connection; a concurrency conflict is an answer, not a
 * failure. The breaker never times an append out itself: a caller told "not
 * written" while its append went on would be told a lie. The store bounds and
 * settles its appends.
 */
export function withStoreBreaker(store: EventStore) {
  const breaker = new CircuitBreaker((...args: Parameters<EventStore['append']>) => store.append(...args), {
    timeout: false,
    errorThresholdPercentage: 50,
    volumeThreshold: 5,
    resetTimeout: 2000,
    errorFilter: (error: unknown) => error instanceof WrongExpectedRevision || refusedByDatabase(error),
  });
  return {
    store: {
      ...store,
      append: (...args: Parameters<EventStore['append']>) =>
        breaker.fire(...args).catch((error: unknown) => {
          if ((error as { code?: unknown }).code === 'EOPENBREAKER')
            throw new StoreUnavailable('the event store keeps failing; nothing was sent (the circuit is open)');
          throw error;
        }),
    } satisfies EventStore,
    state: () => breakerState(breaker),
    shutdown: () => breaker.shutdown(),
  };
}
