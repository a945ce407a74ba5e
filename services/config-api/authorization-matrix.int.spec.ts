import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SignJWT } from 'jose';
import { ROLES, ROLES_FOR, type RolePermission, type RouteRule, ruleOf } from '#services/config-api/permissions.ts';
import { TEST_JWT_SECRET, startTestServer, type TestServer } from '#testing/server.ts';
import { WsClient } from '#testing/ws-client.ts';

/**
 * Every route Fastify registered × every principal (each role limited to one
 * service, an unrestricted admin, a service token, no token), aimed at a
 * resource inside and outside the principal's scope, checked against the
 * permission table. Nothing here lists the routes: a new one without a rule
 * or without a fixture below fails.
 */
const INSIDE = 'inside-svc';
const OUTSIDE = 'outside-svc';
type Target = typeof INSIDE | typeof OUTSIDE;

interface Principal {
  name: string;
  roles: string[];
  unrestricted: boolean;
  headers: Record<string, string>;
  /** Its token carries a claim of the wrong shape: refused everywhere, never a wider grant. */
  malformed?: true;
}

const SCOPED = new Set(['service', 'credential', 'change-request', 'service-token']);

/** Request bodies by route; each must pass validation, so that only authorization can refuse it. */
const BODIES: Record<string, (target: Target, n: number) => unknown> = {
  'POST /api/v1/configurations/:serviceId': () => ({ configuration: { risk: { max: 1 } } }),
  'PUT /api/v1/configurations/:serviceId': () => ({ configuration: { risk: { max: 2 } } }),
  'PATCH /api/v1/configurations/:serviceId': () => ({ patch: { risk: { max: 3 } } }),
  'PUT /api/v1/configurations/:serviceId/environments/:environment': () => ({ configuration: { risk: { max: 4 } } }),
  'POST /api/v1/configurations/:serviceId/versions/:version/rollback': () => ({}),
  'POST /api/v1/configurations/:serviceId/validate': () => ({ configuration: { risk: { max: 5 } } }),
  'POST /api/v1/configurations/:serviceId/batch': () => ({
    operations: [{ id: '1', type: 'SET', key: 'risk.max', value: 6 }],
  }),
  'POST /api/v1/configurations/:serviceId/promote': () => ({ fromEnvironment: 'production', toEnvironment: 'staging' }),
  'POST /api/v1/configurations/:serviceId/import': (target) => ({
    document: {
      format: 'configledger-export',
      version: 1,
      serviceId: target,
      exportedAt: new Date().toISOString(),
      schema: null,
      environments: {},
    },
  }),
  'PUT /api/v1/configurations/:serviceId/schema': () => ({ schema: { type: 'object' } }),
  'PUT /api/v1/configurations/:serviceId/:key': () => ({ value: 7 }),
  'POST /api/v1/credentials': (target, n) => ({
    key: `${target}-new-${n}`,
    value: 'v',
    type: 'api_key',
    serviceId: target,
    environment: 'production',
  }),
  'POST /api/v1/credentials/:key/rotate': () => ({}),
  'POST /api/v1/change-requests/:id/approve': () => ({ comment: 'matrix' }),
  'POST /api/v1/change-requests/:id/reject': () => ({ comment: 'matrix' }),
  'PUT /api/v1/approval-policies/:id': () => ({
    environments: ['staging'],
    keyPatterns: ['matrix.*'],
    requiredApprovals: 1,
  }),
  'POST /api/v1/environments': (_target, n) => ({ id: `matrix_${n}` }),
  'PUT /api/v1/environments/:id': () => ({ description: 'described by the matrix' }),
  'POST /api/v1/service-tokens': (target) => ({ serviceId: target }),
  'POST /api/v1/tokens/revocations': () => ({ jti: randomUUID() }),
};

/** Bodies that make a route need its escalated permission (see RouteRule.escalation). */
const ESCALATING_BODIES: Record<string, (n: number) => unknown> = {
  'PUT /api/v1/environments/:id': (n) => ({ inheritsFrom: n % 2 === 0 ? ['staging'] : ['development'] }),
};

describe('the authorization matrix: every route × every principal, in and out of scope', () => {
  let server: TestServer;
  let admin: string;
  const principals: Principal[] = [];
  const changeRequests: Record<Target, string> = { [INSIDE]: '', [OUTSIDE]: '' };
  const serviceTokens: Record<Target, string> = { [INSIDE]: '', [OUTSIDE]: '' };

  beforeAll(async () => {
    server = await startTestServer({
      lockout: { maxFailures: 1_000_000, windowSeconds: 60, lockSeconds: 1 },
      rateLimits: { perAddressPerMinute: 0, perPrincipalPerMinute: 0 },
    });
    admin = await server.token('root', ['admin']);
    const as = (token: string) => ({ token });
    await server.call('PUT', '/approval-policies/gated', {
      ...as(admin),
      body: { environments: ['production'], keyPatterns: ['gated.*'], requiredApprovals: 2 },
    });
    await server.call('POST', '/environments', { ...as(admin), body: { id: 'matrix_env' } });
    const writer = await server.token('fixture-writer', ['writer']);
    for (const target of [INSIDE, OUTSIDE] as const) {
      expect(
        (
          await server.call('PUT', `/configurations/${target}`, {
            ...as(admin),
            body: { configuration: { risk: { max: 0 } } },
          })
        ).status,
      ).toBe(201);
      await server.call('PUT', `/configurations/${target}`, {
        ...as(admin),
        body: { configuration: { risk: { max: 0 }, v: 2 } },
      });
      await server.call('POST', '/credentials', {
        ...as(admin),
        body: {
          key: `${target}-key`,
          value: `secret-of-${target}`,
          type: 'api_key',
          serviceId: target,
          environment: 'production',
        },
      });
      const opened = await server.call('PATCH', `/configurations/${target}`, {
        ...as(writer),
        body: { patch: { gated: { on: true } } },
      });
      changeRequests[target] = opened.body.data.changeRequest.id;
      serviceTokens[target] = (
        await server.call('POST', '/service-tokens', { ...as(admin), body: { serviceId: target } })
      ).body.data.id;
    }
    const insideToken = (await server.call('POST', '/service-tokens', { ...as(admin), body: { serviceId: INSIDE } }))
      .body.data.token as string;
    for (const role of ROLES) {
      const subject = role === 'service' ? INSIDE : `${role}-user`;
      const token = await server.token(subject, [role], [INSIDE]);
      principals.push({
        name: `${role} of ${INSIDE}`,
        roles: [role],
        unrestricted: false,
        headers: { authorization: `Bearer ${token}` },
      });
    }
    const writerEverywhere = await server.token('all-writer', ['writer']);
    principals.push({
      name: 'unrestricted writer',
      roles: ['writer'],
      unrestricted: true,
      headers: { authorization: `Bearer ${writerEverywhere}` },
    });
    principals.push({
      name: 'unrestricted admin',
      roles: ['admin'],
      unrestricted: true,
      headers: { authorization: `Bearer ${admin}` },
    });
    const malformed = await new SignJWT({ roles: ['admin'], services: INSIDE })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('mallory')
      .setExpirationTime('1h')
      .sign(new TextEncoder().encode(TEST_JWT_SECRET));
    principals.push({
      name: 'admin whose services claim is a string',
      roles: ['admin'],
      unrestricted: false,
      malformed: true,
      headers: { authorization: `Bearer ${malformed}` },
    });
    principals.push({
      name: `service token of ${INSIDE}`,
      roles: ['service'],
      unrestricted: false,
      headers: { 'x-service-token': insideToken },
    });
  });
  afterAll(async () => server?.close());

  function pathFor(url: string, target: Target): string {
    const credentialRoute = url.includes('/credentials/:key');
    return url
      .replace('/api/v1', '')
      .replace(':serviceId', target)
      .replace(':environment', 'production')
      .replace(':version', '1')
      .replace(':address', '192.0.2.1')
      .replace(':key', credentialRoute ? `${target}-key` : 'risk.max')
      .replace(':id', () => {
        if (url.includes('change-requests')) return changeRequests[target];
        if (url.includes('service-tokens')) return serviceTokens[target];
        if (url.includes('environments')) return url.startsWith('/api/v1/environments') ? 'matrix_env' : 'production';
        return 'matrix-policy';
      })
      .replace('*', 'swagger-ui.css');
  }

  type Expected = 'allowed' | 'UNAUTHORIZED' | 'INVALID_TOKEN' | 'FORBIDDEN' | 'OUT_OF_SCOPE';
  const mayAs = (principal: Principal, permission: RolePermission) =>
    principal.roles.some((role) => ROLES_FOR[permission].includes(role));
  function expectedFor(
    rule: RouteRule,
    method: string,
    principal: Principal | undefined,
    target: Target,
    escalated: boolean,
  ): Expected {
    if (rule.permission === 'public') return 'allowed';
    if (!principal) return 'UNAUTHORIZED';
    if (principal.malformed) return 'INVALID_TOKEN';
    if (rule.permission === 'session') return 'allowed';
    if (!mayAs(principal, rule.permission as RolePermission)) return 'FORBIDDEN';
    if (rule.scope === 'global' && method !== 'GET' && !principal.unrestricted) return 'OUT_OF_SCOPE';
    if (SCOPED.has(rule.scope) && target === OUTSIDE && !principal.unrestricted) return 'OUT_OF_SCOPE';
    if (escalated && rule.escalation && !mayAs(principal, rule.escalation.permission)) return 'FORBIDDEN';
    return 'allowed';
  }

  it('answers every HTTP route as the permission table says, and never shows a scoped principal another service', async () => {
    const routes = server.app.routeTable.filter((route) => route.method !== 'HEAD' && route.url !== '/api/v1/ws');
    expect(routes.length).toBeGreaterThan(50);
    // Destructive routes last, so the resources the others name still exist.
    routes.sort((a, b) => Number(a.method === 'DELETE') - Number(b.method === 'DELETE'));
    const failures: string[] = [];
    let n = 0;
    for (const route of routes) {
      const rule = ruleOf(route.method, route.url);
      if (!rule) {
        failures.push(`${route.method} ${route.url}: no entry in the permission table`);
        continue;
      }
      const key = `${route.method} ${route.url}`;
      const body = BODIES[key];
      if (['POST', 'PUT', 'PATCH'].includes(route.method) && !body && route.url !== '/api/v1/vault/rotate-key') {
        failures.push(`${key}: no request body in this test`);
        continue;
      }
      const targets: Target[] = SCOPED.has(rule.scope) ? [INSIDE, OUTSIDE] : [INSIDE];
      const escalating = ESCALATING_BODIES[key];
      if (rule.escalation && !escalating) failures.push(`${key}: no escalating body in this test`);
      const variants = [false, ...(escalating ? [true] : [])];
      // Least privileged first: an allowed call may consume what a later refused one still needs to find.
      for (const principal of [
        undefined,
        ...principals.filter((p) => !p.unrestricted),
        ...principals.filter((p) => p.unrestricted),
      ]) {
        for (const [target, escalated] of targets.flatMap((t) => variants.map((v) => [t, v] as const))) {
          const expected = expectedFor(rule, route.method, principal, target, escalated);
          const sent = escalated ? escalating!(n++) : body?.(target, n++);
          const answer = await server.call(route.method, pathFor(route.url, target), {
            headers: principal?.headers ?? {},
            body: sent,
          });
          const who = `${key}${escalated ? ' (escalating)' : ''} as ${principal?.name ?? 'nobody'} on ${target}`;
          const code = answer.body?.code as string | undefined;
          if (answer.status >= 500) failures.push(`${who}: ${answer.status} ${code}`);
          else if (expected === 'allowed' && (answer.status === 401 || answer.status === 403))
            failures.push(`${who}: expected allowed, got ${answer.status} ${code}`);
          else if (expected !== 'allowed' && code !== expected)
            failures.push(`${who}: expected ${expected}, got ${answer.status} ${code}`);
          else if (
            expected === 'allowed' &&
            principal &&
            !principal.unrestricted &&
            answer.status < 300 &&
            JSON.stringify(answer.body ?? '').includes(OUTSIDE)
          ) {
            failures.push(`${who}: the answer shows ${OUTSIDE}`);
          }
        }
      }
    }
    expect(failures).toEqual([]);
  }, 120_000);

  it('opens WebSocket sessions for principals only, and keeps their subscriptions within scope', async () => {
    const wsUrl = `${server.baseUrl.replace('http', 'ws')}/ws`;
    const nobody = new WsClient(wsUrl);
    await nobody.opened();
    nobody.send({ type: 'subscribe', data: { patterns: [`config.${INSIDE}.*`] } });
    expect((await nobody.next((m) => m.type === 'error')).data.code).toBe('UNAUTHORIZED');
    nobody.close();
    for (const principal of principals) {
      const token = principal.headers.authorization?.replace('Bearer ', '') ?? principal.headers['x-service-token']!;
      const client = new WsClient(wsUrl, ['configledger.v1', `bearer.${token}`]);
      await client.opened();
      if (principal.malformed) {
        expect((await client.closed).code).toBe(4401);
        continue;
      }
      await client.next((m) => m.type === 'connect');
      client.send({ id: 'in', type: 'subscribe', data: { patterns: [`config.${INSIDE}.*`] } });
      client.send({ id: 'out', type: 'subscribe', data: { patterns: [`config.${OUTSIDE}.*`] } });
      expect(
        (await client.next((m) => m.type === 'ack' && m.data.requestId === 'in')).data.subscribed,
        principal.name,
      ).toBe(true);
      if (principal.unrestricted)
        expect((await client.next((m) => m.type === 'ack' && m.data.requestId === 'out')).data.subscribed).toBe(true);
      else
        expect((await client.next((m) => m.type === 'error')).data, principal.name).toMatchObject({
          code: 'OUT_OF_SCOPE',
          requestId: 'out',
        });
      client.close();
    }
  });
});
