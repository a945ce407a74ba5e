import { AnswerLost, type Database, NotSent, type Row } from '#infra/postgres/database.ts';
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
  OutcomeUnknown,
  StoreUnavailable,
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
export interface SqlStoreOptions {
  /** How long an append may wait for its answer before its outcome is settled by its event ids. */
  appendTimeoutMs: number;
}

export async function createSqlEventStore(
  db: Database,
  options: SqlStoreOptions = { appendTimeoutMs: 5000 },
): Promise<EventStore> {
  await db.exec(EVENTSTORE_SCHEMA);
  const wakers = new Set<() => void>();
  let unlisten: (() => Promise<void>) | undefined;
  let listening: Promise<void> | undefined;

  const ensureListening = () =>
    (listening ??= db
      .listen(EVENTSTORE_CHANNEL, () => {
        for (const wake of wakers) wake();
      })
      .then((stop) => {
        unlisten = stop;
      }));

  async function headPosition(): Promise<bigint> {
    const { rows } = await db.query<{ position: string }>('SELECT position FROM log_head');
    return BigInt(rows[0]?.position ?? 0);
  }

  /** Positions are dense here (taken one after another under the log-head lock): counted, not subtracted, all the same. */
  async function eventsAfter(position: bigint, upTo?: bigint): Promise<number> {
    const { rows } = await db.query<{ count: string }>(
      'SELECT count(*)::text AS count FROM events WHERE position > $1 AND ($2::bigint IS NULL OR position <= $2)',
      [position.toString(), upTo?.toString() ?? null],
    );
    return Number(rows[0]?.count ?? 0);
  }

  // Group commit: appends that arrive while a commit is in flight go together in the next one.
  const pending: PendingAppend[] = [];
  let flushing = false;

  async function flush(): Promise<void> {
    flushing = true;
    while (pending.length > 0) await appendSettled(pending.splice(0, MAX_GROUP));
    flushing = false;
  }

  /**
   * Appends a group and tells each caller what happened to its append, also
   * when the answer was lost: the server process that ran it is ended first (a
   * statement blocked on a lock could otherwise still commit), then the group's
   * event ids are looked up. Only what is known not to be written is
   * STORE_UNAVAILABLE; what cannot be looked up is OUTCOME_UNKNOWN.
   */
  async function appendSettled(group: PendingAppend[], retried = false): Promise<void> {
    try {
      settle(group, await appendGroup(db, group, options.appendTimeoutMs));
    } catch (error) {
      if (error instanceof NotSent) {
        for (const item of group) item.reject(new StoreUnavailable(`nothing was written: ${error.message}`));
        return;
      }
      if (error instanceof AnswerLost) return settleLost(group, error, retried);
      if (group.length === 1) return group[0]!.reject(error);
      // The server refused the group (one bad item): each append on its own, so one cannot fail the others.
      for (const item of group) await appendSettled([item], retried);
    }
  }

  async function settleLost(group: PendingAppend[], lost: AnswerLost, retried: boolean): Promise<void> {
    const absent: PendingAppend[] = [];
    try {
      if (lost.backendPid !== undefined) await db.endBackend(lost.backendPid, options.appendTimeoutMs);
      for (const item of group) {
        const found = await eventsById(item.events.map((event) => event.id));
        if (found.length === item.events.length) {
          const last = found[found.length - 1]!;
          item.resolve({ nextRevision: last.revision, position: last.position, recorded: true });
        } else if (found.length === 0) absent.push(item);
        else
          item.reject(
            new Error(
              `append to ${item.stream} is partly in the log (${found.length} of ${item.events.length} events)`,
            ),
          );
      }
    } catch (error) {
      const outcome = `the answer to an append was lost (${lost.message}) and the log could not be asked (${error instanceof Error ? error.message : String(error)})`;
      // Those already found absent were looked up after their server process ended: they are known not written.
      for (const item of group)
        item.reject(
          absent.includes(item)
            ? new StoreUnavailable(`nothing was written: ${lost.message}`)
            : new OutcomeUnknown(outcome),
        );
      return;
    }
    if (absent.length === 0) return;
    // Known not written, and the database answers again: once more, then the truth as it stands.
    if (!retried) return appendSettled(absent, true);
    for (const item of absent) item.reject(new StoreUnavailable(`nothing was written: ${lost.message}`));
  }

  async function eventsById(ids: string[]): Promise<RecordedEvent[]> {
    const { rows } = await db.query<EventRow>(
      `SELECT ${COLUMNS} FROM events WHERE event_id = ANY($1::uuid[]) ORDER BY position`,
      [ids],
    );
    return rows.map(toRecorded);
  }

  async function* readAll(options: ReadAllOptions = {}): AsyncGenerator<RecordedEvent> {
    const backwards = options.direction === 'backwards';
    let cursor = backwards
      ? (options.toPosition ?? BigInt(Number.MAX_SAFE_INTEGER)) + 1n
      : (options.fromPosition ?? 0n);
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
            for await (const event of readAll({
              fromPosition: checkpoint,
              ...(head !== undefined ? { toPosition: head } : {}),
              filter: options.filter,
            })) {
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
    eventsAfter,

    async readEvents(stream, ids) {
      return (await eventsById(ids)).filter((event) => event.streamName === stream);
    },

    async close() {
      for (const wake of wakers) wake();
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
  recorded: boolean;
}

async function appendGroup(db: Database, group: PendingAppend[], timeoutMs: number): Promise<GroupRow[]> {
  const items = group.map(({ stream, events, expected }) => ({
    stream,
    expected: encodeExpected(expected).toString(),
    events,
  }));
  const { rows } = await db.session<GroupRow>(
    'SELECT item, next_revision, last_position, conflict, recorded FROM append_batch($1::jsonb)',
    [JSON.stringify(items)],
    {
      timeoutMs,
    },
  );
  if (rows.length !== group.length)
    throw new Error(`append_batch answered ${rows.length} rows for ${group.length} appends`);
  return rows;
}

function settle(group: PendingAppend[], rows: GroupRow[]): void {
  for (const row of rows) {
    const item = group[row.item - 1]!;
    const at = { nextRevision: BigInt(row.next_revision), position: BigInt(row.last_position) };
    if (row.conflict) item.reject(new WrongExpectedRevision(item.stream, item.expected, at.nextRevision));
    else item.resolve(row.recorded ? { ...at, recorded: true } : at);
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
