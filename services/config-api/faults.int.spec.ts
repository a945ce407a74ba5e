import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configurationStream } from '#events/configuration.ts';
import { createTestDatabase, type TestDatabase } from '#testing/postgres.ts';
import { startTcpProxy } from '#testing/tcp-proxy.ts';
import { startTestServer, type TestServer } from '#testing/server.ts';
import { waitFor } from '#testing/wait.ts';

describe('when PostgreSQL is cut off or slow (through a TCP proxy)', () => {
  let database: TestDatabase;
  let proxy: Awaited<ReturnType<typeof startTcpProxy>>;
  let server: TestServer;
  let token: string;

  beforeAll(async () => {
    database = await createTestDatabase();
    proxy = await startTcpProxy('127.0.0.1', 5432);
    const viaProxy = new URL(database.url);
    viaProxy.port = String(proxy.port);
    server = await startTestServer({ databaseUrl: viaProxy.toString() });
    token = await server.token('fay', ['writer']);
  });
  afterAll(async () => {
    await proxy?.restore();
    await server?.close();
    await proxy?.close();
    await database?.drop();
  });

  it('keeps serving cached reads marked stale, fails writes fast with 503 STORE_UNAVAILABLE, and loses or doubles nothing', async () => {
    const first = await server.call('PUT', '/configurations/fragile', { token, body: { configuration: { limit: 1 } } });
    await server.call('GET', `/configurations/fragile?minPosition=${first.body.data.position}`, { token });

    await proxy.cut();
    await waitFor(
      () => server.app.ctx.readModels.runner.unhealthySince !== undefined,
      10_000,
      'the read side to notice',
    );
    const read = await server.call('GET', '/configurations/fragile', { token });
    expect(read.status).toBe(200);
    expect(read.body.data.configuration).toEqual({ limit: 1 });
    expect(read.headers.get('x-configuration-stale')).toBe('true');
    expect(Number(read.headers.get('x-configuration-age'))).toBeGreaterThanOrEqual(0);

    for (let i = 0; i < 3; i++) {
      const started = Date.now();
      const write = await server.call('PUT', '/configurations/fragile/limit', { token, body: { value: 100 + i } });
      expect([write.status, write.body.code]).toEqual([503, 'STORE_UNAVAILABLE']);
      expect(Date.now() - started).toBeLessThan(3000);
    }
    const health = await server.call('GET', '/health');
    expect(health.status).toBe(503);

    await proxy.restore();
    await waitFor(async () => (await server.call('GET', '/health')).status === 200, 20_000, 'recovery');
    const after = await server.call('PUT', '/configurations/fragile/limit', { token, body: { value: 2 } });
    expect(after.status).toBe(200);
    expect(after.body.data.version).toBe(2);
    const fresh = await server.call('GET', `/configurations/fragile?minPosition=${after.body.data.position}`, {
      token,
    });
    expect(fresh.headers.get('x-configuration-stale')).toBeNull();
    const events = [];
    for await (const event of server.storage.store.readStream(configurationStream('fragile', 'production')))
      events.push(event);
    expect(events.map((event) => event.data.version)).toEqual([1, 2]);
  }, 60_000);

  it('survives a cut in the middle of concurrent writes and their projection, then takes writes again', async () => {
    let writing = true;
    const statuses = new Map<number, number>();
    const writers = Array.from({ length: 8 }, async (_, w) => {
      for (let i = 0; writing; i++) {
        const response = await server.call('PUT', `/configurations/busy-${w}`, {
          token,
          body: { configuration: { i } },
        });
        statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1);
      }
    });
    await new Promise((resolve) => setTimeout(resolve, 300));
    await proxy.cut();
    await new Promise((resolve) => setTimeout(resolve, 1500));
    await proxy.restore();
    await waitFor(async () => (await server.call('GET', '/health')).status === 200, 20_000, 'recovery');
    writing = false;
    await Promise.all(writers);
    expect([...statuses.keys()].every((status) => [200, 201, 503].includes(status))).toBe(true);
    expect(statuses.get(503) ?? 0).toBeGreaterThan(0);
    const after = await server.call('PUT', '/configurations/busy-0/after', { token, body: { value: true } });
    expect(after.status).toBe(200);
  }, 60_000);

  it('answers correctly, only slower, when the database is slow', async () => {
    proxy.slow(50);
    try {
      const started = Date.now();
      const write = await server.call('PUT', '/configurations/sluggish', { token, body: { configuration: { a: 1 } } });
      expect(write.status).toBe(201);
      expect(Date.now() - started).toBeGreaterThanOrEqual(50);
      // Every round trip is slower, the read models too: a read that asks for the write may have to ask again.
      let read = await server.call('GET', `/configurations/sluggish?minPosition=${write.body.data.position}`, {
        token,
      });
      await waitFor(
        async () => {
          read = await server.call('GET', `/configurations/sluggish?minPosition=${write.body.data.position}`, {
            token,
          });
          return read.status === 200;
        },
        20_000,
        'the read',
      );
      expect(read.body.data.configuration).toEqual({ a: 1 });
    } finally {
      proxy.slow(0);
    }
  }, 30_000);
});
