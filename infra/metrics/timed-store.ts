import type { Histogram } from 'prom-client';
import type { EventStore } from '#infra/eventstore/port.ts';

/** The same store, with every append's duration (durable commit included) observed. */
export function withAppendTiming(store: EventStore, histogram: Histogram): EventStore {
  return {
    ...store,
    async append(stream, events, expected) {
      const done = histogram.startTimer();
      try {
        return await store.append(stream, events, expected);
      } finally {
        done();
      }
    },
  };
}
