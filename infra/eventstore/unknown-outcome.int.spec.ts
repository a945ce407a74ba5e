import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AnswerLost, type Database, openPostgres } from '#infra/postgres/database.ts';
import { createTestDatabase, type TestDatabase } from '#testing/postgres.ts';
import { createSqlEventStore } from './postgres.ts';
import type { EventStore, EventToAppend } from './port.ts';

const event = (): EventToAppend => ({ id: randomUUID(), type: 'Something', data: {}, metadata: { actor: 'test' } });

/**
 * The database commits an append, and the answer is lost on the way back (a
 * connection reset after COMMIT, as the database layer reports it): the same as
 * a real cut at the worst moment, produced exactly when the test wants it.
 */
function losingAnswers(db: Database, shouldLose: (text: string) => boolean): Database {
  const lose = async <T>(run: () => Promise<T>, text: string): Promise<T> => {
    const result = await run();
    if (shouldLose(text)) throw new AnswerLost('Connection terminated unexpectedly', undefined);
    return result;
  };
  return {
    ...db,
    query: (text, params) => lose(() => db.query(text, params), text),
    session: (text, params, options) => lose(() => db.session(text, params, options), text),
  };
}

describe('an append whose answer is lost after it committed', () => {
  let database: TestDatabase;
  let db: Database;
  let store: EventStore;
  let losing = 0;

  beforeAll(async () => {
    database = await createTestDatabase();
    db = openPostgres(database.url);
    store = await createSqlEventStore(losingAnswers(db, (text) => text.includes('append_batch') && losing-- > 0));
  });
  afterAll(async () => {
    await store?.close();
    await db?.close();
    await database?.drop();
  });

  const stored = async (stream: string) => {
    const events = [];
    for await (const recorded of store.readStream(stream)) events.push(recorded);
    return events;
  };

  it('is settled by its event ids: the caller learns it was written, once, and nothing is appended twice', async () => {
    losing = 1;
    const stream = `lost-${randomUUID()}`;
    const events = [event(), event()];
    const result = await store.append(stream, events, 'no_stream');
    expect(result.nextRevision).toBe(1n);
    expect((await stored(stream)).map((e) => e.id)).toEqual(events.map((e) => e.id));
  });

  it('settles every append of a group commit whose answer was lost, with no duplicate-id error and no false conflict', async () => {
    const streams = Array.from({ length: 8 }, () => `group-${randomUUID()}`);
    // A first append per stream, so that the group's expectations are exact revisions.
    for (const stream of streams) await store.append(stream, [event()], 'no_stream');
    losing = 1;
    const results = await Promise.allSettled(streams.map((stream) => store.append(stream, [event()], 0n)));
    expect(results.map((r) => r.status)).toEqual(streams.map(() => 'fulfilled'));
    for (const stream of streams) expect((await stored(stream)).map((e) => e.revision)).toEqual([0n, 1n]);
  });

  it('recognises events it already holds: appending the same ids again answers where they are, and writes nothing', async () => {
    const stream = `again-${randomUUID()}`;
    const events = [event()];
    const first = await store.append(stream, events, 'no_stream');
    const head = await store.headPosition();
    const again = await store.append(stream, events, 'no_stream');
    expect(again).toEqual({ ...first, recorded: true });
    expect(await store.headPosition()).toBe(head);
  });
});
