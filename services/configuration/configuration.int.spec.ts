import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '#testing/server.ts';
import { configurationStream } from '#events/configuration.ts';
import type { RecordedEvent } from '#infra/eventstore/port.ts';

describe('configuration API over HTTP on PostgreSQL', () => {
  let server: TestServer;
  let admin: string;
  let writer: string;
  let reader: string;

  beforeAll(async () => {
    server = await startTestServer();
    admin = await server.token('alice', ['admin']);
    writer = await server.token('bob', ['writer']);
    reader = await server.token('carol', ['reader']);
  });
  afterAll(async () => server?.close());

  const call = (method: string, path: string, body?: unknown, token = writer, headers?: Record<string, string>) =>
    server.call(method, path, { token, body, headers });

  it('takes a service through schema, create, patch, history with diffs, rollback and a past version', async () => {
    const schema = await call(
      'PUT',
      '/configurations/order-router/schema',
      {
        schema: {
          $schema: 'https://json-schema.org/draft/2020-12/schema',
          type: 'object',
          properties: {
            risk: { type: 'object', properties: { maxPosition: { type: 'integer', minimum: 0 } } },
            venue: { enum: ['xnys', 'xnas'] },
          },
          required: ['risk'],
        },
      },
      admin,
    );
    expect(schema.status).toBe(201);
    expect(schema.body.data.version).toBe(1);

    const created = await call('POST', '/configurations/order-router?environment=production', {
      configuration: { risk: { maxPosition: 100 }, venue: 'xnys' },
      changeReason: 'initial limits',
    });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      success: true,
      data: { serviceId: 'order-router', environment: 'production', version: 1 },
    });
    expect(created.body.data.checksum).toMatch(/^[0-9a-f]{64}$/);

    const patched = await call('PATCH', '/configurations/order-router', {
      patch: { risk: { maxPosition: 250 } },
      changeReason: 'raise limit',
    });
    expect(patched.status).toBe(200);
    expect(patched.body.data).toMatchObject({ version: 2, changedKeys: ['risk.maxPosition'] });

    const current = await call(
      'GET',
      `/configurations/order-router?environment=production&minPosition=${patched.body.data.position}`,
      undefined,
      reader,
    );
    expect(current.status).toBe(200);
    expect(current.body.data).toMatchObject({
      version: 2,
      configuration: { risk: { maxPosition: 250 }, venue: 'xnys' },
      updatedBy: 'bob',
    });
    expect(current.headers.get('etag')).toBe('"2"');

    const rolledBack = await call('POST', '/configurations/order-router/versions/1/rollback', {
      changeReason: 'limit too high',
    });
    const withoutBody = await call('POST', '/configurations/order-router/versions/1/rollback', '', writer, {
      'content-type': 'application/json',
    });
    expect(withoutBody.status).toBe(200);
    expect(rolledBack.status).toBe(200);
    expect(rolledBack.body.data.version).toBe(3);
    expect(rolledBack.body.data.checksum).toBe(created.body.data.checksum);

    const versions = await call(
      'GET',
      `/configurations/order-router/versions?minPosition=${withoutBody.body.data.position}`,
      undefined,
      reader,
    );
    expect(versions.body.data.map((v: { version: number }) => v.version)).toEqual([4, 3, 2, 1]);
    expect(versions.body.data[1]).toMatchObject({
      changeType: 'rollback',
      restoredVersion: 1,
      changedBy: 'bob',
      changeReason: 'limit too high',
      changes: [{ path: 'risk.maxPosition', oldValue: 250, newValue: 100 }],
    });
    expect(versions.body.data[0]).toMatchObject({ changeType: 'rollback', restoredVersion: 1, changes: [] });
    expect(versions.body.data[2].changes).toEqual([{ path: 'risk.maxPosition', oldValue: 100, newValue: 250 }]);

    const past = await call('GET', '/configurations/order-router?version=2', undefined, reader);
    expect(past.body.data).toMatchObject({ version: 2, configuration: { risk: { maxPosition: 250 } } });
    const missing = await call('GET', '/configurations/order-router?version=99', undefined, reader);
    expect(missing.status).toBe(404);
    expect(missing.body.code).toBe('VERSION_NOT_FOUND');
  });

  it('records actor, reason and correlation id on each event in the log', async () => {
    const written = await call(
      'PUT',
      '/configurations/audit-demo',
      { configuration: { a: 1 }, changeReason: 'why not' },
      writer,
      {
        'x-correlation-id': 'corr-123',
      },
    );
    expect(written.status).toBe(201);
    expect(written.headers.get('x-correlation-id')).toBe('corr-123');
    const events: RecordedEvent[] = [];
    for await (const event of server.storage.store.readStream(configurationStream('audit-demo', 'production')))
      events.push(event);
    expect(events).toHaveLength(1);
    expect(events[0]!.metadata).toMatchObject({
      actor: 'bob',
      correlationId: 'corr-123',
      reason: 'why not',
      schemaVersion: 2,
    });
    expect(events[0]!.data).toMatchObject({ changeReason: 'why not', version: 1, changedKeys: ['a'] });
  });

  it('rejects a write whose expectedVersion is stale with 409 VERSION_CONFLICT and the current version', async () => {
    await call('POST', '/configurations/conflicts', { configuration: { n: 0 } });
    await call('PUT', '/configurations/conflicts/n', { value: 1 });
    const stale = await call('PUT', '/configurations/conflicts', { configuration: { n: 5 } }, writer, {
      'if-match': '"1"',
    });
    expect(stale.status).toBe(409);
    expect(stale.body).toMatchObject({
      success: false,
      code: 'VERSION_CONFLICT',
      details: { currentVersion: 2, expectedVersion: 1 },
    });
    const fresh = await call('PATCH', '/configurations/conflicts', { patch: { n: 5 }, expectedVersion: 2 });
    expect(fresh.body.data.version).toBe(3);
  });

  it('loses no update when many writers change one configuration at once', async () => {
    await call('POST', '/configurations/concurrent', { configuration: {} });
    const writers = 25;
    const results = await Promise.all(
      Array.from({ length: writers }, (_, i) => call('PUT', `/configurations/concurrent/keys.k${i}`, { value: i })),
    );
    expect(results.map((r) => r.status)).toEqual(Array(writers).fill(200));
    expect(new Set(results.map((r) => r.body.data.version)).size).toBe(writers);
    const maxPosition = Math.max(...results.map((r) => r.body.data.position));
    const final = await call('GET', `/configurations/concurrent?minPosition=${maxPosition}`);
    expect(final.body.data.version).toBe(writers + 1);
    expect(Object.keys(final.body.data.configuration.keys)).toHaveLength(writers);
  });

  it('applies a batch atomically as one version, and writes nothing when one operation fails', async () => {
    await call('POST', '/configurations/batchy', { configuration: { a: 1, b: 2 } });
    const ok = await call('POST', '/configurations/batchy/batch', {
      operations: [
        { id: 'op1', type: 'SET', key: 'c.d', value: true },
        { id: 'op2', type: 'DELETE', key: 'a' },
      ],
    });
    expect(ok.status).toBe(200);
    expect(ok.body.data).toMatchObject({ version: 2, changedKeys: ['a', 'c.d'] });
    const failed = await call('POST', '/configurations/batchy/batch', {
      operations: [
        { id: 'op1', type: 'SET', key: 'e', value: 1 },
        { id: 'op2', type: 'DELETE', key: 'nope' },
      ],
    });
    expect(failed.status).toBe(404);
    expect(failed.body).toMatchObject({ code: 'KEY_NOT_FOUND', details: { operationId: 'op2' } });
    const after = await call('GET', `/configurations/batchy?minPosition=${ok.body.data.position}`);
    expect(after.body.data).toMatchObject({ version: 2, configuration: { b: 2, c: { d: true } } });
  });

  it('gets, sets and deletes single dotted keys', async () => {
    await call('POST', '/configurations/keys', { configuration: { feed: { depth: 10 } } });
    const set = await call('PUT', '/configurations/keys/feed.depth', { value: 20 });
    const got = await call(
      'GET',
      `/configurations/keys/feed.depth?minPosition=${set.body.data.position}`,
      undefined,
      reader,
    );
    expect(got.body.data).toMatchObject({ key: 'feed.depth', value: 20 });
    const deleted = await call('DELETE', '/configurations/keys/feed.depth?changeReason=unused');
    expect(deleted.status).toBe(200);
    const gone = await call(
      'GET',
      `/configurations/keys/feed.depth?minPosition=${deleted.body.data.position}`,
      undefined,
      reader,
    );
    expect(gone.status).toBe(404);
    expect(gone.body.code).toBe('KEY_NOT_FOUND');
    expect((await call('DELETE', '/configurations/keys/feed.depth')).body.code).toBe('KEY_NOT_FOUND');
  });

  it('validates against the active schema, refusing invalid writes with every error path and writing nothing', async () => {
    await call('PUT', '/configurations/strict/schema', {
      schema: {
        $schema: 'http://json-schema.org/draft-07/schema#',
        type: 'object',
        properties: { port: { type: 'integer', maximum: 65535 }, host: { type: 'string', format: 'hostname' } },
        required: ['port', 'host'],
        additionalProperties: false,
      },
    });
    const check = await call(
      'POST',
      '/configurations/strict/validate',
      { configuration: { port: 70000, extra: 1 } },
      reader,
    );
    expect(check.status).toBe(200);
    expect(check.body.data.valid).toBe(false);
    expect(check.body.data.errors.map((e: { path: string }) => e.path).sort()).toEqual(['extra', 'host', 'port']);

    const refused = await call('POST', '/configurations/strict', { configuration: { port: 70000, host: 'db1' } });
    expect(refused.status).toBe(400);
    expect(refused.body.code).toBe('VALIDATION_ERROR');
    expect(refused.body.details.errors[0].path).toBe('port');
    expect((await call('GET', '/configurations/strict')).body.code).toBe('CONFIGURATION_NOT_FOUND');
    expect((await call('POST', '/configurations/strict', { configuration: { port: 5432, host: 'db1' } })).status).toBe(
      201,
    );
  });

  it('merges the inheritance chain and explains where each top-level key came from', async () => {
    const env = await call(
      'POST',
      '/environments',
      { id: 'prod_eu', name: 'Production EU', type: 'production', inheritsFrom: ['production'] },
      admin,
    );
    expect(env.status).toBe(201);
    await call('PUT', '/configurations/pricing', { configuration: { spreads: { fx: 2, rates: 1 }, currency: 'USD' } });
    const own = await call('PUT', '/configurations/pricing?environment=prod_eu', {
      configuration: { spreads: { fx: 3 }, currency: 'EUR' },
    });
    const effective = await call(
      'GET',
      `/configurations/pricing?environment=prod_eu&explain=true&minPosition=${own.body.data.position}`,
    );
    expect(effective.body.data.configuration).toEqual({ spreads: { fx: 3, rates: 1 }, currency: 'EUR' });
    expect(effective.body.data.inheritedFrom).toEqual(['production']);
    expect(effective.body.data.sources).toEqual({ spreads: 'prod_eu', currency: 'prod_eu' });
    const cycle = await call('PUT', '/environments/production', { inheritsFrom: ['prod_eu'] }, admin);
    expect(cycle.status).toBe(400);
    expect(cycle.body.code).toBe('INHERITANCE_CYCLE');
    const list = await call('GET', '/environments', undefined, reader);
    expect(list.body.data.map((e: { id: string }) => e.id)).toEqual([
      'development',
      'prod_eu',
      'production',
      'staging',
      'testing',
    ]);
  });

  it('answers bad input with a 4xx and a machine-readable code, never a 500', async () => {
    const malformed = await call('POST', '/configurations/bad', '{"configuration": {');
    expect([malformed.status, malformed.body.code]).toEqual([400, 'INVALID_JSON']);
    const shape = await call('POST', '/configurations/bad', { configuration: 'not an object' });
    expect([shape.status, shape.body.code]).toEqual([400, 'VALIDATION_ERROR']);
    expect(shape.body.details.errors[0].path).toBe('configuration');
    const badId = await call('GET', '/configurations/Bad_Service');
    expect([badId.status, badId.body.code]).toEqual([400, 'VALIDATION_ERROR']);
    const unknownEnv = await call('GET', '/configurations/anything?environment=mars');
    expect([unknownEnv.status, unknownEnv.body.code]).toEqual([404, 'ENVIRONMENT_NOT_FOUND']);
    const noRoute = await call('GET', '/nothing-here');
    expect([noRoute.status, noRoute.body.code]).toEqual([404, 'NOT_FOUND']);
    const tooLarge = await call('POST', '/configurations/bad', {
      configuration: { blob: 'x'.repeat(1024 * 1024 + 10) },
    });
    expect([tooLarge.status, tooLarge.body.code]).toEqual([413, 'PAYLOAD_TOO_LARGE']);
    const badIfMatch = await call('PUT', '/configurations/bad', { configuration: {} }, writer, {
      'if-match': 'yesterday',
    });
    expect([badIfMatch.status, badIfMatch.body.code]).toEqual([400, 'INVALID_IF_MATCH']);
    expect((await call('GET', '/configurations/bad')).body.code).toBe('CONFIGURATION_NOT_FOUND');
  });

  it('requires a valid token for every route but health and the API document, and a writer role to write', async () => {
    expect((await server.call('GET', '/configurations/order-router')).body.code).toBe('UNAUTHORIZED');
    const forged = await server.call('GET', '/configurations/order-router', {
      token: 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.bad',
    });
    expect([forged.status, forged.body.code]).toEqual([401, 'INVALID_TOKEN']);
    const readerWrite = await call('PUT', '/configurations/order-router/venue', { value: 'xnas' }, reader);
    expect([readerWrite.status, readerWrite.body.code]).toEqual([403, 'FORBIDDEN']);
    expect((await server.call('GET', '/health')).status).toBe(200);
    const openapi = await server.call('GET', '/openapi.json');
    expect(openapi.status).toBe(200);
    expect(Object.keys(openapi.body.paths)).toEqual(
      expect.arrayContaining([
        '/api/v1/configurations/{serviceId}',
        '/api/v1/configurations/{serviceId}/versions/{version}/rollback',
        '/api/v1/environments/{id}',
      ]),
    );
    const docs = await fetch(`${server.baseUrl}/docs/`);
    expect(docs.status).toBe(200);
    expect(await docs.text()).toContain('swagger');
  });

  it('reports every dependency in /health', async () => {
    const health = await server.call('GET', '/health');
    expect(health.body.data.status).toBe('healthy');
    expect(health.body.data.dependencies).toMatchObject({
      eventStore: { status: 'up', kind: 'postgres' },
      readModelDatabase: { status: 'up' },
      projections: { status: 'up' },
    });
  });
});

describe('the list of services', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer();
    const admin = await server.token('alice', ['admin']);
    for (const service of ['list-a', 'list-b', 'list-c', 'other-d']) {
      await server.call('PUT', `/configurations/${service}`, { token: admin, body: { configuration: { n: 1 } } });
    }
    const last = await server.call('PUT', '/configurations/list-b?environment=staging', {
      token: admin,
      body: { configuration: { n: 2 } },
    });
    await server.app.readModels.runner.waitFor(BigInt(last.body.data.position), 5000);
  });
  afterAll(async () => server?.close());

  it('pages by service id with each environment, filters by prefix and environment, and shows a scoped caller only its services', async () => {
    const admin = await server.token('alice', ['admin']);
    const first = (await server.call('GET', '/configurations?prefix=list-&limit=2', { token: admin })).body.data;
    expect(first.items.map((item: { serviceId: string }) => item.serviceId)).toEqual(['list-a', 'list-b']);
    expect(first.items[1]).toMatchObject({
      serviceId: 'list-b',
      environments: [
        { environment: 'production', version: 1, updatedBy: 'alice' },
        { environment: 'staging', version: 1, updatedBy: 'alice' },
      ],
    });
    expect(first.nextCursor).toBe('list-b');
    const second = (
      await server.call('GET', `/configurations?prefix=list-&limit=2&cursor=${first.nextCursor}`, { token: admin })
    ).body.data;
    expect(second).toEqual({ items: [expect.objectContaining({ serviceId: 'list-c' })], nextCursor: null });
    const staging = (await server.call('GET', '/configurations?environment=staging', { token: admin })).body.data.items;
    expect(staging.map((item: { serviceId: string }) => item.serviceId)).toEqual(['list-b']);
    const scoped = await server.token('svc', ['reader'], ['list-c', 'other-d']);
    const visible = (await server.call('GET', '/configurations', { token: scoped })).body.data.items;
    expect(visible.map((item: { serviceId: string }) => item.serviceId)).toEqual(['list-c', 'other-d']);
  });
});
