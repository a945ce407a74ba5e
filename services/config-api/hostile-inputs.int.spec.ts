import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TEST_JWT_SECRET, startTestServer, type TestServer } from '#testing/server.ts';
import { WsClient } from '#testing/ws-client.ts';

/** Inputs an attacker with a scoped writer token tried, and what they must get. */
describe('hostile inputs get a 4xx, and cannot slow or block anyone else', () => {
  let server: TestServer;
  let admin: string;
  let attacker: string;

  beforeAll(async () => {
    server = await startTestServer({ rateLimits: { perAddressPerMinute: 0, perPrincipalPerMinute: 0 } });
    admin = await server.token('root', ['admin']);
    attacker = await server.token('mallory', ['writer'], ['attacker-svc']);
    await server.call('PUT', '/configurations/order-router', {
      token: admin,
      body: { configuration: { risk: { max: 1 } } },
    });
  });
  afterAll(async () => server?.close());

  it('refuses NUL characters and lone surrogates anywhere with 400 INVALID_STRING, and the store stays open for everyone', async () => {
    const bodies = [
      ['PUT', '/configurations/attacker-svc', '{"configuration":{"a":"x\\u0000y"}}'],
      ['PUT', '/configurations/attacker-svc', '{"configuration":{"a\\u0000":1}}'],
      ['PUT', '/configurations/attacker-svc', '{"configuration":{"a":"\\ud800"}}'],
      ['PUT', '/configurations/attacker-svc', '{"configuration":{"a":1},"changeReason":"\\u0000"}'],
      [
        'POST',
        '/credentials',
        '{"key":"k","value":"v","type":"api_key","serviceId":"attacker-svc","environment":"production","description":"\\u0000"}',
      ],
    ] as const;
    for (let round = 0; round < 5; round++) {
      for (const [method, path, body] of bodies) {
        const answer = await server.call(method, path, { token: attacker, body });
        expect([answer.status, answer.body.code], `${method} ${path} ${body}`).toEqual([400, 'INVALID_STRING']);
      }
    }
    for (const query of ['/audit?actor=%00', '/configurations/attacker-svc?environment=%00', '/credentials/%00']) {
      const answer = await server.call('GET', query, { token: admin });
      expect([answer.status, answer.body.code], query).toEqual([400, 'INVALID_STRING']);
    }
    const honest = await server.call('PUT', '/configurations/order-router/risk.max', {
      token: admin,
      body: { value: 2 },
    });
    expect(honest.status).toBe(200);
  });

  it('evaluates schema patterns in linear time, and refuses patterns that need backtracking', async () => {
    expect(
      (
        await server.call('PUT', '/configurations/attacker-svc/schema', {
          token: attacker,
          body: { schema: { type: 'object', properties: { s: { type: 'string', pattern: '^(a+)+$' } } } },
        })
      ).status,
    ).toBe(201);
    const started = Date.now();
    const health = server.call('GET', '/health');
    const judged = await server.call('POST', '/configurations/attacker-svc/validate', {
      token: attacker,
      body: { configuration: { s: `${'a'.repeat(60)}!` } },
    });
    expect(judged.body.data.valid).toBe(false);
    expect((await health).status).toBe(200);
    expect(Date.now() - started).toBeLessThan(1000);
    const lookahead = await server.call('PUT', '/configurations/attacker-svc/schema', {
      token: attacker,
      body: { schema: { type: 'string', pattern: '(?=a)a' } },
    });
    expect([lookahead.status, lookahead.body.code]).toEqual([400, 'INVALID_SCHEMA']);
  });

  it('answers numbers past what the log can hold with 400, over HTTP and the WebSocket', async () => {
    for (const path of [
      '/configurations/order-router?version=1e21',
      '/configurations/order-router?version=9223372036854775808',
      '/configurations/order-router/versions?before=2147483648',
      '/audit?cursor=1e21',
      '/audit?cursor=9223372036854775808',
      '/configurations/order-router/diff?from=9223372036854775808',
      '/configurations/order-router?minPosition=1e308',
      '/configurations/order-router?atPosition=1e21',
    ]) {
      const answer = await server.call('GET', path, { token: admin });
      expect(answer.status, path).toBe(400);
    }
    const rollback = await server.call('POST', '/configurations/order-router/versions/1e21/rollback', {
      token: admin,
      body: {},
    });
    expect(rollback.status).toBe(400);
    const client = new WsClient(`${server.baseUrl.replace('http', 'ws')}/ws`, ['configledger.v1', `bearer.${admin}`]);
    await client.opened();
    await client.next((m) => m.type === 'connect');
    client.send({ type: 'subscribe', data: { patterns: ['config.*.*'], fromPosition: 1e21 } });
    expect((await client.next((m) => m.type === 'error')).data.code).toBe('INVALID_MESSAGE');
    client.close();
  });

  it('answers a malformed URL with the usual envelope and security headers', async () => {
    const answer = await server.call('GET', '/configurations/%zz', { token: admin });
    expect([answer.status, answer.body.code]).toEqual([400, 'BAD_URL']);
    expect(answer.headers.get('x-content-type-options')).toBe('nosniff');
    expect(answer.headers.get('content-security-policy')).toContain("default-src 'none'");
  });

  it('refuses a JWT that never expires', async () => {
    const forever = await new SignJWT({ roles: ['reader'] })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('forever')
      .sign(new TextEncoder().encode(TEST_JWT_SECRET));
    const answer = await server.call('GET', '/environments', { token: forever });
    expect([answer.status, answer.body.code]).toEqual([401, 'INVALID_TOKEN']);
  });

  it('validates a document as it would store it: 65 levels deep is too deep there too', async () => {
    const deep = `${'{"a":'.repeat(65)}1${'}'.repeat(65)}`;
    const answer = await server.call('POST', '/configurations/attacker-svc/validate', {
      token: attacker,
      body: `{"configuration":${deep}}`,
    });
    expect([answer.status, answer.body.code]).toEqual([400, 'DOCUMENT_TOO_DEEP']);
    expect(answer.body.details.maxDepth).toBe(64);
  });

  it('lets an inheritance-only policy leave keyPatterns out, and keeps a pending re-parenting through a rename', async () => {
    await server.call('POST', '/environments', { token: admin, body: { id: 'renamed' } });
    const policy = await server.call('PUT', '/approval-policies/renamed-inheritance', {
      token: admin,
      body: { environments: ['renamed'], inheritance: true, requiredApprovals: 1 },
    });
    expect(policy.status).toBe(200);
    const held = await server.call('PUT', '/environments/renamed', {
      token: admin,
      body: { inheritsFrom: ['production'] },
    });
    expect(held.status).toBe(202);
    const writer = await server.token('wes', ['writer']);
    expect(
      (await server.call('PUT', '/environments/renamed', { token: writer, body: { name: 'Renamed' } })).status,
    ).toBe(200);
    const approver = await server.token('abe', ['approver']);
    const approved = await server.call('POST', `/change-requests/${held.body.data.changeRequest.id}/approve`, {
      token: approver,
      body: {},
    });
    expect([approved.status, approved.body.data?.status]).toEqual([200, 'applied']);
    await server.call('DELETE', '/approval-policies/renamed-inheritance', { token: admin });
  });

  it('lets only an admin define again an environment that was removed (its configurations come back with it)', async () => {
    await server.call('POST', '/environments', { token: admin, body: { id: 'gone' } });
    await server.call('PUT', '/configurations/order-router?environment=gone', {
      token: admin,
      body: { configuration: { kept: true } },
    });
    const removed = await server.call('DELETE', '/environments/gone', { token: admin });
    expect(removed.status, JSON.stringify(removed.body)).toBe(200);
    const writer = await server.token('wes', ['writer']);
    const revived = await server.call('POST', '/environments', {
      token: writer,
      body: { id: 'gone', inheritsFrom: ['production'] },
    });
    expect([revived.status, revived.body.code]).toEqual([403, 'FORBIDDEN']);
    expect((await server.call('POST', '/environments', { token: admin, body: { id: 'gone' } })).status).toBe(201);
  });
});
