import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '#testing/server.ts';

const nested = (levels: number, leaf = '1') => `${'{"a":'.repeat(levels)}${leaf}${'}'.repeat(levels)}`;
const nestedArrays = (levels: number) => `${'['.repeat(levels)}1${']'.repeat(levels)}`;

describe('documents are data: no prototype reachable, nesting bounded', () => {
  let server: TestServer;
  let token: string;
  const service = 'doc-guard';

  beforeAll(async () => {
    server = await startTestServer();
    token = await server.token('wren', ['writer']);
    expect(
      (await server.call('PUT', `/configurations/${service}`, { token, body: { configuration: { risk: { max: 1 } } } }))
        .status,
    ).toBe(201);
  });
  afterAll(async () => server?.close());

  const headOf = () => server.storage.store.headPosition();
  const polluted = () => Object.keys(Object.prototype);

  it.each([
    '__proto__.polluted',
    'risk.__proto__.polluted',
    'constructor.prototype.polluted',
    'risk.constructor',
    'prototype',
    'a.prototype.b',
  ])('refuses the key %s with 400 INVALID_KEY, writes nothing and leaves Object.prototype alone', async (key) => {
    const head = await headOf();
    const answer = await server.call('PUT', `/configurations/${service}/${key}`, { token, body: { value: 'yes' } });
    expect([answer.status, answer.body.code]).toEqual([400, 'INVALID_KEY']);
    const batch = await server.call('POST', `/configurations/${service}/batch`, {
      token,
      body: { operations: [{ id: '1', type: 'SET', key, value: 'yes' }] },
    });
    expect([batch.status, batch.body.code]).toEqual([400, 'INVALID_KEY']);
    const removal = await server.call('DELETE', `/configurations/${service}/${key}`, { token });
    expect([removal.status, removal.body.code]).toEqual([400, 'INVALID_KEY']);
    expect(polluted()).toEqual([]);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(await headOf()).toBe(head);
    expect((await server.call('GET', `/configurations/${service}`, { token })).status).toBe(200);
  });

  it.each([
    ['a document', 'PUT', '', (key: string) => `{"configuration":{"${key}":{"x":1}}}`],
    ['a nested document', 'PUT', '', (key: string) => `{"configuration":{"risk":{"${key}":1}}}`],
    ['a merge patch', 'PATCH', '', (key: string) => `{"patch":{"${key}":{"x":1}}}`],
    ['a key value', 'PUT', '/risk', (key: string) => `{"value":{"${key}":{"x":1}}}`],
    [
      'a schema',
      'PUT',
      '/schema',
      (key: string) => `{"schema":{"type":"object","properties":{"${key}":{"type":"string"}}}}`,
    ],
  ])('refuses %s holding a dangerous key with 400 INVALID_KEY', async (_what, method, suffix, body) => {
    for (const key of ['__proto__', 'constructor', 'prototype']) {
      const head = await headOf();
      const answer = await server.call(method, `/configurations/${service}${suffix}`, { token, body: body(key) });
      expect([answer.status, answer.body.code, key]).toEqual([400, 'INVALID_KEY', key]);
      expect(await headOf()).toBe(head);
    }
  });

  it('refuses a merge patch through constructor that would reach Object (it used to be applied onto the inherited constructor)', async () => {
    const answer = await server.call('PATCH', `/configurations/${service}`, {
      token,
      body: { patch: { constructor: { polluted: 1 } } },
    });
    expect([answer.status, answer.body.code]).toEqual([400, 'INVALID_KEY']);
    expect((Object as unknown as Record<string, unknown>).polluted).toBeUndefined();
  });

  it.each([
    ['PUT', '', (deep: string) => `{"configuration":${deep}}`],
    ['PATCH', '', (deep: string) => `{"patch":${deep}}`],
    ['PUT', '/risk', (deep: string) => `{"value":${deep}}`],
    ['POST', '/batch', (deep: string) => `{"operations":[{"id":"1","type":"SET","key":"deep","value":${deep}}]}`],
  ])('answers %s%s of JSON nested 5,000 levels with 400 DOCUMENT_TOO_DEEP', async (method, suffix, body) => {
    const head = await headOf();
    for (const deep of [nested(5000), `{"a":${nestedArrays(5000)}}`]) {
      const answer = await server.call(method, `/configurations/${service}${suffix}`, { token, body: body(deep) });
      expect([answer.status, answer.body.code]).toEqual([400, 'DOCUMENT_TOO_DEEP']);
    }
    expect(await headOf()).toBe(head);
  });

  it('takes a document whose deepest value is 64 levels down and refuses one at 65, however it is reached', async () => {
    const ok = await server.call('PUT', `/configurations/${service}?environment=staging`, {
      token,
      body: `{"configuration":${nested(64)}}`,
    });
    expect(ok.status).toBe(201);
    const tooDeep = await server.call('PUT', `/configurations/${service}?environment=staging`, {
      token,
      body: `{"configuration":${nested(65)}}`,
    });
    expect([tooDeep.status, tooDeep.body.code]).toEqual([400, 'DOCUMENT_TOO_DEEP']);
    // 3 levels of key plus a value 62 deep: 65 in the document.
    const byKey = await server.call('PUT', `/configurations/${service}/x.y.z?environment=staging`, {
      token,
      body: `{"value":${nested(62)}}`,
    });
    expect([byKey.status, byKey.body.code]).toEqual([400, 'DOCUMENT_TOO_DEEP']);
    const fits = await server.call('PUT', `/configurations/${service}/x.y.z?environment=staging`, {
      token,
      body: `{"value":${nested(61)}}`,
    });
    expect(fits.status).toBe(200);
  });

  it.each([
    '/configurations/doc-guard?atPosition=1e400',
    '/configurations/doc-guard?atPosition=Infinity',
    '/configurations/doc-guard?minPosition=1e400',
    '/configurations/doc-guard?version=1e400',
    '/configurations/doc-guard/versions?before=1e400',
    '/configurations/doc-guard/versions?minPosition=1e400',
    '/configurations/doc-guard/schema?version=1e400',
    '/configurations/doc-guard/risk.max?version=1e400',
    '/configurations/doc-guard/environments/production?version=1e400',
    '/configurations?limit=1e400',
    '/audit?limit=Infinity',
    '/audit?cursor=1e400',
  ])('answers GET %s, a number no integer can be, with 400 VALIDATION_ERROR', async (path) => {
    const answer = await server.call('GET', path, { token });
    expect([answer.status, answer.body.code]).toEqual([400, 'VALIDATION_ERROR']);
  });

  it.each([
    ['PATCH', `/configurations/${service}`, '{"patch":{"n":1e400}}'],
    ['POST', '/configurations/doc-guard-new', '{"configuration":{"n":-1e400}}'],
    ['PUT', `/configurations/${service}/big`, '{"value":1e400}'],
    ['POST', `/configurations/${service}/batch`, '{"operations":[{"id":"1","type":"SET","key":"n","value":[1e999]}]}'],
  ])(
    'refuses %s %s holding a number too large for JSON with 400 NUMBER_OUT_OF_RANGE, writing nothing',
    async (method, path, body) => {
      const head = await headOf();
      const response = await fetch(`${server.baseUrl}${path}`, {
        method,
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body,
      });
      const answer = (await response.json()) as { code: string; error: string };
      expect([response.status, answer.code]).toEqual([400, 'NUMBER_OUT_OF_RANGE']);
      expect(answer.error).toMatch(/too large/);
      expect(await headOf()).toBe(head);
    },
  );
});
