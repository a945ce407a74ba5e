import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TEST_BROKERS } from '#testing/kafka.ts';
import { startTestServer, type TestServer } from '#testing/server.ts';
import { waitFor } from '#testing/wait.ts';

const run = promisify(execFile);
const addFormats = addFormatsModule as unknown as (ajv: Ajv2020) => void;

interface Line {
  topic: 'events' | 'state';
  key: string;
  schemaFile?: string;
  eventId?: string;
  eventType?: string;
  position?: number;
  data?: Record<string, unknown>;
  value?: Record<string, unknown> | null;
}

/**
 * A consumer in another language reads the same truth: a small Java program
 * built with the reference Kafka client and Apache Avro decodes every event
 * with the .avsc files in events/avro and reads the state topic, and what it
 * reads agrees with the log and with HTTP.
 */
describe('a Java consumer of both topics', () => {
  let server: TestServer;
  let classpath: string;
  const service = `java-${randomBytes(3).toString('hex')}`;

  beforeAll(async () => {
    classpath = (await run('infra/kafka/java-consumer/build.sh', [], { timeout: 300_000 })).stdout.trim();
    server = await startTestServer({ kafkaBrokers: TEST_BROKERS });
  }, 300_000);
  afterAll(async () => server?.close());

  it('decodes every event with the .avsc files and reads the effective configurations HTTP answers', async () => {
    const admin = await server.token('root', ['admin']);
    const region = `jv_${randomBytes(2).toString('hex')}`;
    await server.call('POST', '/environments', { token: admin, body: { id: region, inheritsFrom: ['production'] } });
    await server.call('PUT', `/configurations/${service}`, {
      token: admin,
      body: { configuration: { risk: { max: 1 }, venue: 'XNYS' } },
    });
    await server.call('PUT', `/configurations/${service}?environment=${region}`, {
      token: admin,
      body: { configuration: { venue: 'XETR' } },
    });
    const last = await server.call('PATCH', `/configurations/${service}`, {
      token: admin,
      body: { patch: { risk: { max: 2 } }, changeReason: 'desk request' },
    });
    await waitFor(
      () => server.app.publisher!.status().position >= BigInt(last.body.data.position),
      30_000,
      'publishing',
    );

    const { stdout } = await run(
      'java',
      [
        '-cp',
        classpath,
        'ConfigledgerConsumer',
        TEST_BROKERS.join(','),
        'events/avro',
        `config-${service}-,${service}/`,
      ],
      {
        timeout: 120_000,
        maxBuffer: 64 * 1024 * 1024,
      },
    );
    const lines = stdout
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as Line);

    const logged = [];
    for await (const event of server.storage.store.readAll({ filter: { streamPrefixes: [`config-${service}-`] } }))
      logged.push(event);
    // Ordered per stream on the topic (a stream is a partition key); across streams, by position.
    const decoded = lines.filter((line) => line.topic === 'events').sort((a, b) => a.position! - b.position!);
    expect(decoded.map((line) => [line.eventId, line.eventType, line.position])).toEqual(
      logged.map((event) => [event.id, event.type, Number(event.position)]),
    );
    for (const [index, line] of decoded.entries()) {
      expect(line.schemaFile).toBe(`${logged[index]!.type}.v${logged[index]!.metadata.schemaVersion}.avsc`);
      expect(JSON.parse(String(line.data!.configurationJson))).toEqual(logged[index]!.data.configuration);
    }

    const validate = new Ajv2020({ strict: false });
    addFormats(validate);
    const isState = validate.compile(JSON.parse(readFileSync('events/config-state.schema.json', 'utf8')));
    for (const environment of ['production', region]) {
      const http = (await server.call('GET', `/configurations/${service}?environment=${environment}`, { token: admin }))
        .body.data;
      const states = lines.filter((line) => line.topic === 'state' && line.key === `${service}/${environment}`);
      const newest = states.at(-1)!.value!;
      expect(isState(newest), JSON.stringify(isState.errors)).toBe(true);
      expect([newest.configuration, newest.checksum, newest.position]).toEqual([
        http.configuration,
        http.checksum,
        http.position,
      ]);
    }
  }, 180_000);
});
