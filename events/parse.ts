import type { RecordedEvent } from '#infra/eventstore/port.ts';
import { type DomainEvent, type DomainEventType, EVENT_SCHEMA_VERSIONS } from './index.ts';
import { UPCASTERS } from './upcasters.ts';

/** A stored event this code does not know, or knows only in an older shape: reading on would misread the log. */
export class UnknownEvent extends Error {
  constructor(
    message: string,
    readonly position: bigint,
  ) {
    super(message);
    this.name = 'UnknownEvent';
  }
}

/** A recorded event with its type and data as the domain knows them. */
export type LoggedEvent<Event extends DomainEvent = DomainEvent> = Omit<RecordedEvent, 'type' | 'data'> & Event;

/**
 * The one place stored events are checked: the type must be known, the
 * data-shape version no newer than this code knows, and an older shape is
 * upcast to the current one (and marked so), so nothing downstream meets it.
 */
export function upcastRecorded(recorded: RecordedEvent): RecordedEvent {
  const known = EVENT_SCHEMA_VERSIONS[recorded.type as DomainEventType];
  if (known === undefined)
    throw new UnknownEvent(`unknown event type ${recorded.type} at position ${recorded.position}`, recorded.position);
  const version = Number(recorded.metadata.schemaVersion ?? 1);
  if (!Number.isInteger(version) || version < 1 || version > known) {
    throw new UnknownEvent(
      `${recorded.type} schema version ${String(recorded.metadata.schemaVersion)} at position ${recorded.position} is not one this code knows (1 to ${known})`,
      recorded.position,
    );
  }
  if (version === known) return recorded;
  let data = recorded.data;
  for (let from = version; from < known; from++) {
    const upcast = UPCASTERS[`${recorded.type}@${from}`];
    if (!upcast)
      throw new UnknownEvent(
        `no upcaster from ${recorded.type} version ${from} (position ${recorded.position})`,
        recorded.position,
      );
    data = upcast(data);
  }
  return { ...recorded, data, metadata: { ...recorded.metadata, schemaVersion: known } };
}

/** A stored event as the domain event it is; `Event` narrows the union for a caller that has checked the type. */
export function parseEvent<Event extends DomainEvent = DomainEvent>(recorded: RecordedEvent): LoggedEvent<Event> {
  // Checked and upcast: a known type, its data in the shape the union describes.
  return upcastRecorded(recorded) as unknown as LoggedEvent<Event>;
}
