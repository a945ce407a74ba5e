import type { Database, Row } from '#infra/postgres/database.ts';
import { EVENTSTORE_CHANNEL, EVENTSTORE_SCHEMA } from './sql-schema.ts';
import {
  type AppendResult,
  type EventFilter,
  type EventStore,
  type EventToAppend,
  type ExpectedRevision,
  type ReadAllOptions,
  type ReadStreamOptions,
  type RecordedEvent,
  type SubscribeOptions,
  type Subscription,
  WrongExpectedRevision,
} from './port.ts';

const PAGE_SIZE = 1000;
/** Safety net only: subscribers are woken by NOTIFY; this bounds the wait if one is ever lost. */
const IDLE_RECHECK_MS = 1000;

interface EventRow extends Row {
  position: string;
  event_id: string;
  stream_name: string;
  stream_revision: string;
  event_type: string;
  data: Record<string, unknown>;
  metadata: Record<string, unknown>;
  recorded_at: Date | string;
}

const COLUMNS = 'position, event_id, stream_name, stream_revision, event_type, data, metadata, recorded_at';

/** The event store on PostgreSQL, or on PGlite: the same SQL over either `Database`. */
export async function createSqlEventStore(db: Database): Promise<EventStore> {
  await db.exec(EVENTSTORE_SCHEMA);
  const wakers = new Set<() => void>();
  let unlisten: (() => Promise<void>) | undefined;
  let listening: Promise<void> | undefined;

  const ensureListening = () =>
    (listening ??= db.listen(EVENTSTORE_CHANNEL, () => wakers.forEach((wake) => wake())).then((stop) => {
      unlisten = stop;
    }));

  async function* readAll(options: ReadAllOptions = {}): AsyncGenerator<RecordedEvent> {
    const backwards = options.direction === 'backwards';
    let cursor = backwards ? (options.toPosition ?? BigInt(Number.MAX_SAFE_INTEGER)) + 1n : (options.fromPosition ?? 0n);
    let remaining = options.maxCount ?? Number.POSITIVE_INFINITY;
    while (remaining > 0) {
      const { where, params } = allConditions(cursor, backwards, options, options.filter);
      const limit = Math.min(PAGE_SIZE, remaining);
      const { rows } = await db.query<EventRow>(
        `SELECT ${COLUMNS} FROM events WHERE ${where} ORDER BY position ${backwards ? 'DESC' : 'ASC'} LIMIT ${limit}`,
        params,
      );
      for (const row of rows) yield toRecorded(row);
      if (rows.length < limit) return;
      remaining -= rows.length;
      cursor = BigInt(rows[rows.length - 1]!.position);
    }
  }

  return {
    kind: db.kind,

    async append(stream: string, events: EventToAppend[], expected: ExpectedRevision): Promise<AppendResult> {
      try {
        const { rows } = await db.query<{ next_revision: string; last_position: string }>(
          'SELECT next_revision, last_position FROM append_events($1, $2, $3::jsonb)',
          [stream, encodeExpected(expected).toString(), JSON.stringify(events)],
        );
        const row = rows[0]!;
        return { nextRevision: BigInt(row.next_revision), position: BigInt(row.last_position) };
      } catch (error) {
        if (isWrongExpected(error)) throw new WrongExpectedRevision(stream, expected, BigInt(error.detail));
        throw error;
      }
    },

    async *readStream(stream: string, options: ReadStreamOptions = {}): AsyncGenerator<RecordedEvent> {
      const backwards = options.direction === 'backwards';
      let remaining = options.maxCount ?? Number.POSITIVE_INFINITY;
      let from = options.fromRevision ?? (backwards ? BigInt(Number.MAX_SAFE_INTEGER) : 0n);
      while (remaining > 0) {
        const limit = Math.min(PAGE_SIZE, remaining);
        const { rows } = await db.query<EventRow>(
          `SELECT ${COLUMNS} FROM events WHERE stream_name = $1 AND stream_revision ${backwards ? '<=' : '>='} $2
           ORDER BY stream_revision ${backwards ? 'DESC' : 'ASC'} LIMIT ${limit}`,
          [stream, from.toString()],
        );
        for (const row of rows) yield toRecorded(row);
        if (rows.length < limit) return;
        remaining -= rows.length;
        const last = BigInt(rows[rows.length - 1]!.stream_revision);
        from = backwards ? last - 1n : last + 1n;
      }
    },

    readAll,

    subscribeAll(options: SubscribeOptions): Subscription {
      let closed = false;
      let wake: () => void = () => undefined;
      const waker = () => wake();
      wakers.add(waker);
      const close = async () => {
        closed = true;
        wakers.delete(waker);
        wake();
      };
      async function* iterate(): AsyncGenerator<RecordedEvent> {
        await ensureListening();
        let checkpoint = options.fromPosition;
        try {
          while (!closed) {
            // Arm the wake-up before reading, so a NOTIFY that lands during the read is not lost.
            const woken = new Promise<void>((resolve) => {
              const timer = setTimeout(resolve, IDLE_RECHECK_MS);
              wake = () => {
                clearTimeout(timer);
                resolve();
              };
            });
            let sawAny = false;
            for await (const event of readAll({ fromPosition: checkpoint, filter: options.filter })) {
              if (closed) return;
              sawAny = true;
              checkpoint = event.position;
              yield event;
            }
            if (!sawAny) await woken;
          }
        } finally {
          await close();
        }
      }
      const iterator = iterate();
      return { [Symbol.asyncIterator]: () => iterator, close };
    },

    async headPosition() {
      const { rows } = await db.query<{ position: string }>('SELECT position FROM log_head');
      return BigInt(rows[0]?.position ?? 0);
    },

    async close() {
      wakers.forEach((wake) => wake());
      wakers.clear();
      await unlisten?.();
    },
  };
}

function allConditions(cursor: bigint, backwards: boolean, options: ReadAllOptions, filter?: EventFilter) {
  const params: unknown[] = [cursor.toString()];
  const conditions = [backwards ? 'position < $1' : 'position > $1'];
  if (backwards && options.fromPosition !== undefined) {
    params.push(options.fromPosition.toString());
    conditions.push(`position > $${params.length}`);
  }
  if (!backwards && options.toPosition !== undefined) {
    params.push(options.toPosition.toString());
    conditions.push(`position <= $${params.length}`);
  }
  if (filter?.streamPrefixes) {
    params.push(filter.streamPrefixes.map((prefix) => `${prefix.replace(/[\\%_]/g, (c) => `\\${c}`)}%`));
    conditions.push(`stream_name LIKE ANY ($${params.length}::text[])`);
  }
  if (filter?.eventTypes) {
    params.push(filter.eventTypes);
    conditions.push(`event_type = ANY ($${params.length}::text[])`);
  }
  return { where: conditions.join(' AND '), params };
}

function encodeExpected(expected: ExpectedRevision): bigint {
  if (expected === 'any') return -1n;
  if (expected === 'no_stream') return -2n;
  if (expected === 'stream_exists') return -3n;
  if (expected < 0n) throw new RangeError(`expected revision must be >= 0, got ${expected}`);
  return expected;
}

function isWrongExpected(error: unknown): error is { detail: string } {
  return error instanceof Error && error.message.includes('WRONG_EXPECTED_REVISION') && typeof (error as { detail?: unknown }).detail === 'string';
}

function toRecorded(row: EventRow): RecordedEvent {
  return {
    id: row.event_id,
    type: row.event_type,
    streamName: row.stream_name,
    revision: BigInt(row.stream_revision),
    position: BigInt(row.position),
    data: row.data,
    metadata: row.metadata,
    recordedAt: row.recorded_at instanceof Date ? row.recorded_at : new Date(row.recorded_at),
  };
}
