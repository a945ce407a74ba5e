import { randomUUID } from 'node:crypto';
import { EVENT_SCHEMA_VERSIONS, type DomainEvent } from '#events/index.ts';
import type { EventMetadata } from '#events/metadata.ts';
import { type EventStore, type RecordedEvent, WrongExpectedRevision } from '#infra/eventstore/port.ts';

export interface Decider<Command, State, Event extends DomainEvent> {
  decide(command: Command, state: State): Event[];
  evolve(state: State, event: Event): State;
  initialState: State;
  /** True when every event carries the whole state, so loading needs only the stream's last event. */
  stateInLastEvent?: boolean;
}

/** Who and why, supplied by the edge for every command. */
export interface CommandContext {
  actor: string;
  correlationId: string;
  causationId?: string;
  reason?: string;
  sourceIp?: string;
  now: Date;
}

export interface HandleResult<State, Event> {
  state: State;
  events: Event[];
  /** Stream revision after the command, -1n when the stream does not exist. */
  revision: bigint;
  /** Log position of the last event written, or of the newest event read when nothing was written. */
  position: bigint;
}

const MAX_ATTEMPTS = 10;

/** Narrows a stored event to the domain union; the store only ever holds events this code wrote. */
export const asDomainEvent = <Event extends DomainEvent>(recorded: RecordedEvent) => ({ type: recorded.type, data: recorded.data }) as Event;

export async function loadState<Command, State, Event extends DomainEvent>(
  store: EventStore,
  stream: string,
  decider: Decider<Command, State, Event>,
  initialState: State = decider.initialState,
): Promise<{ state: State; revision: bigint; position: bigint }> {
  let state = initialState;
  let revision = -1n;
  let position = 0n;
  const events = decider.stateInLastEvent ? store.readStream(stream, { direction: 'backwards', maxCount: 1 }) : store.readStream(stream);
  for await (const recorded of events) {
    state = decider.evolve(state, asDomainEvent<Event>(recorded));
    revision = recorded.revision;
    position = recorded.position;
  }
  return { state, revision, position };
}

/**
 * Read the stream, fold it, decide, append at the revision read. A concurrent
 * append to the same stream makes the append fail; the command is then decided
 * again on the fresh state, so no update is lost and a stale `expectedVersion`
 * in the command surfaces as the decider's own conflict.
 */
export async function handle<Command, State, Event extends DomainEvent>(
  store: EventStore,
  stream: string,
  decider: Decider<Command, State, Event>,
  command: Command,
  context: CommandContext,
  initialState?: State,
): Promise<HandleResult<State, Event>> {
  return serialized(store, stream, async () => {
    for (let attempt = 1; ; attempt++) {
      const loaded = await loadState(store, stream, decider, initialState);
      const events = decider.decide(command, loaded.state);
      if (events.length === 0) return { state: loaded.state, events, revision: loaded.revision, position: loaded.position };
      const expected = loaded.revision < 0n ? 'no_stream' : loaded.revision;
      try {
        const appended = await store.append(stream, events.map((event) => toStored(event, context)), expected);
        const state = events.reduce(decider.evolve, loaded.state);
        return { state, events, revision: appended.nextRevision, position: appended.position };
      } catch (error) {
        if (!(error instanceof WrongExpectedRevision) || attempt >= MAX_ATTEMPTS) throw error;
        // Another instance wrote the stream: back off a little, with jitter, before deciding again.
        await new Promise((resolve) => setTimeout(resolve, Math.random() * 5 * attempt));
      }
    }
  });
}

/**
 * Commands on one stream run one after another inside this process, so a hot
 * stream costs no retries; conflicts then only come from other instances.
 */
const queuesByStore = new WeakMap<EventStore, Map<string, Promise<unknown>>>();

async function serialized<T>(store: EventStore, stream: string, work: () => Promise<T>): Promise<T> {
  let streamQueues = queuesByStore.get(store);
  if (!streamQueues) queuesByStore.set(store, (streamQueues = new Map()));
  const previous = streamQueues.get(stream) ?? Promise.resolve();
  const current = previous.then(work, work);
  const tail = current.catch(() => undefined);
  streamQueues.set(stream, tail);
  try {
    return await current;
  } finally {
    if (streamQueues.get(stream) === tail) streamQueues.delete(stream);
  }
}

function toStored(event: DomainEvent, context: CommandContext) {
  const metadata: EventMetadata = {
    actor: context.actor,
    correlationId: context.correlationId,
    ...(context.causationId ? { causationId: context.causationId } : {}),
    ...(context.reason ? { reason: context.reason } : {}),
    ...(context.sourceIp ? { sourceIp: context.sourceIp } : {}),
    schemaVersion: EVENT_SCHEMA_VERSIONS[event.type],
    occurredAt: context.now.toISOString(),
  };
  return { id: randomUUID(), type: event.type, data: { ...event.data }, metadata: { ...metadata } };
}
