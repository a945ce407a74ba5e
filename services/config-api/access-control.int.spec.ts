import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { startTestServer, type TestServer } from '#testing/server.ts';

describe('roles and service scopes', () => {
  let server: TestServer;
  let admin: string;

  beforeAll(async () => {
    server = await startTestServer();
    admin = await server.token('root', ['admin']);
    for (const service of ['order-router', 'pricing', 'risk-engine']) {
      await server.call('PUT', `/configurations/${service}`, {
        token: admin,
        body: { configuration: { owner: service } },
      });
    }
    const credential = (key: string, serviceId: string, grantedTo?: string[]) =>
      server.call('POST', '/credentials', {
        token: admin,
        body: {
          key,
          value: `value-of-${key}`,
          type: 'api_key',
          serviceId,
          environment: 'production',
          ...(grantedTo ? { grantedTo } : {}),
        },
      });
    await credential('router-key', 'order-router');
    await credential('shared-feed-key', 'pricing', ['order-router']);
    await credential('risk-key', 'risk-engine');
  });
  afterAll(async () => server?.close());

  it('lets a service principal read only its own configuration, and write nothing', async () => {
    const service = await server.token('order-router', ['service']);
    expect((await server.call('GET', '/configurations/order-router', { token: service })).status).toBe(200);
    const other = await server.call('GET', '/configurations/pricing', { token: service });
    expect([other.status, other.body.code]).toEqual([403, 'OUT_OF_SCOPE']);
    const write = await server.call('PUT', '/configurations/order-router/owner', {
      token: service,
      body: { value: 'me' },
    });
    expect([write.status, write.body.code]).toEqual([403, 'FORBIDDEN']);
  });

  it('lets a service principal decrypt its own and granted credentials only, recording the refusal', async () => {
    const service = await server.token('order-router', ['service']);
    expect((await server.call('GET', '/credentials/router-key', { token: service })).body.data.value).toBe(
      'value-of-router-key',
    );
    expect((await server.call('GET', '/credentials/shared-feed-key', { token: service })).body.data.value).toBe(
      'value-of-shared-feed-key',
    );
    const refused = await server.call('GET', '/credentials/risk-key', { token: service });
    expect([refused.status, refused.body.code]).toEqual([403, 'OUT_OF_SCOPE']);
    const auditor = await server.token('ada', ['auditor']);
    const head = Number(await server.storage.store.headPosition());
    const log = await server.call('GET', `/audit/credentials/risk-key?minPosition=${head}`, { token: auditor });
    expect(log.body.data[0]).toMatchObject({ outcome: 'denied', actor: 'order-router' });
  });

  it('keeps a scoped writer to its services', async () => {
    const writer = await server.token('pat', ['writer'], ['pricing']);
    expect(
      (await server.call('PUT', '/configurations/pricing/owner', { token: writer, body: { value: 'pat' } })).status,
    ).toBe(200);
    const outside = await server.call('PUT', '/configurations/order-router/owner', {
      token: writer,
      body: { value: 'pat' },
    });
    expect([outside.status, outside.body.code]).toEqual([403, 'OUT_OF_SCOPE']);
    const storeOutside = await server.call('POST', '/credentials', {
      token: writer,
      body: { key: 'sneaky', value: 'x', type: 'token', serviceId: 'risk-engine', environment: 'production' },
    });
    expect(storeOutside.body.code).toBe('OUT_OF_SCOPE');
    expect((await server.call('POST', '/credentials/risk-key/rotate', { token: writer, body: {} })).body.code).toBe(
      'OUT_OF_SCOPE',
    );
    const listed = await server.call('GET', '/credentials', { token: writer });
    expect(listed.body.data.items.map((c: { key: string }) => c.key)).toEqual(['shared-feed-key']);
  });

  it('gives auditors the audit trail but no values and no writes, and approvers reads only', async () => {
    const auditor = await server.token('ada', ['auditor']);
    expect((await server.call('GET', '/audit/credentials/router-key', { token: auditor })).status).toBe(200);
    expect((await server.call('GET', '/credentials/router-key', { token: auditor })).status).toBe(403);
    expect(
      (await server.call('PUT', '/configurations/pricing/owner', { token: auditor, body: { value: 'a' } })).status,
    ).toBe(403);
    const approver = await server.token('abe', ['approver']);
    expect((await server.call('GET', '/configurations/risk-engine', { token: approver })).status).toBe(200);
    expect(
      (await server.call('PUT', '/configurations/risk-engine/owner', { token: approver, body: { value: 'a' } })).status,
    ).toBe(403);
  });

  it('issues service tokens stored only as hashes, and refuses a revoked one from the moment revocation answers', async () => {
    const issued = await server.call('POST', '/service-tokens', {
      token: admin,
      body: { serviceId: 'order-router', description: 'router pods' },
    });
    expect(issued.status).toBe(201);
    const { id, token } = issued.body.data as { id: string; token: string };
    expect(token).toMatch(/^clst_/);
    const asService = (path: string) => server.call('GET', path, { headers: { 'x-service-token': token } });
    expect((await asService('/configurations/order-router')).status).toBe(200);
    expect((await asService('/credentials/router-key')).body.data.value).toBe('value-of-router-key');
    expect((await asService('/configurations/pricing')).body.code).toBe('OUT_OF_SCOPE');

    const socket = new WebSocket(`${server.baseUrl.replace('http', 'ws')}/ws?token=${token}`);
    const welcome = await new Promise<{ type: string; data: { subject: string } }>((resolve) =>
      socket.once('message', (raw) => resolve(JSON.parse(raw.toString()))),
    );
    expect(welcome).toMatchObject({ type: 'connect', data: { subject: 'order-router' } });
    socket.close();

    const listed = await server.call('GET', '/service-tokens', { token: admin });
    expect(listed.body.data.find((entry: { id: string }) => entry.id === id)).toMatchObject({
      serviceId: 'order-router',
      description: 'router pods',
    });
    expect(JSON.stringify(listed.body)).not.toContain(token);
    const { rows } = await server.storage.readModels.query<{ text: string }>(
      'SELECT data::text AS text FROM events UNION ALL SELECT t::text FROM service_tokens t',
    );
    expect(rows.map((row) => row.text).join()).not.toContain(token);

    const writer = await server.token('pat', ['writer']);
    expect(
      (await server.call('POST', '/service-tokens', { token: writer, body: { serviceId: 'pricing' } })).status,
    ).toBe(403);
    expect((await server.call('DELETE', `/service-tokens/${id}`, { token: admin })).status).toBe(204);
    const revoked = await asService('/configurations/order-router');
    expect([revoked.status, revoked.body.code]).toEqual([401, 'INVALID_TOKEN']);
    expect(
      (await server.call('GET', '/configurations/order-router', { headers: { 'x-service-token': 'clst_forged' } }))
        .status,
    ).toBe(401);
  });
});
