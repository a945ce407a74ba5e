import {
  BACKWARDS,
  END,
  EventStoreDBClient,
  FORWARDS,
  START,
  StreamNotFoundError,
  WrongExpectedVersionError,
  excludeSystemEvents,
  jsonEvent,
  streamNameFilter,
  type AllStreamResolvedEvent,
  type Position,
  type ResolvedEvent,
} from '@eventstore/db-client';
import {
  type EventStore,
  type RecordedEvent,
  type Subscription,
  WrongExpectedRevision,
  matchesFilter,
} from './port.ts';

/**
 * The event store on EventStoreDB / KurrentDB. Global positions are $all commit
 * positions; system events ($-types and $-streams) are never surfaced.
 */
export function createEsdbEventStore(connectionString: string): EventStore {
  const client = EventStoreDBClient.connectionString`${connectionString}`;

  const position = (commit: bigint): Position => ({ commit, prepare: commit });
  const RECENT_WINDOW = 1000;

  /** The stream's events among `ids`, from its newest RECENT_WINDOW (an append being settled is among its last). */
  async function readEvents(stream: string, ids: string[]): Promise<RecordedEvent[]> {
    const wanted = new Set(ids);
    const found: RecordedEvent[] = [];
    try {
      for await (const resolved of client.readStream(stream, {
        fromRevision: END,
        direction: BACKWARDS,
        maxCount: RECENT_WINDOW,
      })) {
        const event = toRecorded(resolved);
        if (event && wanted.has(event.id)) found.unshift(event);
      }
    } catch (error) {
      if (!(error instanceof StreamNotFoundError)) throw error;
    }
    return found;
  }

  return {
    kind: 'eventstoredb',

    async append(stream, events, expected) {
      try {
        const result = await client.appendToStream(
          stream,
          events.map((event) =>
            jsonEvent({ id: event.id, type: event.type, data: event.data, metadata: event.metadata }),
          ),
          { expectedRevision: expected },
        );
        return { nextRevision: result.nextExpectedRevision, position: result.position?.commit ?? 0n };
      } catch (error) {
        if (error instanceof WrongExpectedVersionError) {
          // The same events already written (a retry of an append whose answer was lost) are recorded, not a conflict.
          const found = await readEvents(
            stream,
            events.map((event) => event.id),
          );
          const last = found.at(-1);
          if (last && found.length === events.length)
            return { nextRevision: last.revision, position: last.position, recorded: true as const };
          const actual = typeof error.actualVersion === 'bigint' ? error.actualVersion : -1n;
          throw new WrongExpectedRevision(stream, expected, actual);
        }
        throw error;
      }
    },

    readEvents,

    async *readStream(stream, options = {}) {
      const backwards = options.direction === 'backwards';
      try {
        for await (const resolved of client.readStream(stream, {
          fromRevision: options.fromRevision ?? (backwards ? END : START),
          direction: backwards ? BACKWARDS : FORWARDS,
          maxCount: options.maxCount ?? Number.MAX_SAFE_INTEGER,
        })) {
          const event = toRecorded(resolved);
          if (event) yield event;
        }
      } catch (error) {
        if (error instanceof StreamNotFoundError) return;
        throw error;
      }
    },

    async *readAll(options = {}) {
      const backwards = options.direction === 'backwards';
      let remaining = options.maxCount ?? Number.POSITIVE_INFINITY;
      const from = backwards
        ? options.toPosition === undefined
          ? END
          : position(options.toPosition)
        : options.fromPosition
          ? position(options.fromPosition)
          : START;
      for await (const resolved of client.readAll({
        fromPosition: from,
        direction: backwards ? BACKWARDS : FORWARDS,
        maxCount: Number.MAX_SAFE_INTEGER,
      })) {
        const event = toRecorded(resolved);
        if (!event) continue;
        if (!backwards && options.fromPosition !== undefined && event.position <= options.fromPosition) continue;
        if (!backwards && options.toPosition !== undefined && event.position > options.toPosition) return;
        if (backwards && options.fromPosition !== undefined && event.position <= options.fromPosition) return;
        if (!matchesFilter(event, options.filter)) continue;
        yield event;
        if (--remaining <= 0) return;
      }
    },

    subscribeAll(options): Subscription {
      const filter = options.filter?.streamPrefixes
        ? streamNameFilter({ prefixes: options.filter.streamPrefixes })
        : excludeSystemEvents();
      const subscription = client.subscribeToAll({
        fromPosition: options.fromPosition > 0n ? position(options.fromPosition) : START,
        filter,
      });
      // The server confirms the subscription once it is established: the store answers.
      subscription.on('confirmation', () => options.onCaughtUp?.());
      let reached = options.fromPosition;
      async function* iterate(): AsyncGenerator<RecordedEvent> {
        for await (const resolved of subscription) {
          const event = toRecorded(resolved);
          if (event) reached = event.position;
          if (event && matchesFilter(event, options.filter)) yield event;
        }
      }
      const iterator = iterate();
      return {
        [Symbol.asyncIterator]: () => iterator,
        close: () => subscription.unsubscribe(),
        get position() {
          return reached;
        },
      };
    },

    async headPosition() {
      for await (const resolved of client.readAll({ fromPosition: END, direction: BACKWARDS, maxCount: 50 })) {
        const event = toRecorded(resolved);
        if (event) return event.position;
      }
      return 0n;
    },

    // Commit positions are byte offsets in the transaction file: how many events lie between two of them cannot be told without reading them.
    eventsAfter: async () => undefined,

    close: () => client.dispose(),
  };
}

function toRecorded(resolved: AllStreamResolvedEvent | ResolvedEvent): RecordedEvent | undefined {
  const event = resolved.event;
  if (!event?.isJson || event.type.startsWith('$') || event.streamId.startsWith('$')) return undefined;
  return {
    id: event.id,
    type: event.type,
    streamName: event.streamId,
    revision: event.revision,
    position: event.position?.commit ?? resolved.commitPosition ?? 0n,
    data: event.data as Record<string, unknown>,
    metadata: (event.metadata ?? {}) as Record<string, unknown>,
    recordedAt: event.created,
  };
}
