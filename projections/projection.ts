import type { SqlExecutor } from '#infra/postgres/database.ts';
import type { RecordedEvent } from '#infra/eventstore/port.ts';
import type { EventMetadata } from '#events/metadata.ts';

/**
 * Turns a batch of events (in log order) into row changes, inside the runner's
 * transaction. Set-based SQL per batch keeps replay fast; idempotent per event.
 */
export interface Projection {
  name: string;
  apply(tx: SqlExecutor, events: RecordedEvent[]): Promise<void>;
}

/** Metadata as written by the command handler; older or foreign events may lack fields. */
export const metadataOf = (event: RecordedEvent) => event.metadata as Partial<EventMetadata>;

export const actorOf = (event: RecordedEvent) => metadataOf(event).actor ?? 'unknown';

/**
 * When the event happened: the time the store recorded it at commit. One clock
 * for every event, so history, audit, reading the past and restoring to a time
 * agree (and a restore keeps each event's time).
 */
export const occurredAt = (event: RecordedEvent) => event.recordedAt.toISOString();
