/**
 * The log's own work: building a log of many configurations, rebuilding the
 * read models from it, backing it up and restoring it, and answering asOf for
 * one configuration with 10,000 versions. Prints figures and peak memory.
 *   node --import tsx bench/history.ts      (BENCH_LOG_EVENTS, default 1000000)
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createBackup } from '#services/backup/backup.ts';
import { restoreBackup } from '#services/backup/restore.ts';
import type { EventStore } from '#infra/eventstore/port.ts';
import { createSqlEventStore } from '#infra/eventstore/postgres.ts';
import { openPostgres } from '#infra/postgres/database.ts';
import { createTestDatabase } from '#testing/postgres.ts';
import { rebuildReadModels } from '#projections/rebuild.ts';
import { effectiveAt } from '#services/configuration/effective-at.ts';
import { checksumOf } from '#infra/json/canonical.ts';
import { percentile, round } from './processes.ts';

const LOG_EVENTS = Number(process.env.BENCH_LOG_EVENTS ?? 1_000_000);
const CONFIGURATIONS = 10_000;
const VERSIONS = 10_000;
const WRITERS = 32;

/** Peak resident memory while `work` runs. */
async function measured<T>(work: () => Promise<T>): Promise<{ result: T; seconds: number; peakRssMiB: number }> {
  let peak = process.memoryUsage().rss;
  const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 50);
  const started = performance.now();
  try {
    const result = await work();
    return {
      result,
      seconds: (performance.now() - started) / 1000,
      peakRssMiB: Math.round(Math.max(peak, process.memoryUsage().rss) / 2 ** 20),
    };
  } finally {
    clearInterval(sampler);
  }
}

const changeEvent = (serviceId: string, version: number, at: number) => {
  const configuration = { limit: at, venue: 'XNYS', feed: { depth: 10 } };
  return {
    id: randomUUID(),
    type: version === 1 ? 'ConfigurationCreated' : 'ConfigurationUpdated',
    data: {
      serviceId,
      environment: 'production',
      version,
      configuration,
      checksum: checksumOf(configuration),
      changedKeys: ['limit'],
      changes: [{ path: 'limit', oldValue: at - 1, newValue: at }],
      operation: version === 1 ? 'create' : 'patch',
    },
    metadata: { actor: 'bench', correlationId: 'bench', schemaVersion: 1, occurredAt: new Date().toISOString() },
  };
};

/** `count` events over `streams` configurations; each writer owns its streams, so versions stay in order. */
async function buildLog(store: EventStore, count: number, streams: number): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: WRITERS }, async (_, writer) => {
      const versions = new Map<number, number>();
      for (;;) {
        const index = next++;
        if (index >= count) return;
        const stream = (index % streams) - ((index % streams) % WRITERS) + writer;
        if (stream >= streams) continue;
        const version = (versions.get(stream) ?? 0) + 1;
        versions.set(stream, version);
        await store.append(`config-svc-${stream}-production`, [changeEvent(`svc-${stream}`, version, index)], 'any');
      }
    }),
  );
}

export async function benchHistory() {
  const source = await createTestDatabase('configledger_bench_log');
  const target = await createTestDatabase('configledger_bench_restore');
  const dir = mkdtempSync(join(tmpdir(), 'configledger-bench-backup-'));
  const sourceDb = openPostgres(source.url, { max: WRITERS + 4 });
  const targetDb = openPostgres(target.url, { max: 8 });
  try {
    const store = await createSqlEventStore(sourceDb);
    process.stderr.write(
      `  history: building a log of ${LOG_EVENTS} events over ${CONFIGURATIONS} configurations...\n`,
    );
    const build = await measured(() => buildLog(store, LOG_EVENTS, CONFIGURATIONS));
    process.stderr.write('  history: rebuilding the read models from the log...\n');
    const rebuild = await measured(() => rebuildReadModels(store, sourceDb));
    const file = join(dir, 'log.jsonl.gz');
    process.stderr.write('  history: backup and restore...\n');
    const signingKey = 'bench-chain-signing-key-0123456789abcdef';
    const backup = await measured(() => createBackup(store, file, { chainDb: sourceDb, signingKey, source: 'bench' }));
    const targetStore = await createSqlEventStore(targetDb);
    const restore = await measured(() => restoreBackup(file, targetStore, { signingKey, actor: 'bench' }));

    process.stderr.write(`  history: one configuration with ${VERSIONS} versions, asOf...\n`);
    const times: Date[] = [];
    for (let version = 1; version <= VERSIONS; version += 500) {
      await Promise.all(
        Array.from({ length: 500 }, (_, offset) =>
          store.append('config-deep-production', [changeEvent('deep', version + offset, version + offset)], 'any'),
        ),
      );
      times.push(new Date());
    }
    const latencies: number[] = [];
    for (let i = 0; i < 300; i++) {
      const asOf = times[Math.floor(Math.random() * times.length)]!;
      const started = performance.now();
      await effectiveAt(store, 'deep', 'production', { asOf });
      latencies.push(performance.now() - started);
    }
    latencies.sort((a, b) => a - b);
    await targetStore.close();
    await store.close();
    return {
      logEvents: LOG_EVENTS,
      configurations: CONFIGURATIONS,
      build: { appendsPerSecond: Math.round(LOG_EVENTS / build.seconds), peakRssMiB: build.peakRssMiB },
      rebuild: {
        eventsPerSecond: Math.round(rebuild.result.events / rebuild.seconds),
        seconds: round(rebuild.seconds),
        peakRssMiB: rebuild.peakRssMiB,
      },
      backup: {
        eventsPerSecond: Math.round(backup.result.eventCount / backup.seconds),
        bytes: statSync(file).size,
        peakRssMiB: backup.peakRssMiB,
      },
      restore: {
        eventsPerSecond: Math.round(restore.result.restored / restore.seconds),
        peakRssMiB: restore.peakRssMiB,
      },
      asOf: { versions: VERSIONS, p50: round(percentile(latencies, 50)), p99: round(percentile(latencies, 99)) },
    };
  } finally {
    await sourceDb.close();
    await targetDb.close();
    await source.drop();
    await target.drop();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  process.stdout.write(`${JSON.stringify(await benchHistory(), null, 2)}\n`);
}
