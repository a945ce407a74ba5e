import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createBackup } from '#services/backup/backup.ts';
import { restoreBackup } from '#services/backup/restore.ts';
import { createSqlEventStore } from '#infra/eventstore/postgres.ts';
import { openPostgres } from '#infra/postgres/database.ts';
import { createTestDatabase } from '#testing/postgres.ts';
import { startTcpProxy } from '#testing/tcp-proxy.ts';
import { afterAll, describe, expect, it } from 'vitest';
import { TEST_BROKERS, startOwnBroker } from '#testing/kafka.ts';
import { waitFor } from '#testing/wait.ts';
import { startTestServer, type TestServer } from '#testing/server.ts';
import { createConfigClient, type ConfigChange, type ConfigClient } from '#services/config-client/index.ts';

const unique = () => `sdk-${randomBytes(3).toString('hex')}`;

describe('the client SDK', () => {
  const servers: TestServer[] = [];
  const clients: ConfigClient[] = [];
  afterAll(async () => {
    for (const client of clients) await client.close();
    for (const server of servers) await server.close();
  });

  async function scenario(
    server: TestServer,
    connect: (serviceId: string, token: string) => Promise<ConfigClient>,
    serviceId = unique(),
  ) {
    const token = await server.token('hal', ['writer']);
    const first = await server.call('PUT', `/configurations/${serviceId}`, {
      token,
      body: { configuration: { risk: { maxPosition: 100 }, venue: 'XNYS' } },
    });
    // The client bootstraps from what is already published (Kafka) or readable (HTTP).
    const written = BigInt(first.body.data.position);
    await server.app.ctx.readModels.runner.waitFor(written, 5_000, 'seen');
    await waitFor(() => (server.app.publisher?.status().position ?? written) >= written, 30_000, 'publish');

    const client = await connect(serviceId, token);
    clients.push(client);
    expect(client.version).toBe(1);
    expect(client.get('risk.maxPosition', 0)).toBe(100);
    expect(client.get('risk.maxPosition', 'wrong type')).toBe('wrong type');
    expect(client.get('missing.key', 7)).toBe(7);

    const changes: ConfigChange[] = [];
    client.onChange((change) => changes.push(change));
    await server.call('PATCH', `/configurations/${serviceId}`, {
      token,
      body: { patch: { risk: { maxPosition: 250 } } },
    });
    await waitFor(() => client.version === 2, 20_000, 'the update');
    expect(changes).toEqual([
      expect.objectContaining({
        version: 2,
        previousVersion: 1,
        changedKeys: ['risk.maxPosition'],
        changes: [{ path: 'risk.maxPosition', oldValue: 100, newValue: 250 }],
      }),
    ]);
    expect(client.getAll()).toEqual({ risk: { maxPosition: 250 }, venue: 'XNYS' });
    return { client, changes, serviceId, token };
  }

  it('bootstraps from the compacted topic and applies each change over Kafka', async () => {
    const server = await startTestServer({ kafkaBrokers: TEST_BROKERS });
    servers.push(server);
    await scenario(server, (serviceId) =>
      createConfigClient({ serviceId, environment: 'production', brokers: TEST_BROKERS }),
    );
  }, 60_000);

  it('offers the same interface over WebSocket and resumes after the connection drops', async () => {
    const server = await startTestServer();
    servers.push(server);
    const { client, changes, serviceId, token } = await scenario(server, (serviceId, token) =>
      createConfigClient({ serviceId, environment: 'production', url: server.baseUrl, token }),
    );
    // Drop every socket on the server side; the client reconnects and resumes from its position.
    for (const socket of server.app.websocketServer.clients) socket.terminate();
    for (const value of [1, 2, 3])
      await server.call('PUT', `/configurations/${serviceId}/venue`, { token, body: { value: `X${value}` } });
    await waitFor(() => client.version === 5, 20_000, 'the missed updates');
    expect(client.get<string>('venue', '')).toBe('X3');
    const versions = changes.map((change) => change.version);
    expect(versions).toEqual([...new Set(versions)].sort((a, b) => a - b));
  }, 60_000);

  it('authenticates over WebSocket with the service token a trading service is given', async () => {
    const server = await startTestServer();
    servers.push(server);
    const admin = await server.token('root', ['admin']);
    const serviceId = unique();
    const issued = await server.call('POST', '/service-tokens', { token: admin, body: { serviceId } });
    const { client } = await scenario(
      server,
      () =>
        createConfigClient({
          serviceId,
          environment: 'production',
          url: server.baseUrl,
          token: issued.body.data.token,
        }),
      serviceId,
    );
    expect(client.get('venue', '')).toBe('XNYS');

    // Revoked: the client stops and says so, keeps its last copy, and does not lock the host out by knocking again.
    const failures: Error[] = [];
    client.onFailure((error) => failures.push(error));
    await server.call('DELETE', `/service-tokens/${issued.body.data.id}`, { token: admin });
    await waitFor(() => failures.length === 1, 5_000, 'the client to notice');
    expect(client.failure?.message).toMatch(/revoked or expired/);
    expect(client.get('venue', '')).toBe('XNYS');
    for (let i = 0; i < 12; i++) {
      expect(
        (
          await server.call('GET', `/configurations/${serviceId}`, {
            headers: { 'x-service-token': issued.body.data.token },
          })
        ).status,
      ).toBe(401);
    }
    expect((await server.call('GET', `/configurations/${serviceId}`, { token: admin })).status).toBe(200);
  }, 60_000);

  it('survives a broker restart without losing an update or applying one twice', async () => {
    const broker = await startOwnBroker(19292);
    try {
      const server = await startTestServer({ kafkaBrokers: broker.brokers });
      servers.push(server);
      const { client, changes, serviceId, token } = await scenario(server, (serviceId) =>
        createConfigClient({ serviceId, environment: 'production', brokers: broker.brokers }),
      );
      await broker.down();
      for (const value of [1, 2, 3])
        await server.call('PUT', `/configurations/${serviceId}/venue`, { token, body: { value: `V${value}` } });
      await broker.up();
      await waitFor(
        () => client.get<string>('venue', '') === 'V3',
        90_000,
        'the updates made while the broker was down',
      );
      const versions = changes.map((change) => change.version);
      expect(new Set(versions).size).toBe(versions.length);
      expect(versions).toEqual([...versions].sort((a, b) => a - b));
      expect(client.version).toBe(5);
    } finally {
      await broker.dispose();
    }
  }, 240_000);
});

describe('the client SDK across a restored log', () => {
  const cleanups: (() => Promise<unknown>)[] = [];
  afterAll(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
  });

  it('takes the restored log for newer although its positions restarted lower, and follows it on', async () => {
    const primary = await startTestServer();
    cleanups.push(() => primary.close());
    const token = await primary.token('hal', ['admin']);
    const serviceId = unique();
    const written: { version: number; position: number }[] = [];
    for (let version = 1; version <= 20; version++) {
      const answer = await primary.call('PUT', `/configurations/${serviceId}`, {
        token,
        body: { configuration: { version } },
      });
      written.push({ version, position: answer.body.data.position });
    }
    const address = primary.app.server.address() as AddressInfo;
    const proxy = await startTcpProxy('127.0.0.1', address.port);
    cleanups.push(() => proxy.close());
    const client = await createConfigClient({
      serviceId,
      environment: 'production',
      url: `http://127.0.0.1:${proxy.port}/api/v1`,
      token,
    });
    cleanups.push(() => client.close());
    await waitFor(() => client.version === 20, 10_000, 'the client to hold version 20');
    expect(client.epoch).toBe(0);

    // Disaster: the log is restored from a backup, up to version 3; positions restart from there.
    const file = join(mkdtempSync(join(tmpdir(), 'configledger-epoch-')), 'log.jsonl.gz');
    const signingKey = 'epoch-test-chain-signing-key-0123456789';
    await createBackup(primary.storage.store, file, {
      chainDb: primary.storage.readModels,
      signingKey,
      source: 'primary',
    });
    const target = await createTestDatabase('configledger_epoch');
    cleanups.push(() => target.drop());
    const db = openPostgres(target.url);
    const store = await createSqlEventStore(db);
    const restored = await restoreBackup(file, store, {
      signingKey,
      actor: 'test',
      toPosition: BigInt(written[2]!.position),
    });
    await store.close();
    await db.close();
    const recovered = await startTestServer({ databaseUrl: target.url });
    cleanups.push(() => recovered.close());
    proxy.retarget((recovered.app.server.address() as AddressInfo).port);
    proxy.reset();

    await waitFor(() => client.epoch === restored.epoch, 20_000, 'the client to take the restored log');
    expect([client.version, client.getAll()]).toEqual([3, { version: 3 }]);
    const next = await recovered.call('PUT', `/configurations/${serviceId}`, {
      token,
      body: { configuration: { version: 'after the restore' } },
    });
    expect(next.body.data.position).toBeLessThan(written[19]!.position);
    await waitFor(() => client.version === 4, 10_000, 'an update of the restored log, at a lower position');
    expect(client.get('version', '')).toBe('after the restore');
  }, 60_000);
});

describe('the SDK as a package a trading service installs', () => {
  it('runs the example, which depends on @configledger/client, and prints each change as it happens', async () => {
    const server = await startTestServer();
    const token = await server.token('trader', ['reader']);
    const admin = await server.token('ops', ['admin']);
    const serviceId = unique();
    await server.call('PUT', `/configurations/${serviceId}`, {
      token: admin,
      body: { configuration: { venue: 'XNYS' } },
    });
    const example = spawn(
      process.execPath,
      ['--import', 'tsx', 'services/config-client-example/example.ts', serviceId, 'production'],
      {
        env: { ...process.env, KAFKA_BROKERS: '', CONFIGLEDGER_URL: server.baseUrl, CONFIGLEDGER_TOKEN: token },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let output = '';
    example.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    example.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    try {
      await waitFor(() => output.includes('version 1 via WebSocket: {"venue":"XNYS"}'), 20_000, 'the example to start');
      await server.call('PUT', `/configurations/${serviceId}/venue`, { token: admin, body: { value: 'XNAS' } });
      await waitFor(
        () => output.includes('venue: "XNYS" -> "XNAS"'),
        20_000,
        `the change in the example's output:\n${output}`,
      );
    } finally {
      example.kill('SIGINT');
      await server.close();
    }
  }, 60_000);
});
