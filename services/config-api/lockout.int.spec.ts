import { afterAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '#testing/server.ts';
import { WsClient } from '#testing/ws-client.ts';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const forged = 'forged.token.value';

describe('lockout after repeated failed authentication', () => {
  const servers: TestServer[] = [];
  const clients: WsClient[] = [];
  afterAll(async () => {
    for (const client of clients) client.close();
    for (const server of servers.reverse()) await server.close();
  });
  const start = async (options: Parameters<typeof startTestServer>[0] = {}) => {
    const server = await startTestServer(options);
    servers.push(server);
    return server;
  };
  const wsUrl = (server: TestServer, query = '') => `${server.baseUrl.replace('http', 'ws')}/ws${query}`;

  it('counts failures within the window even when successes come in between', async () => {
    const server = await start();
    const valid = await server.token('honest', ['reader']);
    for (let i = 0; i < 10; i++) {
      expect((await server.call('GET', '/environments', { token: forged })).status).toBe(401);
      if (i < 9) expect((await server.call('GET', '/environments', { token: valid })).status).toBe(200);
    }
    const locked = await server.call('GET', '/environments', { token: valid });
    expect([locked.status, locked.body.code]).toEqual([429, 'LOCKED_OUT']);
  });

  it('lets an admin lift a lockout from the locked address itself, while everyone else there stays refused; recorded', async () => {
    const server = await start();
    const reader = await server.token('honest', ['reader']);
    const admin = await server.token('root', ['admin']);
    for (let i = 0; i < 10; i++) await server.call('GET', '/environments', { token: forged });
    expect((await server.call('GET', '/environments', { token: admin })).body.code).toBe('LOCKED_OUT');
    // Not the way out for anyone but an admin: a reader, or a guess, is refused as locked.
    expect((await server.call('DELETE', '/lockouts/127.0.0.1', { token: reader })).body.code).toBe('LOCKED_OUT');
    expect((await server.call('DELETE', '/lockouts/127.0.0.1', { token: forged })).body.code).toBe('LOCKED_OUT');
    const lifted = await server.call('DELETE', '/lockouts/127.0.0.1?reason=INC-7%20operator%20typo', { token: admin });
    expect(lifted.status).toBe(204);
    expect((await server.call('GET', '/environments', { token: reader })).status).toBe(200);
    const audit = await server.call(
      'GET',
      `/audit?eventType=LockoutLifted&minPosition=${await server.storage.store.headPosition()}`,
      {
        token: admin,
      },
    );
    expect(audit.body.data.entries[0]).toMatchObject({
      actor: 'root',
      reason: 'INC-7 operator typo',
      summary: { address: '127.0.0.1' },
    });
    // An address that is not locked out has nothing to lift: said, and nothing recorded.
    const head = await server.storage.store.headPosition();
    const nothing = await server.call('DELETE', '/lockouts/127.0.0.9', { token: admin });
    expect([nothing.status, nothing.body.code]).toEqual([404, 'NOT_LOCKED_OUT']);
    expect(await server.storage.store.headPosition()).toBe(head);
  });

  it('counts refused WebSocket tokens and refuses the upgrade from a locked address', async () => {
    const server = await start();
    for (let i = 0; i < 5; i++) {
      const client = new WsClient(wsUrl(server, `?token=${forged}`));
      clients.push(client);
      expect((await client.closed).code).toBe(4401);
      const late = new WsClient(wsUrl(server));
      clients.push(late);
      await late.opened();
      late.send({ type: 'connect', data: { token: forged } });
      expect((await late.closed).code).toBe(4401);
    }
    const valid = await server.token('honest', ['reader']);
    const http = await server.call('GET', '/environments', { token: valid });
    expect([http.status, http.body.code]).toEqual([429, 'LOCKED_OUT']);
    const refused = new WsClient(wsUrl(server, `?token=${valid}`));
    clients.push(refused);
    await expect(refused.opened()).rejects.toThrow(/429/);
  });

  it('shares the lockout between instances through Redis', async () => {
    const redis = { url: REDIS_URL, namespace: `lockout-test-${Date.now()}-` };
    const first = await start({ redis });
    const second = await start({ redis, databaseUrl: first.databaseUrl });
    for (let i = 0; i < 10; i++)
      expect((await (i % 2 === 0 ? first : second).call('GET', '/environments', { token: forged })).status).toBe(401);
    const valid = await first.token('honest', ['reader']);
    for (const server of [first, second]) {
      const locked = await server.call('GET', '/environments', { token: valid });
      expect([locked.status, locked.body.code]).toEqual([429, 'LOCKED_OUT']);
    }
  });
});
