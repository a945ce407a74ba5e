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
const MAX_GROUP = 256;
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

  async function headPosition(): Promise<bigint> {
    const { rows } = await db.query<{ position: string }>('SELECT position FROM log_head');
    return BigInt(rows[0]?.position ?? 0);
  }

  // Group commit: appends that arrive while a commit is in flight go together in the next one.
  const pending: PendingAppend[] = [];
  let flushing = false;

  async function flush(): Promise<void> {
    flushing = true;
    while (pending.length > 0) {
      const group = pending.splice(0, MAX_GROUP);
      try {
        settle(group, await appendGroup(db, group));
      } catch (error) {
        if (group.length === 1) group[0]!.reject(error);
        // One bad item (a duplicate event id, say) must not fail the others: retry them one by one.
        else for (const item of group) await appendGroup(db, [item]).then((rows) => settle([item], rows), item.reject);
      }
    }
    flushing = false;
  }

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

    append(stream: string, events: EventToAppend[], expected: ExpectedRevision): Promise<AppendResult> {
      return new Promise((resolve, reject) => {
        pending.push({ stream, events, expected, resolve, reject });
        if (!flushing) void flush();
      });
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
      let checkpoint = options.fromPosition;
      async function* iterate(): AsyncGenerator<RecordedEvent> {
        await ensureListening();
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
            // Commit order is position order, so everything up to the head read now is already there: a filtered
            // read covers it whole, and the next one starts past events that did not match.
            const head = options.filter ? await headPosition() : undefined;
            let sawAny = false;
            for await (const event of readAll({ fromPosition: checkpoint, ...(head !== undefined ? { toPosition: head } : {}), filter: options.filter })) {
              if (closed) return;
              sawAny = true;
              checkpoint = event.position;
              yield event;
            }
            if (head !== undefined && head > checkpoint) checkpoint = head;
            if (!sawAny) {
              options.onCaughtUp?.();
              await woken;
            }
          }
        } finally {
          await close();
        }
      }
      const iterator = iterate();
      return {
        [Symbol.asyncIterator]: () => iterator,
        close,
        get position() {
          return checkpoint;
        },
      };
    },

    headPosition,

    async close() {
      wakers.forEach((wake) => wake());
      wakers.clear();
      await unlisten?.();
    },
  };
}

interface PendingAppend {
  stream: string;
  events: EventToAppend[];
  expected: ExpectedRevision;
  resolve(result: AppendResult): void;
  reject(error: unknown): void;
}

interface GroupRow extends Row {
  item: number;
  next_revision: string;
  last_position: string;
  conflict: boolean;
}

async function appendGroup(db: Database, group: PendingAppend[]): Promise<GroupRow[]> {
  const items = group.map(({ stream, events, expected }) => ({ stream, expected: encodeExpected(expected).toString(), events }));
  const { rows } = await db.query<GroupRow>('SELECT item, next_revision, last_position, conflict FROM append_batch($1::jsonb)', [JSON.stringify(items)]);
  if (rows.length !== group.length) throw new Error(`append_batch answered ${rows.length} rows for ${group.length} appends`);
  return rows;
}

function settle(group: PendingAppend[], rows: GroupRow[]): void {
  for (const row of rows) {
    const item = group[row.item - 1]!;
    if (row.conflict) item.reject(new WrongExpectedRevision(item.stream, item.expected, BigInt(row.next_revision)));
    else item.resolve({ nextRevision: BigInt(row.next_revision), position: BigInt(row.last_position) });
  }
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
