import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openPostgres } from '#infra/postgres/database.ts';
import { createTestDatabase, type TestDatabase } from '#testing/postgres.ts';
import type { EventStore } from './port.ts';
import { createSqlEventStore } from './postgres.ts';

/**
 * What a follower of the log needs from the store: every event once, in
 * order, even when a transaction that took a position commits after a later
 * one. Each implementation under test says how to append, how to hold an
 * append's transaction open after it took its position, and how to follow.
 */
interface Log {
  append(stream: string, id: string): Promise<void>;
  holdOpen(stream: string, id: string): Promise<{ commit(): Promise<void> }>;
  follow(onEvent: (id: string, position: bigint) => void): { stop(): Promise<void> };
}

interface Seen {
  ids: string[];
  positions: bigint[];
}

/**
 * Two writers with connections of their own append concurrently while a
 * follower runs; one append holds its position open while others commit
 * after it. Answers what the follower missed, saw twice or saw out of order.
 */
async function misreadings(writers: [Log, Log], follower: Log): Promise<string[]> {
  const seen: Seen = { ids: [], positions: [] };
  const following = follower.follow((id, position) => {
    seen.ids.push(id);
    seen.positions.push(position);
  });
  const written: string[] = [];
  const late = randomUUID();
  const held = await writers[0].holdOpen('held', late);
  written.push(late);
  // While it is open, the other writer and then the first one append too; under a correct store they wait or
  // take later positions, under a naive one they commit first with higher positions.
  const during = Promise.all(
    writers.flatMap((writer, w) =>
      Array.from({ length: 20 }, async (_, i) => {
        const id = randomUUID();
        written.push(id);
        await writer.append(`stream-${w}-${i % 3}`, id);
      }),
    ),
  );
  await new Promise((resolve) => setTimeout(resolve, 300));
  await held.commit();
  await during;
  await Promise.all(
    Array.from({ length: 100 }, async (_, i) => {
      const id = randomUUID();
      written.push(id);
      await writers[i % 2]!.append(`after-${i % 5}`, id);
    }),
  );
  const deadline = Date.now() + 5000;
  while (seen.ids.length < written.length && Date.now() < deadline)
    await new Promise((resolve) => setTimeout(resolve, 50));
  await new Promise((resolve) => setTimeout(resolve, 300));
  await following.stop();

  const problems: string[] = [];
  const missed = written.filter((id) => !seen.ids.includes(id));
  if (missed.length > 0)
    problems.push(`missed ${missed.length} events${missed.includes(late) ? ', the late commit among them' : ''}`);
  if (new Set(seen.ids).size !== seen.ids.length) problems.push('saw an event twice');
  if (seen.positions.some((position, i) => i > 0 && position <= seen.positions[i - 1]!))
    problems.push('saw positions out of order');
  return problems;
}

/** The store as it is: appends serialise on the log head, so commit order is position order. */
function sqlStore(store: EventStore, url: string, database: string): Log {
  return {
    async append(stream, id) {
      await store.append(`${database}-${stream}`, [{ id, type: 'Tested', data: {}, metadata: {} }], 'any');
    },
    async holdOpen(stream, id) {
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      await client.query('BEGIN');
      const items = [
        { stream: `${database}-${stream}`, expected: '-1', events: [{ id, type: 'Tested', data: {}, metadata: {} }] },
      ];
      await client.query('SELECT * FROM append_batch($1::jsonb)', [JSON.stringify(items)]);
      return {
        async commit() {
          await client.query('COMMIT');
          await client.end();
        },
      };
    },
    follow(onEvent) {
      const subscription = store.subscribeAll({ fromPosition: 0n, filter: { streamPrefixes: [`${database}-`] } });
      const done = (async () => {
        for await (const event of subscription) onEvent(event.id, event.position);
      })();
      return {
        async stop() {
          await subscription.close();
          await done;
        },
      };
    },
  };
}

/** The design the store must not have: a bigserial position, and followers reading `position > checkpoint`. */
function naiveStore(url: string): Log & { close(): Promise<void> } {
  const pool = new pg.Pool({ connectionString: url, max: 10 });
  return {
    async append(stream, id) {
      await pool.query('INSERT INTO naive_events (id, stream) VALUES ($1, $2)', [id, stream]);
    },
    async holdOpen(stream, id) {
      const client = await pool.connect();
      await client.query('BEGIN');
      await client.query('INSERT INTO naive_events (id, stream) VALUES ($1, $2)', [id, stream]);
      return {
        async commit() {
          await client.query('COMMIT');
          client.release();
        },
      };
    },
    follow(onEvent) {
      let stopped = false;
      const done = (async () => {
        let checkpoint = 0n;
        while (!stopped) {
          const { rows } = await pool.query<{ id: string; position: string }>(
            'SELECT id, position FROM naive_events WHERE position > $1 ORDER BY position',
            [checkpoint.toString()],
          );
          for (const row of rows) {
            onEvent(row.id, BigInt(row.position));
            checkpoint = BigInt(row.position);
          }
          await new Promise((resolve) => setTimeout(resolve, 10));
        }
      })();
      return {
        async stop() {
          stopped = true;
          await done;
        },
      };
    },
    close: () => pool.end(),
  };
}

describe('concurrent writers on PostgreSQL, two store instances with pools of their own', () => {
  let database: TestDatabase;
  const closing: (() => Promise<void>)[] = [];
  beforeAll(async () => {
    database = await createTestDatabase();
  });
  afterAll(async () => {
    for (const close of closing.reverse()) await close();
    await database?.drop();
  });

  it('give a follower every event once, in order, even when a commit comes after a later position’s', async () => {
    const instances = await Promise.all(
      [1, 2].map(async () => {
        const db = openPostgres(database.url);
        const store = await createSqlEventStore(db);
        closing.push(async () => {
          await store.close();
          await db.close();
        });
        return sqlStore(store, database.url, 'sql');
      }),
    );
    expect(await misreadings([instances[0]!, instances[1]!], instances[1]!)).toEqual([]);
  }, 30_000);

  it('catch the design they must not have: the same scenario fails a bigserial log read by position > checkpoint', async () => {
    const setup = new pg.Client({ connectionString: database.url });
    await setup.connect();
    await setup.query(
      'CREATE TABLE naive_events (position bigserial PRIMARY KEY, id uuid NOT NULL, stream text NOT NULL)',
    );
    await setup.end();
    const writers = [naiveStore(database.url), naiveStore(database.url)] as const;
    for (const writer of writers) closing.push(() => writer.close());
    const problems = await misreadings([writers[0], writers[1]], writers[1]);
    expect(problems.join('; ')).toMatch(/missed \d+ events, the late commit among them/);
  }, 30_000);
});
