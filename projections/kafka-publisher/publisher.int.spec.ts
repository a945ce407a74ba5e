import { execFile } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { promisify } from 'node:util';
import type { KafkaMessage } from 'kafkajs';
import { afterAll, describe, expect, it } from 'vitest';
import { decodeEvent } from '#events/avro/codec.ts';
import { CONFIG_STATE_TOPIC, EVENTS_TOPIC, createKafka } from '#infra/kafka/topics.ts';
import { TEST_BROKERS, consumeUntil, startOwnBroker } from '#testing/kafka.ts';
import { waitFor } from '#testing/wait.ts';
import { startTestServer, type TestServer } from '#testing/server.ts';
import { createTestDatabase } from '#testing/postgres.ts';
import { startTcpProxy } from '#testing/tcp-proxy.ts';
import { openStorage } from '#infra/eventstore/select.ts';
import { migrateReadModels } from '../read-models.ts';
import { createKafkaPublisher } from './publisher.ts';

const run = promisify(execFile);
const unique = () => randomBytes(4).toString('hex');
const decoded = (message: KafkaMessage) => {
  const result = decodeEvent(message);
  if (result.status !== 'decoded') throw new Error(result.reason);
  return result.event;
};

describe('a publisher that starts while its database is away', () => {
  it('reports the failure, counts it, and publishes once the database is back (no unhandled rejection)', async () => {
    const database = await createTestDatabase();
    const proxy = await startTcpProxy('127.0.0.1', 5432);
    const viaProxy = new URL(database.url);
    viaProxy.port = String(proxy.port);
    const storage = await openStorage({ databaseUrl: viaProxy.toString(), dataDir: 'memory://' });
    await migrateReadModels(storage.readModels);
    let failures = 0;
    const warnings: string[] = [];
    const publisher = createKafkaPublisher({
      store: storage.store,
      db: storage.readModels,
      kafka: createKafka(TEST_BROKERS, 'publisher-start-test'),
      readModelsAt: async () => true,
      epoch: () => 0,
      logger: { info: () => undefined, warn: (_details, message) => void warnings.push(message) },
      onFailure: () => void failures++,
    });
    try {
      await proxy.cut();
      await publisher.start();
      await waitFor(() => publisher.status().lastError !== undefined, 10_000, 'the failure to be reported');
      expect(failures).toBeGreaterThan(0);
      await proxy.restore();
      const { position } = await storage.store.append(
        `environment-pub-${unique()}`,
        [
          {
            id: randomUUID(),
            type: 'EnvironmentDefined',
            data: { id: 'late', name: 'late', type: 'custom', inheritsFrom: [] },
            metadata: { actor: 'test', schemaVersion: 1 },
          },
        ],
        'no_stream',
      );
      await waitFor(() => publisher.status().position >= position, 30_000, 'publishing after the database returned');
      expect(publisher.status().lastError).toBeUndefined();
      expect(warnings.length).toBeLessThanOrEqual(2);
    } finally {
      await publisher.stop();
      await storage.close();
      await proxy.close();
      await database.drop();
    }
  }, 60_000);
});

describe('publishing the log to Kafka', () => {
  const servers: TestServer[] = [];
  afterAll(async () => {
    for (const server of servers) await server.close();
  });

  it('sends every event as Avro with its headers and each effective configuration to the compacted topic', async () => {
    const server = await startTestServer({ kafkaBrokers: TEST_BROKERS });
    servers.push(server);
    const token = await server.token('erin', ['admin']);
    const service = `pub-${unique()}`;
    const region = `eu_${unique()}`;
    await server.call('POST', '/environments', { token, body: { id: region, inheritsFrom: ['production'] } });
    await server.call('PUT', `/configurations/${service}`, {
      token,
      body: { configuration: { limit: 1, venue: 'XNYS' } },
    });
    await server.call('PUT', `/configurations/${service}?environment=${region}`, {
      token,
      body: { configuration: { venue: 'XETR' } },
    });
    const last = await server.call('PATCH', `/configurations/${service}`, {
      token,
      body: { patch: { limit: 2 }, changeReason: 'more' },
    });
    expect(last.status).toBe(200);
    await waitFor(
      () => server.app.publisher!.status().position >= BigInt(last.body.data.position),
      30_000,
      'publishing',
    );

    const kafka = createKafka(TEST_BROKERS, 'publisher-test');
    const events = await consumeUntil(
      kafka,
      EVENTS_TOPIC,
      (m) => m.key?.toString().startsWith(`config-${service}-`) ?? false,
      (all) => all.length >= 3,
    );
    const production = events.map(decoded).filter((event) => event.streamName === `config-${service}-production`);
    expect(production.map((event) => [event.type, event.revision, event.data.version])).toEqual([
      ['ConfigurationCreated', 0n, 1],
      ['ConfigurationUpdated', 1n, 2],
    ]);
    expect(production[1]!.metadata).toMatchObject({ actor: 'erin', reason: 'more' });
    for (const message of events) {
      expect(message.headers!['event-id']!.toString()).toBe(decoded(message).id);
      expect(message.headers!['event-type']!.toString()).toBe(decoded(message).type);
    }

    const regionKey = `${service}/${region}`;
    const states = await consumeUntil(
      kafka,
      CONFIG_STATE_TOPIC,
      (m) => m.key?.toString().startsWith(`${service}/`) ?? false,
      (all) =>
        all.some((m) => m.key!.toString() === regionKey && JSON.parse(m.value!.toString()).configuration.limit === 2),
    );
    const regionState = JSON.parse(
      states
        .filter((m) => m.key!.toString() === regionKey)
        .pop()!
        .value!.toString(),
    );
    expect(regionState).toMatchObject({
      serviceId: service,
      environment: region,
      version: 1,
      inheritedFrom: ['production'],
      configuration: { limit: 2, venue: 'XETR' },
    });

    const { stdout } = await run(
      'kcat',
      ['-b', TEST_BROKERS[0]!, '-C', '-t', CONFIG_STATE_TOPIC, '-e', '-q', '-f', '%k\t%s\n'],
      { timeout: 30_000, maxBuffer: 64 * 1024 * 1024 },
    );
    const line = stdout
      .split('\n')
      .filter((row) => row.startsWith(`${service}/production\t`))
      .pop()!;
    expect(JSON.parse(line.split('\t')[1]!)).toMatchObject({ version: 2, configuration: { limit: 2, venue: 'XNYS' } });
    const headers = await run('kcat', ['-b', TEST_BROKERS[0]!, '-C', '-t', EVENTS_TOPIC, '-e', '-q', '-f', '%k %h\n'], {
      timeout: 30_000,
      maxBuffer: 64 * 1024 * 1024,
    });
    expect(headers.stdout).toMatch(new RegExp(`config-${service}-production .*event-type=ConfigurationUpdated`));

    const health = await server.call('GET', '/health');
    expect(health.body.data.dependencies.kafka).toMatchObject({ status: 'up', breaker: 'closed' });
  }, 90_000);

  it('publishes credential operations with ciphertext only: no stored value appears in either topic', async () => {
    const server = await startTestServer({ kafkaBrokers: TEST_BROKERS });
    servers.push(server);
    const token = await server.token('gus', ['admin']);
    const service = `vault-${unique()}`;
    const values = [`api-${unique()}${unique()}`, `rotated-${unique()}${unique()}`];
    await server.call('POST', '/credentials', {
      token,
      body: { key: `${service}-key`, value: values[0], type: 'api_key', serviceId: service, environment: 'production' },
    });
    await server.call('POST', `/credentials/${service}-key/rotate`, { token, body: { value: values[1] } });
    await server.call('PUT', `/configurations/${service}`, {
      token,
      body: { configuration: { apiKey: `\${SECRET:${service}-key}` } },
    });
    const read = await server.call('GET', `/credentials/${service}-key`, { token });
    expect(read.body.data.value).toBe(values[1]);
    const head = await server.storage.store.headPosition();
    await waitFor(() => server.app.publisher!.status().position >= head, 30_000, 'publishing');

    const kafka = createKafka(TEST_BROKERS, 'secret-scan');
    const events = await consumeUntil(
      kafka,
      EVENTS_TOPIC,
      (m) => m.key?.toString().includes(service) ?? false,
      (all) => all.length >= 4,
    );
    const states = await consumeUntil(
      kafka,
      CONFIG_STATE_TOPIC,
      (m) => m.key?.toString().startsWith(`${service}/`) ?? false,
      (all) => all.length >= 1,
    );
    expect(events.map((m) => m.headers!['event-type']!.toString())).toEqual(
      expect.arrayContaining(['CredentialStored', 'CredentialRotated', 'CredentialAccessed', 'ConfigurationCreated']),
    );
    const raw = Buffer.concat(
      [...events, ...states].flatMap((m) => [m.key ?? Buffer.alloc(0), m.value ?? Buffer.alloc(0)]),
    ).toString('latin1');
    for (const value of values) expect(raw).not.toContain(value);
    expect(raw).toContain('ciphertext');
    expect(raw).toContain(`\${SECRET:${service}-key}`);
  }, 90_000);

  it('keeps accepting writes while the broker is down and delivers the whole backlog when it returns', async () => {
    const broker = await startOwnBroker(19192);
    try {
      const server = await startTestServer({ kafkaBrokers: broker.brokers });
      servers.push(server);
      const token = await server.token('fay', ['writer']);
      const service = `outage-${unique()}`;
      const write = async (i: number) => {
        const response = await server.call('PUT', `/configurations/${service}-${i % 5}/counter`, {
          token,
          body: { value: i },
        });
        if (response.status === 404)
          return server.call('PUT', `/configurations/${service}-${i % 5}`, {
            token,
            body: { configuration: { counter: i } },
          });
        return response;
      };
      const publisher = () => server.app.publisher!.status();

      let position = 0;
      for (let i = 0; i < 20; i++) position = (await write(i)).body.data.position;
      await waitFor(() => publisher().position >= BigInt(position), 30_000, 'the first writes to be published');

      await broker.down();
      for (let i = 20; i < 50; i++) {
        const response = await write(i);
        expect(response.status).toBeLessThan(300);
        position = response.body.data.position;
      }
      await waitFor(
        async () => (await server.call('GET', '/health')).body.data.status === 'degraded',
        60_000,
        'health to report Kafka down',
      );
      expect(publisher().position < BigInt(position)).toBe(true);

      await broker.up();
      await waitFor(() => publisher().position >= BigInt(position), 90_000, 'the backlog to drain');

      const kafka = createKafka(broker.brokers, 'outage-test');
      const messages = await consumeUntil(
        kafka,
        EVENTS_TOPIC,
        (m) => m.key?.toString().startsWith(`config-${service}-`) ?? false,
        (all) => new Set(all.map((m) => m.headers!['event-id']!.toString())).size >= 50,
        60_000,
      );
      const events = messages.map(decoded);
      expect(new Set(events.map((event) => event.id)).size).toBe(50);
      for (let stream = 0; stream < 5; stream++) {
        const revisions = [
          ...new Set(
            events.filter((e) => e.streamName === `config-${service}-${stream}-production`).map((e) => e.revision),
          ),
        ];
        expect(revisions).toEqual(revisions.map((_, i) => BigInt(i)));
      }
    } finally {
      await broker.dispose();
    }
  }, 300_000);
});
