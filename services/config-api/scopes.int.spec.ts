import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TEST_JWT_SECRET, startTestServer, type TestServer } from '#testing/server.ts';

const sign = (claims: Record<string, unknown>) =>
  new SignJWT(claims)
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject('mallory')
    .setIssuedAt()
    .setExpirationTime('1h')
    .sign(new TextEncoder().encode(TEST_JWT_SECRET));

describe('service scopes hold wherever a service appears', () => {
  let server: TestServer;
  let admin: string;
  let pricingRequest: string;

  beforeAll(async () => {
    server = await startTestServer();
    admin = await server.token('root', ['admin']);
    for (const service of ['pricing', 'router']) {
      await server.call('PUT', `/configurations/${service}`, {
        token: admin,
        body: { configuration: { risk: { max: 1 } } },
      });
    }
    await server.call('PUT', '/approval-policies/risk', {
      token: admin,
      body: { environments: ['production'], keyPatterns: ['risk.*'], requiredApprovals: 1 },
    });
    const writer = await server.token('wes', ['writer']);
    const opened = await server.call('PATCH', '/configurations/pricing', {
      token: writer,
      body: { patch: { risk: { max: 2 } }, changeReason: 'secret pricing plan' },
    });
    expect(opened.status).toBe(202);
    pricingRequest = opened.body.data.changeRequest.id;
    await server.call('POST', '/credentials', {
      token: admin,
      body: {
        key: 'pricing-feed',
        value: 'feed-secret-value',
        type: 'api_key',
        serviceId: 'pricing',
        environment: 'production',
      },
    });
  });
  afterAll(async () => server?.close());

  it.each([
    ['a string', 'pricing'],
    ['an object', { pricing: true }],
    ['an array holding a number', ['pricing', 7]],
    ['null', null],
  ])(
    'refuses a token whose services claim is %s with 401 INVALID_TOKEN, never a wider grant',
    async (_what, services) => {
      const token = await sign({ roles: ['writer'], services });
      const answer = await server.call('GET', '/configurations/router', { token });
      expect([answer.status, answer.body.code]).toEqual([401, 'INVALID_TOKEN']);
    },
  );

  it.each([
    ['a string', 'admin'],
    ['an array holding an object', [{ role: 'admin' }]],
  ])('refuses a token whose roles claim is %s with 401 INVALID_TOKEN', async (_what, roles) => {
    const answer = await server.call('GET', '/environments', { token: await sign({ roles }) });
    expect([answer.status, answer.body.code]).toEqual([401, 'INVALID_TOKEN']);
  });

  it('keeps an approver of one service from approving, and so applying, another service’s change', async () => {
    const approver = await server.token('abe', ['approver'], ['router']);
    const answer = await server.call('POST', `/change-requests/${pricingRequest}/approve`, {
      token: approver,
      body: {},
    });
    expect([answer.status, answer.body.code]).toEqual([403, 'OUT_OF_SCOPE']);
    expect(
      (await server.call('POST', `/change-requests/${pricingRequest}/reject`, { token: approver, body: {} })).body.code,
    ).toBe('OUT_OF_SCOPE');
    const current = await server.call('GET', '/configurations/pricing', { token: admin });
    expect(current.body.data.configuration.risk.max).toBe(1);
  });

  it('lists and shows change requests only within the caller’s scope', async () => {
    const reader = await server.token('rita', ['reader'], ['router']);
    const listed = await server.call('GET', '/change-requests', { token: reader });
    expect(listed.status).toBe(200);
    expect(JSON.stringify(listed.body)).not.toContain('pricing');
    const shown = await server.call('GET', `/change-requests/${pricingRequest}`, { token: reader });
    expect([shown.status, shown.body.code]).toEqual([403, 'OUT_OF_SCOPE']);
    expect(JSON.stringify(shown.body)).not.toContain('secret pricing plan');
    const inScope = await server.token('paula', ['reader'], ['pricing']);
    expect((await server.call('GET', `/change-requests/${pricingRequest}`, { token: inScope })).status).toBe(200);
  });

  it('keeps a credential’s access log to auditors of its service', async () => {
    const outside = await server.token('ada', ['auditor'], ['router']);
    const answer = await server.call('GET', '/audit/credentials/pricing-feed', { token: outside });
    expect([answer.status, answer.body.code]).toEqual([403, 'OUT_OF_SCOPE']);
    const inside = await server.token('ada', ['auditor'], ['pricing']);
    expect((await server.call('GET', '/audit/credentials/pricing-feed', { token: inside })).status).toBe(200);
  });

  it('keeps audit search and exports within scope', async () => {
    const auditor = await server.token('ada', ['auditor'], ['router']);
    const audit = await server.call('GET', '/audit?limit=1000', { token: auditor });
    expect(audit.status).toBe(200);
    expect(JSON.stringify(audit.body)).not.toContain('pricing');
    const exported = await server.call('GET', '/configurations/pricing/export', { token: auditor });
    expect([exported.status, exported.body.code]).toEqual([403, 'OUT_OF_SCOPE']);
  });
});

describe('security headers', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer();
  });
  afterAll(async () => server?.close());

  it('sends the usual security headers on every answer, and no-store on every answer carrying a secret', async () => {
    const admin = await server.token('root', ['admin']);
    await server.call('POST', '/credentials', {
      token: admin,
      body: {
        key: 'db',
        value: 'hunter2-value',
        type: 'database_password',
        serviceId: 'svc',
        environment: 'production',
      },
    });
    for (const [path, token] of [
      ['/health', undefined],
      ['/environments', admin],
      ['/no-such-route', admin],
      ['/credentials/db', admin],
    ] as const) {
      const answer = await server.call('GET', path, { token });
      expect(answer.headers.get('x-content-type-options'), path).toBe('nosniff');
      expect(answer.headers.get('x-frame-options'), path).toBe('DENY');
      expect(answer.headers.get('strict-transport-security'), path).toMatch(/max-age=\d+/);
      expect(answer.headers.get('content-security-policy'), path).toContain("frame-ancestors 'none'");
      expect(answer.headers.get('referrer-policy'), path).toBe('no-referrer');
    }
    expect((await server.call('GET', '/credentials/db', { token: admin })).headers.get('cache-control')).toBe(
      'no-store',
    );
    const issued = await server.call('POST', '/service-tokens', { token: admin, body: { serviceId: 'svc' } });
    expect(issued.headers.get('cache-control')).toBe('no-store');
    const written = await server.call('PUT', '/configurations/svc', {
      token: admin,
      body: { configuration: { password: '${SECRET:db}' } },
    });
    const resolved = await server.call(
      'GET',
      `/configurations/svc?resolveSecrets=true&minPosition=${written.body.data.position}`,
      { token: admin },
    );
    expect([resolved.status, resolved.headers.get('cache-control')], JSON.stringify(resolved.body)).toEqual([
      200,
      'no-store',
    ]);
    const docs = await fetch(`${server.baseUrl}/docs/`);
    expect(docs.status).toBe(200);
    expect(docs.headers.get('content-security-policy')).toContain("script-src 'self'");
  });
});
