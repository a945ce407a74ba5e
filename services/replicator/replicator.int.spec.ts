import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RecordedEvent } from '#infra/eventstore/port.ts';
import { EVENTS_TOPIC, createKafka } from '#infra/kafka/topics.ts';
import { startOwnBroker } from '#testing/kafka.ts';
import { waitFor } from '#testing/wait.ts';
import { startTestServer, type TestServer } from '#testing/server.ts';

async function logOf(server: TestServer) {
  const events: Pick<RecordedEvent, 'id' | 'streamName' | 'revision' | 'type' | 'data' | 'metadata'>[] = [];
  for await (const { id, streamName, revision, type, data, metadata } of server.storage.store.readAll())
    events.push({ id, streamName, revision, type, data, metadata });
  return events.sort((a, b) => a.streamName.localeCompare(b.streamName) || Number(a.revision - b.revision));
}

describe('region replica over Kafka', () => {
  let broker: Awaited<ReturnType<typeof startOwnBroker>>;
  let primary: TestServer;
  const replicas: TestServer[] = [];

  beforeAll(async () => {
    broker = await startOwnBroker(19392);
    primary = await startTestServer({ kafkaBrokers: broker.brokers });
  }, 120_000);
  afterAll(async () => {
    for (const replica of replicas.reverse()) await replica.close().catch(() => undefined);
    await primary?.close();
    await broker?.dispose();
  });

  it('ends with a log identical to the primary, across a replicator killed mid-stream and restarted', async () => {
    const token = await primary.token('ivy', ['admin']);
    const write = (i: number) =>
      primary.call('PUT', `/configurations/replicated-${i % 7}`, {
        token,
        body: { configuration: { n: i } },
        headers: { 'idempotency-key': `write-${i}`, 'user-agent': 'desk-tool/2.1' },
      });
    await primary.call('POST', '/environments', { token, body: { id: 'dr_site', inheritsFrom: ['production'] } });
    for (let i = 0; i < 40; i++) await write(i);

    // Region two: its own database on the same server, following the primary's topic.
    const replicateFrom = { brokers: broker.brokers, groupId: 'configledger-replica-region-two' };
    const first = await startTestServer({ replicateFrom });
    replicas.push(first);
    await waitFor(() => first.app.replicator!.status().appliedEvents > 10, 60_000, 'the replica to start applying');
    await first.app.close();
    // As if the replicator had died before committing anything: the whole topic is delivered again.
    const admin = createKafka(broker.brokers, 'replica-test').admin();
    await admin.connect();
    await admin.resetOffsets({ groupId: replicateFrom.groupId, topic: EVENTS_TOPIC, earliest: true });
    await admin.disconnect();

    for (let i = 40; i < 80; i++) await write(i);
    const second = await startTestServer({ replicateFrom, databaseUrl: first.databaseUrl });
    replicas.push(second);
    const expected = await logOf(primary);
    // The metadata the Avro envelope has no field for travels too.
    expect(
      expected.filter((event) => event.metadata.userAgent === 'desk-tool/2.1' && event.metadata.idempotencyKey),
    ).toHaveLength(80);
    await waitFor(async () => (await logOf(second)).length >= expected.length, 90_000, 'the replica to catch up');
    expect(await logOf(second)).toEqual(expected);
    expect(second.app.replicator!.status().duplicatesSkipped).toBeGreaterThan(10);

    const reader = await second.token('auditor', ['reader']);
    const last = (await primary.call('GET', '/configurations/replicated-3', { token })).body.data;
    const replicaHead = Number(await second.storage.store.headPosition());
    const read = await second.call('GET', `/configurations/replicated-3?minPosition=${replicaHead}`, { token: reader });
    expect(read.body.data).toMatchObject({
      version: last.version,
      checksum: last.checksum,
      configuration: last.configuration,
    });

    const refused = await second.call('PUT', '/configurations/replicated-3', { token, body: { configuration: {} } });
    expect([refused.status, refused.body.code]).toEqual([403, 'READ_ONLY_REPLICA']);
    const health = await second.call('GET', '/health');
    expect(health.body.data.dependencies.replication).toMatchObject({ status: 'up' });
    expect(health.body.data.dependencies.kafka).toBeUndefined();
  }, 300_000);
});
