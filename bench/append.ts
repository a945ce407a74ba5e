/**
 * The PostgreSQL event store alone: appends/s with concurrent writers, each
 * append one ~250-byte event to its writer's stream, durable commit.
 */
import { randomUUID } from 'node:crypto';
import { openPostgres } from '#infra/postgres/database.ts';
import { createSqlEventStore } from '#infra/eventstore/postgres.ts';
import { createTestDatabase } from '#testing/postgres.ts';

const APPENDS = Number(process.env.BENCH_APPENDS ?? 20_000);

export async function benchAppends(writers: number): Promise<{ writers: number; appendsPerSecond: number }> {
  const database = await createTestDatabase('configledger_bench_append');
  const db = openPostgres(database.url, { max: writers });
  const store = await createSqlEventStore(db);
  try {
    let started = 0;
    const begin = performance.now();
    await Promise.all(
      Array.from({ length: writers }, async (_, writer) => {
        while (started++ < APPENDS) {
          await store.append(
            `bench-${writer}`,
            [
              {
                id: randomUUID(),
                type: 'BenchEvent',
                data: { payload: 'x'.repeat(200), writer },
                metadata: { actor: 'bench' },
              },
            ],
            'any',
          );
        }
      }),
    );
    return { writers, appendsPerSecond: Math.round(APPENDS / ((performance.now() - begin) / 1000)) };
  } finally {
    await store.close();
    await db.close();
    await database.drop();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  for (const writers of [1, 8, 32]) {
    const result = await benchAppends(writers);
    process.stdout.write(
      `event store append, ${String(result.writers).padStart(2)} writers: ${result.appendsPerSecond} appends/s\n`,
    );
  }
}
