import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '#testing/postgres.ts';
import { openPostgres } from '#infra/postgres/database.ts';
import { createSqlEventStore } from './postgres.ts';

const items = (count: number) =>
  JSON.stringify(
    Array.from({ length: count }, (_, i) => ({
      stream: `config-plan-${i % 50}-production`,
      expected: '-1',
      events: [{ id: randomUUID(), type: 'ConfigurationUpdated', data: { n: i }, metadata: { actor: 'test' } }],
    })),
  );

/**
 * A session that appended while the log was small must not keep a plan made
 * for a small log: with autovacuum off (or behind), nothing else would make it
 * plan again, and every append would scan the whole log.
 */
describe('the append on a growing log', () => {
  let database: TestDatabase;
  beforeAll(async () => {
    database = await createTestDatabase();
    const db = openPostgres(database.url);
    await createSqlEventStore(db);
    await db.close();
  });
  afterAll(async () => database?.drop());

  it('finds events by id through the index however small the log was when the session first appended', async () => {
    const session = new pg.Client({ connectionString: database.url });
    await session.connect();
    try {
      // Plans get cached while the log is nearly empty...
      for (let i = 0; i < 10; i++) await session.query('SELECT * FROM append_batch($1::jsonb)', [items(1)]);
      // ...then it grows (no ANALYZE runs in between, as with autovacuum off).
      const other = new pg.Client({ connectionString: database.url });
      await other.connect();
      for (let i = 0; i < 10; i++) await other.query('SELECT * FROM append_batch($1::jsonb)', [items(1000)]);
      await other.end();

      const plans: string[] = [];
      session.on('notice', (notice) => plans.push(String(notice.message)));
      await session.query("LOAD 'auto_explain'");
      await session.query(
        'SET auto_explain.log_min_duration = 0; SET auto_explain.log_nested_statements = on; SET client_min_messages = log',
      );
      await session.query('SELECT * FROM append_batch($1::jsonb)', [items(1)]);
      const lookup = plans.find((plan) => plan.includes('event_id'));
      expect(lookup, plans.join('\n---\n')).toBeDefined();
      expect(lookup).toContain('Index');
      expect(lookup).not.toMatch(/Seq Scan on events/);
    } finally {
      await session.end();
    }
  });
});
