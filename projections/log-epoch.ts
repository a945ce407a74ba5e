import { LOG_STREAM, type LogRestored } from '#events/log.ts';
import type { EventStore, RecordedEvent } from '#infra/eventstore/port.ts';

/** The log's epoch: that of its newest restore, 0 for a log never restored. Positions are comparable within one epoch only. */
export async function readEpoch(store: EventStore): Promise<number> {
  for await (const event of store.readStream(LOG_STREAM, { direction: 'backwards', maxCount: 1 }))
    return (event.data as LogRestored['data']).epoch;
  return 0;
}

/**
 * The epoch of the log this instance serves, published beside every
 * position: a restore starts a new one (positions restart with it), so
 * clients order updates by (epoch, position). Read once at start, then kept
 * up to date from the events seen (a replica copies a restore of its primary).
 */
export class LogEpoch {
  private constructor(private epoch: number) {}

  static async of(store: EventStore): Promise<LogEpoch> {
    return new LogEpoch(await readEpoch(store));
  }

  get current(): number {
    return this.epoch;
  }

  observe(events: RecordedEvent[]): void {
    for (const event of events) {
      if (event.type === 'LogRestored')
        this.epoch = Math.max(this.epoch, Number((event.data as LogRestored['data']).epoch));
    }
  }
}
