import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createKafka } from '#infra/kafka/topics.ts';
import { createTestDatabase, type TestDatabase } from '#testing/postgres.ts';
import { startOwnBroker } from '#testing/kafka.ts';
import { startTestServer } from '#testing/server.ts';
import { waitFor } from '#testing/wait.ts';
import { openPostgres } from '#infra/postgres/database.ts';
import { createSqlEventStore } from '#infra/eventstore/postgres.ts';
import { rebuildReadModels } from '#projections/rebuild.ts';
import { createReplicator } from '#services/replicator/replicator.ts';
import { createBackup } from './backup.ts';
import { restoreBackup } from './restore.ts';
import { installKeyRing, localKeyProvider } from '#infra/crypto/key-provider.ts';
import { exportCredentialKeys, importCredentialKeys } from '#services/credentials/vault.ts';

/**
 * The disaster-recovery drill of docs/disaster-recovery.md, end to end: the
 * primary takes traffic, a backup is taken mid-traffic, the primary's database
 * is destroyed, the backup is restored into a new database, the events after
 * the backup are replayed from Kafka, and the API serves again. It prints RTO
 * and RPO (acknowledged writes missing).
 */
/** What a past read answers, but the log position: positions are the log's own (the restore is an event of the new log). */
const pastOf = ({ version, checksum, configuration, updatedAt, updatedBy }: Record<string, unknown>) => ({
  version,
  checksum,
  configuration,
  updatedAt,
  updatedBy,
});

describe('disaster-recovery drill', () => {
  const cleanups: (() => Promise<unknown>)[] = [];
  afterAll(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
  });

  it('restores from backup plus Kafka with no acknowledged write lost, and measures RTO and RPO', async () => {
    const broker = await startOwnBroker(19492);
    cleanups.push(() => broker.dispose());
    const primaryDb = await createTestDatabase('configledger_dr_primary');
    cleanups.push(() => primaryDb.drop());
    const secrets = mkdtempSync(join(tmpdir(), 'configledger-dr-secrets-'));
    const primaryRing = join(secrets, 'primary-ring.json');
    const primary = await startTestServer({
      databaseUrl: primaryDb.url,
      kafkaBrokers: broker.brokers,
      keyFile: primaryRing,
    });
    const token = await primary.token('drill', ['admin']);
    const stored = await primary.call('POST', '/credentials', {
      token,
      body: {
        key: 'dr-db',
        value: 's3cret-dr',
        type: 'database_password',
        serviceId: 'dr-0',
        environment: 'production',
      },
    });
    expect(stored.status).toBe(201);

    // Traffic: every acknowledged write is remembered by stream and version.
    const acknowledged: { serviceId: string; version: number }[] = [];
    let traffic = true;
    const writer = (async () => {
      for (let i = 0; traffic; i++) {
        const serviceId = `dr-${i % 8}`;
        const response = await primary.call('PUT', `/configurations/${serviceId}`, {
          token,
          body: { configuration: { i } },
        });
        if (response.status < 300) acknowledged.push({ serviceId, version: response.body.data.version });
      }
    })();
    await waitFor(() => acknowledged.length >= 60, 30_000, 'traffic');
    const file = join(mkdtempSync(join(tmpdir(), 'configledger-dr-')), 'backup.jsonl.gz');
    const signingKey = 'dr-drill-chain-signing-key-0123456789';
    const passphrase = 'dr-drill keys passphrase';
    const manifest = await createBackup(primary.storage.store, file, {
      chainDb: primary.storage.readModels,
      signingKey,
      source: 'primary',
      keys: {
        passphrase,
        vault: {
          ring: localKeyProvider({ keyFile: primaryRing }).exportRing(),
          credentialKeys: await exportCredentialKeys(primary.storage.readModels),
        },
      },
    });
    expect(manifest.chain).toMatchObject({ intact: true });
    await waitFor(() => acknowledged.length >= manifest.eventCount + 60, 30_000, 'traffic after the backup');
    traffic = false;
    await writer;
    const head = await primary.storage.store.headPosition();
    await waitFor(() => primary.app.publisher!.status().position >= head, 30_000, 'the log to be on Kafka');
    // What the past looked like on the primary: every version at its own instant.
    const past = new Map<string, unknown>();
    for (let i = 0; i < 8; i++) {
      const versions = (await primary.call('GET', `/configurations/dr-${i}/versions?limit=1000`, { token })).body
        .data as { changedAt: string }[];
      for (const { changedAt } of versions)
        past.set(
          `dr-${i}@${changedAt}`,
          pastOf((await primary.call('GET', `/configurations/dr-${i}?asOf=${changedAt}`, { token })).body.data),
        );
    }

    // Disaster: the primary and its database are gone.
    await primary.app.close();
    await primary.storage.close();
    await primaryDb.drop();
    const disaster = performance.now();

    const recoveredDb: TestDatabase = await createTestDatabase('configledger_dr_recovered');
    cleanups.push(() => recoveredDb.drop());
    const db = openPostgres(recoveredDb.url);
    const store = await createSqlEventStore(db);
    const recoveredRing = join(secrets, 'recovered-ring.json');
    const restored = await restoreBackup(file, store, {
      signingKey,
      actor: 'dr-drill',
      keys: {
        passphrase,
        install: async (keys) => {
          await importCredentialKeys(db, keys.credentialKeys);
          installKeyRing(recoveredRing, keys.ring);
        },
      },
    });
    expect(restored).toMatchObject({ keysRestored: true, chainProblems: [] });
    const replicator = createReplicator({
      store,
      kafka: createKafka(broker.brokers, 'dr-drill'),
      groupId: 'configledger-dr-drill',
    });
    await replicator.start();
    await waitFor(
      () => replicator.status().appliedEvents + replicator.status().duplicatesSkipped >= Number(head),
      60_000,
      'the events after the backup',
    );
    await replicator.stop();
    await rebuildReadModels(store, db);
    await store.close();
    await db.close();
    const recovered = await startTestServer({ databaseUrl: recoveredDb.url, keyFile: recoveredRing });
    cleanups.push(() => recovered.close());
    const read = await recovered.call('GET', '/configurations/dr-0', { token });
    const write = await recovered.call('PUT', '/configurations/dr-0/after', { token, body: { value: true } });
    const rtoSeconds = (performance.now() - disaster) / 1000;
    expect([read.status, write.status]).toEqual([200, 200]);
    const credential = await recovered.call('GET', '/credentials/dr-db', { token });
    expect([credential.status, credential.body.data?.value]).toEqual([200, 's3cret-dr']);

    const missing = [];
    for (const { serviceId, version } of acknowledged) {
      const answer = await recovered.call('GET', `/configurations/${serviceId}?version=${version}`, { token });
      if (answer.status !== 200) missing.push({ serviceId, version });
    }
    process.stdout.write(
      `DR drill: ${acknowledged.length} acknowledged writes, backup held ${manifest.eventCount} events (restored ${restored.restored}), ` +
        `${replicator.status().appliedEvents} replayed from Kafka; RTO ${rtoSeconds.toFixed(2)} s, RPO ${missing.length} acknowledged writes lost\n`,
    );
    expect(missing).toEqual([]);
    // The past answers the same after the restore: every event kept its recorded time.
    const differing = [];
    for (const [key, before] of past) {
      const [serviceId, changedAt] = key.split('@') as [string, string];
      const after = pastOf(
        (await recovered.call('GET', `/configurations/${serviceId}?asOf=${changedAt}`, { token })).body.data,
      );
      if (JSON.stringify(after) !== JSON.stringify(before)) differing.push({ key, before, after });
    }
    expect(past.size).toBeGreaterThan(100);
    expect(differing).toEqual([]);
    expect(restored.restored).toBeLessThan(acknowledged.length);
  }, 300_000);
});
