import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { type Message, WsClient as Client } from '#testing/ws-client.ts';
import { startTestServer, type TestServer } from '#testing/server.ts';

const changed = (serviceId: string) => (m: Message) =>
  m.type === 'configuration_changed' && m.data.serviceId === serviceId;

describe('WebSocket push at /api/v1/ws', () => {
  let server: TestServer;
  let token: string;
  const clients: Client[] = [];
  const unique = () => `ws-${randomBytes(3).toString('hex')}`;

  beforeAll(async () => {
    server = await startTestServer({
      websocket: {
        ackTimeoutMs: 300,
        maxAttempts: 2,
        authTimeoutMs: 300,
        maxBufferedBytes: 256 * 1024,
        recentPushes: 10,
      },
    });
    token = await server.token('gail', ['writer']);
  });
  afterAll(async () => {
    for (const client of clients) client.close();
    await server?.close();
  });

  const wsUrl = (query = '') => `${server.baseUrl.replace('http', 'ws')}/ws${query}`;
  async function connect(query = `?token=${token}`) {
    const client = new Client(wsUrl(query));
    clients.push(client);
    await client.opened();
    return client;
  }
  const write = async (serviceId: string, value: unknown, environment = 'production') => {
    const response = await server.call('PUT', `/configurations/${serviceId}?environment=${environment}`, {
      token,
      body: { configuration: { value } },
    });
    expect(response.status).toBeLessThan(300);
    return response.body.data as { version: number; position: number };
  };

  it('welcomes, subscribes and pushes each change with its version, changes and author', async () => {
    const service = unique();
    const client = await connect();
    const welcome = await client.next((m) => m.type === 'connect');
    expect(welcome.data).toMatchObject({ subject: 'gail' });
    expect(welcome.data.connectionId).toMatch(/^[0-9a-f-]{36}$/);
    client.send({ id: 's1', type: 'subscribe', data: { patterns: [`config.${service}.production`] } });
    expect((await client.next((m) => m.type === 'ack')).data).toMatchObject({ requestId: 's1', subscribed: true });

    await write(service, 1);
    await write(service, 2, 'staging');
    await write(service, 3);
    const first = await client.next(changed(service));
    expect(first).toMatchObject({
      acknowledgmentRequired: true,
      data: { environment: 'production', version: 1, changedBy: 'gail', changedKeys: ['value'] },
    });
    client.send({ type: 'ack', data: { messageId: first.id } });
    const second = await client.next(changed(service));
    expect(second.data).toMatchObject({ version: 2, changes: [{ path: 'value', oldValue: 1, newValue: 3 }] });
    client.send({ type: 'ack', data: { messageId: second.id } });
  });

  it('matches wildcard patterns and stops after unsubscribe', async () => {
    const [a, b] = [unique(), unique()];
    const client = await connect();
    client.send({ type: 'subscribe', data: { patterns: [`config.${a}.*`] } });
    await client.next((m) => m.type === 'ack');
    await write(b, 1);
    await write(a, 1, 'development');
    expect((await client.next((m) => m.type === 'configuration_changed')).data).toMatchObject({
      serviceId: a,
      environment: 'development',
    });
    client.send({ type: 'unsubscribe', data: { patterns: [`config.${a}.*`] } });
    await client.next((m) => m.type === 'ack' && m.data.subscribed === false);
    client.send({ type: 'subscribe', data: { patterns: ['config.*.*'] } });
    await client.next((m) => m.type === 'ack');
    await write(b, 2);
    expect((await client.next((m) => m.type === 'configuration_changed')).data).toMatchObject({
      serviceId: b,
      version: 2,
    });
  });

  it('resumes a reconnecting client from the position it last saw: every missed change, in order, then live ones', async () => {
    const service = unique();
    const first = await connect();
    first.send({ type: 'subscribe', data: { patterns: [`config.${service}.production`] } });
    await first.next((m) => m.type === 'ack');
    await write(service, 'a');
    const seen = await first.next(changed(service));
    first.close();
    await first.closed;

    for (const value of ['b', 'c', 'd']) await write(service, value);
    const second = await connect();
    second.send({
      type: 'subscribe',
      data: { patterns: [`config.${service}.production`], fromPosition: seen.data.position },
    });
    const missed = [
      await second.next(changed(service)),
      await second.next(changed(service)),
      await second.next(changed(service)),
    ];
    expect(missed.map((m) => m.data.version)).toEqual([2, 3, 4]);
    await write(service, 'e');
    expect((await second.next(changed(service))).data.version).toBe(5);
  });

  it('replays what a newly added pattern missed, on a connection that already has a subscription', async () => {
    const [held, added] = [unique(), unique()];
    const client = await connect();
    client.send({ type: 'subscribe', data: { patterns: [`config.${held}.production`] } });
    await client.next((m) => m.type === 'ack');
    const since = (await write(held, 'a')).position;
    await client.next(changed(held));
    await write(added, 1);
    await write(added, 2);
    await write(held, 'b');
    await client.next(changed(held));
    client.send({ type: 'subscribe', data: { patterns: [`config.${added}.production`], fromPosition: since } });
    const missed = [await client.next(changed(added)), await client.next(changed(added))];
    expect(missed.map((m) => m.data.version)).toEqual([1, 2]);
    expect(missed[1]!.data.configuration).toEqual({ value: 2 });
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(client.messages.filter(changed(held))).toEqual([]);
  });

  it('says RESUME_TOO_OLD to a client resuming from further back than it keeps, which then reads the current document', async () => {
    const service = unique();
    const client = await connect();
    const first = await write(service, 0);
    for (let i = 1; i <= 12; i++) await write(service, i);
    client.send({
      id: 'old',
      type: 'subscribe',
      data: { patterns: [`config.${service}.*`], fromPosition: first.position - 1 },
    });
    const refused = await client.next((m) => m.type === 'error');
    expect(refused.data).toMatchObject({ code: 'RESUME_TOO_OLD', requestId: 'old' });
    expect(refused.data.oldestPosition).toBeGreaterThan(first.position - 1);
  });

  it('authenticates by a first connect message, and closes on a bad token or none', async () => {
    const late = await connect('');
    late.send({ type: 'connect', data: { token } });
    expect((await late.next((m) => m.type === 'connect')).data.subject).toBe('gail');

    const forged = await connect('?token=not-a-token');
    expect((await forged.closed).code).toBe(4401);
    const silent = await connect('');
    expect(await silent.closed).toMatchObject({ code: 4401 });
  });

  it('answers invalid messages with an error and keeps the connection', async () => {
    const client = await connect();
    await client.next((m) => m.type === 'connect');
    client.socket.send('{ not json');
    expect((await client.next((m) => m.type === 'error')).data.code).toBe('INVALID_JSON');
    client.send({ type: 'teleport' });
    expect((await client.next((m) => m.type === 'error')).data.code).toBe('UNKNOWN_MESSAGE_TYPE');
    client.send({ type: 'subscribe', data: { patterns: ['secrets.*'] } });
    expect((await client.next((m) => m.type === 'error')).data.code).toBe('INVALID_MESSAGE');
    client.send({ type: 'heartbeat' });
    expect(await client.next((m) => m.type === 'heartbeat')).toBeTruthy();
  });

  it('re-sends an unacknowledged change, then reports it as ACK_TIMEOUT', async () => {
    const service = unique();
    const client = await connect();
    client.send({ type: 'subscribe', data: { patterns: [`config.${service}.production`] } });
    await client.next((m) => m.type === 'ack');
    await write(service, 1);
    const original = await client.next(changed(service));
    const resent = await client.next(changed(service), 3000);
    expect(resent.id).toBe(original.id);
    const timeout = await client.next((m) => m.type === 'error', 3000);
    expect(timeout.data).toMatchObject({ code: 'ACK_TIMEOUT', messageId: original.id });
  });

  it('announces a credential rotation to the service subscribers, without the value', async () => {
    const service = unique();
    const client = await connect();
    client.send({ type: 'subscribe', data: { patterns: [`config.${service}.production`] } });
    await client.next((m) => m.type === 'ack');
    const value = `pw-${randomBytes(8).toString('hex')}`;
    const next = `pw-${randomBytes(8).toString('hex')}`;
    const body = {
      key: `${service}-db`,
      value,
      type: 'database_password',
      serviceId: service,
      environment: 'production',
    };
    expect((await server.call('POST', '/credentials', { token, body })).status).toBe(201);
    await server.call('POST', `/credentials/${service}-db/rotate`, { token, body: { value: next } });
    const rotated = await client.next((m) => m.type === 'credential_rotated');
    expect(rotated.data).toMatchObject({
      credentialKey: `${service}-db`,
      serviceId: service,
      environment: 'production',
      version: 2,
    });
    expect(JSON.stringify(rotated)).not.toContain(value);
    expect(JSON.stringify(rotated)).not.toContain(next);
  });

  it('refuses subscriptions to a token without read permission, and sends it nothing', async () => {
    const service = unique();
    const nobody = await connect(`?token=${await server.token('nobody', [])}`);
    nobody.send({ type: 'subscribe', data: { patterns: [`config.${service}.*`] } });
    expect((await nobody.next((m) => m.type === 'error')).data.code).toBe('FORBIDDEN');
    const watcher = await connect();
    watcher.send({ type: 'subscribe', data: { patterns: [`config.${service}.*`] } });
    await watcher.next((m) => m.type === 'ack');
    await write(service, 1);
    await watcher.next(changed(service));
    expect(nobody.messages.filter((m) => m.type === 'configuration_changed')).toEqual([]);
  });

  it('refuses a subscription naming a service outside the token’s scope, and filters wildcards to it', async () => {
    const [mine, theirs] = [unique(), unique()];
    const scoped = await connect(`?token=${await server.token('scoped', ['reader'], [mine])}`);
    scoped.send({ id: 'x', type: 'subscribe', data: { patterns: [`config.${theirs}.*`] } });
    expect((await scoped.next((m) => m.type === 'error')).data).toMatchObject({ code: 'OUT_OF_SCOPE', requestId: 'x' });
    scoped.send({ type: 'subscribe', data: { patterns: ['config.*.*'] } });
    await scoped.next((m) => m.type === 'ack');
    await write(theirs, 1);
    await write(mine, 1);
    expect((await scoped.next((m) => m.type === 'configuration_changed')).data.serviceId).toBe(mine);
    expect(scoped.messages.filter((m) => m.type === 'configuration_changed')).toEqual([]);
  });

  it('disconnects a consumer that stops reading once its send buffer passes the limit', async () => {
    const service = unique();
    const slow = await connect();
    slow.send({ type: 'subscribe', data: { patterns: [`config.${service}.production`] } });
    await slow.next((m) => m.type === 'ack');
    (slow.socket as unknown as { _socket: { pause(): void; resume(): void } })._socket.pause();
    const big = 'x'.repeat(200 * 1024);
    for (let i = 0; i < 60 && slow.socket.readyState === WebSocket.OPEN; i++) await write(service, `${i}${big}`);
    (slow.socket as unknown as { _socket: { resume(): void } })._socket.resume();
    expect(await slow.closed).toMatchObject({ code: 4008 });
    const health = await server.call('GET', '/health');
    expect(health.status).toBe(200);
  }, 60_000);
});
