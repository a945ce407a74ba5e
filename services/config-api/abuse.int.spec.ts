import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SECURITY_STREAM } from '#events/security.ts';
import { startTestServer, type TestServer } from '#testing/server.ts';

describe('rate limits, lockout and their counters', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ rateLimits: { perPrincipalPerMinute: 5, perAddressPerMinute: 100 } });
  });
  afterAll(async () => server?.close());

  it('answers 429 RATE_LIMITED with Retry-After once a principal passes its limit', async () => {
    const token = await server.token('busy', ['reader']);
    const statuses: number[] = [];
    let last: Awaited<ReturnType<TestServer['call']>> | undefined;
    for (let i = 0; i < 7; i++) {
      last = await server.call('GET', '/environments', { token });
      statuses.push(last.status);
    }
    expect(statuses).toEqual([200, 200, 200, 200, 200, 429, 429]);
    expect(last!.body.code).toBe('RATE_LIMITED');
    expect(Number(last!.headers.get('retry-after'))).toBeGreaterThan(0);
    const other = await server.token('calm', ['reader']);
    expect((await server.call('GET', '/environments', { token: other })).status).toBe(200);
    expect((await server.call('GET', '/health')).status).toBe(200);
  });

  it('locks out an address after repeated failed authentication, records it, and counts every refusal', async () => {
    for (let i = 0; i < 10; i++) {
      expect((await server.call('GET', '/environments', { token: 'forged.token.value' })).status).toBe(401);
    }
    const valid = await server.token('honest', ['reader']);
    const locked = await server.call('GET', '/environments', { token: valid });
    expect([locked.status, locked.body.code]).toEqual([429, 'LOCKED_OUT']);
    expect(Number(locked.headers.get('retry-after'))).toBeGreaterThan(60);

    const recorded = [];
    for await (const event of server.storage.store.readStream(SECURITY_STREAM)) recorded.push(event);
    expect(recorded.map((event) => [event.type, event.data.sourceIp])).toEqual([
      ['AuthenticationLockedOut', '127.0.0.1'],
    ]);

    const metrics = await (await fetch(server.baseUrl.replace('/api/v1', '/metrics'))).text();
    expect(metrics).toMatch(/configuration_unauthorized_attempts_total\{reason="invalid_token"\} 10/);
    expect(metrics).toMatch(/configuration_unauthorized_attempts_total\{reason="locked_out"\} 1/);
    expect(metrics).toContain('credential_access_total');
  });
});

describe('rate limits shared through Redis', () => {
  const servers: TestServer[] = [];
  afterAll(async () => {
    for (const server of servers.reverse()) await server.close();
  });

  it('counts a principal across instances', async () => {
    const rateLimits = { perPrincipalPerMinute: 5, perAddressPerMinute: 0 };
    const redis = { url: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', namespace: `test-${Date.now()}-` };
    const first = await startTestServer({ rateLimits, redis });
    servers.push(first);
    const second = await startTestServer({ rateLimits, redis, databaseUrl: first.databaseUrl });
    servers.push(second);
    const token = await first.token('shared', ['reader']);
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++)
      statuses.push((await (i % 2 === 0 ? first : second).call('GET', '/environments', { token })).status);
    expect(statuses).toEqual([200, 200, 200, 200, 200, 429]);
  });
});
