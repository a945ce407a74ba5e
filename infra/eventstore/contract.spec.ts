import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openPGlite, openPostgres } from '#infra/postgres/database.ts';
import { createTestDatabase } from '#testing/postgres.ts';
import { createEsdbEventStore } from './esdb.ts';
import { type EventStore, type EventToAppend, type RecordedEvent, WrongExpectedRevision } from './port.ts';
import { createSqlEventStore } from './postgres.ts';

interface Adapter {
  name: string;
  skipReason?: string;
  open(): Promise<{ store: EventStore; dispose(): Promise<void> }>;
}

const adapters: Adapter[] = [
  {
    name: 'PostgreSQL',
    async open() {
      const database = await createTestDatabase();
      const db = openPostgres(database.url);
      const store = await createSqlEventStore(db);
      return {
        store,
        async dispose() {
          await store.close();
          await db.close();
          await database.drop();
        },
      };
    },
  },
  {
    name: 'PGlite',
    async open() {
      const db = await openPGlite('memory://');
      const store = await createSqlEventStore(db);
      return {
        store,
        async dispose() {
          await store.close();
          await db.close();
        },
      };
    },
  },
  {
    name: 'EventStoreDB',
    skipReason: process.env.EVENTSTORE_URL
      ? undefined
      : 'EVENTSTORE_URL is not set, and no EventStoreDB server runs on this machine',
    async open() {
      const store = createEsdbEventStore(process.env.EVENTSTORE_URL!);
      return { store, dispose: () => store.close() };
    },
  },
];

const event = (type = 'Something', data: Record<string, unknown> = {}): EventToAppend => ({
  id: randomUUID(),
  type,
  data,
  metadata: { actor: 'contract-test' },
});

async function collect(iterable: AsyncIterable<RecordedEvent>): Promise<RecordedEvent[]> {
  const events: RecordedEvent[] = [];
  for await (const recorded of iterable) events.push(recorded);
  return events;
}

for (const adapter of adapters) {
  const title = adapter.skipReason
    ? `EventStore contract: ${adapter.name} (skipped: ${adapter.skipReason})`
    : `EventStore contract: ${adapter.name}`;
  describe.skipIf(Boolean(adapter.skipReason))(title, () => {
    let store: EventStore;
    let dispose: () => Promise<void>;
    // A prefix per run keeps streams apart on a shared server.
    const run = `t${randomUUID().slice(0, 8)}`;
    const stream = (name: string) => `${run}-${name}`;

    beforeAll(async () => {
      ({ store, dispose } = await adapter.open());
    });
    afterAll(async () => dispose?.());

    it('creates a stream with no_stream and refuses a second no_stream append with the current revision', async () => {
      const first = await store.append(stream('a'), [event(), event()], 'no_stream');
      expect(first.nextRevision).toBe(1n);
      const error = await store.append(stream('a'), [event()], 'no_stream').catch((e: unknown) => e);
      expect(error).toBeInstanceOf(WrongExpectedRevision);
      expect((error as WrongExpectedRevision).actual).toBe(1n);
    });

    it('appends at an exact revision and rejects a stale one without writing anything', async () => {
      await store.append(stream('b'), [event()], 'no_stream');
      const next = await store.append(stream('b'), [event()], 0n);
      expect(next.nextRevision).toBe(1n);
      await expect(store.append(stream('b'), [event(), event()], 0n)).rejects.toBeInstanceOf(WrongExpectedRevision);
      expect(await collect(store.readStream(stream('b')))).toHaveLength(2);
    });

    it('honours stream_exists and any', async () => {
      await expect(store.append(stream('c'), [event()], 'stream_exists')).rejects.toBeInstanceOf(WrongExpectedRevision);
      await store.append(stream('c'), [event()], 'any');
      const result = await store.append(stream('c'), [event()], 'stream_exists');
      expect(result.nextRevision).toBe(1n);
    });

    it('reads a stream forwards and backwards, from a revision, bounded by maxCount', async () => {
      const name = stream('d');
      await store.append(
        name,
        [0, 1, 2, 3, 4].map((n) => event('Numbered', { n })),
        'no_stream',
      );
      const forwards = await collect(store.readStream(name));
      expect(forwards.map((e) => e.data.n)).toEqual([0, 1, 2, 3, 4]);
      expect(forwards.map((e) => e.revision)).toEqual([0n, 1n, 2n, 3n, 4n]);
      const backwards = await collect(store.readStream(name, { direction: 'backwards', maxCount: 2 }));
      expect(backwards.map((e) => e.data.n)).toEqual([4, 3]);
      const fromTwo = await collect(store.readStream(name, { fromRevision: 2n, maxCount: 2 }));
      expect(fromTwo.map((e) => e.data.n)).toEqual([2, 3]);
      expect(await collect(store.readStream(stream('never-written')))).toEqual([]);
    });

    it('reads the whole log after a position, up to a position, backwards, and filtered by stream prefix', async () => {
      const before = await store.headPosition();
      await store.append(stream('e1'), [event('E', { i: 1 })], 'any');
      await store.append(stream('f1'), [event('F', { i: 2 })], 'any');
      await store.append(stream('e2'), [event('E', { i: 3 })], 'any');
      const after = await collect(store.readAll({ fromPosition: before }));
      expect(after.map((e) => e.data.i)).toEqual([1, 2, 3]);
      const upToSecond = await collect(store.readAll({ fromPosition: before, toPosition: after[1]!.position }));
      expect(upToSecond.map((e) => e.data.i)).toEqual([1, 2]);
      const newestFirst = await collect(store.readAll({ direction: 'backwards', maxCount: 3 }));
      expect(newestFirst.map((e) => e.data.i)).toEqual([3, 2, 1]);
      const onlyE = await collect(store.readAll({ fromPosition: before, filter: { streamPrefixes: [stream('e')] } }));
      expect(onlyE.map((e) => e.data.i)).toEqual([1, 3]);
      expect(await store.headPosition()).toBe(after[2]!.position);
    });

    it('counts the events after a position (up to another), or says it cannot without reading them', async () => {
      const before = await store.headPosition();
      await store.append(stream('c1'), [event('C', { i: 1 }), event('C', { i: 2 })], 'any');
      await store.append(stream('c2'), [event('C', { i: 3 })], 'any');
      const [first] = await collect(store.readAll({ fromPosition: before, maxCount: 1 }));
      const counted = await store.eventsAfter(before);
      // Positions order events; only the store knows how many lie between two of them.
      if (store.kind === 'eventstoredb') expect(counted).toBeUndefined();
      else {
        expect(counted).toBe(3);
        expect(await store.eventsAfter(before, first!.position)).toBe(1);
        expect(await store.eventsAfter(await store.headPosition())).toBe(0);
      }
    });

    it('delivers stored events to a catch-up subscription and then continues with live ones', async () => {
      const start = await store.headPosition();
      const name = stream('g');
      await store.append(name, [event('G', { n: 1 }), event('G', { n: 2 })], 'no_stream');
      const subscription = store.subscribeAll({ fromPosition: start, filter: { streamPrefixes: [name] } });
      const seen: number[] = [];
      const done = (async () => {
        for await (const recorded of subscription) {
          seen.push(recorded.data.n as number);
          if (seen.length === 4) break;
        }
      })();
      await new Promise((resolve) => setTimeout(resolve, 100));
      await store.append(name, [event('G', { n: 3 })], 1n);
      await store.append(name, [event('G', { n: 4 })], 2n);
      await done;
      await subscription.close();
      expect(seen).toEqual([1, 2, 3, 4]);
    });

    it('gives a subscriber every event of concurrent writers exactly once, in one global order, with no gaps', async () => {
      const start = await store.headPosition();
      const writers = 8;
      const appendsPerWriter = 40;
      const expected = writers * appendsPerWriter;
      const prefix = stream('h');
      const subscription = store.subscribeAll({ fromPosition: start, filter: { streamPrefixes: [prefix] } });
      const seen: RecordedEvent[] = [];
      const consumed = (async () => {
        for await (const recorded of subscription) {
          seen.push(recorded);
          if (seen.length === expected) break;
        }
      })();

      const written: string[] = [];
      await Promise.all(
        Array.from({ length: writers }, async (_, writer) => {
          for (let i = 0; i < appendsPerWriter; i++) {
            const appended = event('H', { writer, i });
            written.push(appended.id);
            // Half the writers share one hot stream, the others write their own.
            const target = writer % 2 === 0 ? `${prefix}-shared` : `${prefix}-w${writer}`;
            await store.append(target, [appended], 'any');
          }
        }),
      );
      await consumed;
      await subscription.close();

      expect(seen).toHaveLength(expected);
      expect(new Set(seen.map((e) => e.id)).size).toBe(expected);
      expect(new Set(seen.map((e) => e.id))).toEqual(new Set(written));
      for (let i = 1; i < seen.length; i++) expect(seen[i]!.position > seen[i - 1]!.position).toBe(true);
      if (store.kind !== 'eventstoredb') {
        expect(seen[seen.length - 1]!.position - seen[0]!.position).toBe(BigInt(expected - 1));
      }
      const replayed = await collect(store.readAll({ fromPosition: start, filter: { streamPrefixes: [prefix] } }));
      expect(replayed.map((e) => e.id)).toEqual(seen.map((e) => e.id));
      const shared = await collect(store.readStream(`${prefix}-shared`));
      expect(shared.map((e) => e.revision)).toEqual(shared.map((_, i) => BigInt(i)));
    });
  });
}
