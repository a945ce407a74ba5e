import { LOG_STREAM, type LogRestored } from '#events/log.ts';
import type { EventStore } from './port.ts';

/** The log's epoch: that of its newest restore, 0 for a log never restored. Positions are comparable within one epoch only. */
export async function readEpoch(store: EventStore): Promise<number> {
  for await (const event of store.readStream(LOG_STREAM, { direction: 'backwards', maxCount: 1 }))
    return (event.data as LogRestored['data']).epoch;
  return 0;
}
