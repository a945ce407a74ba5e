import CircuitBreaker from 'opossum';
import { breakerState, refusedByDatabase } from './breaker-state.ts';
import { type Database, DatabaseUnavailable, type Row } from '#infra/postgres/database.ts';

/**
 * The read-model database behind a circuit breaker for the queries that
 * answer requests: while it keeps failing, a query that the cache cannot spare
 * fails at once (503 STORE_UNAVAILABLE) instead of waiting out a connection
 * timeout; the cache keeps answering everything it holds.
 */
export function withQueryBreaker(db: Database) {
  const breaker = new CircuitBreaker((text: string, params?: unknown[]) => db.query(text, params), {
    timeout: 5000,
    errorThresholdPercentage: 50,
    volumeThreshold: 3,
    resetTimeout: 2000,
    errorFilter: refusedByDatabase,
  });
  return {
    db: {
      ...db,
      query: <R extends Row = Row>(text: string, params?: unknown[]) =>
        (breaker.fire(text, params) as Promise<{ rows: R[] }>).catch((error: unknown) => {
          // The breaker's own refusals (open, timed out) are the database not answering, like a dropped connection.
          const code = (error as { code?: unknown }).code;
          if (code === 'EOPENBREAKER' || code === 'ETIMEDOUT')
            throw new DatabaseUnavailable((error as Error).message, { cause: error });
          throw error;
        }),
    } satisfies Database,
    state: () => breakerState(breaker),
    shutdown: () => breaker.shutdown(),
  };
}
