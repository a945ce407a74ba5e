import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mintToken } from '#infra/auth/tokens.ts';
import { TEST_JWT_SECRET, startTestServer, type TestServer } from '#testing/server.ts';
import { WsClient } from '#testing/ws-client.ts';

/** Every line the service logs, kept to be searched. */
class LogCapture extends Writable {
  readonly lines: string[] = [];
  override _write(chunk: Buffer, _encoding: BufferEncoding, done: () => void) {
    this.lines.push(...chunk.toString().split('\n').filter(Boolean));
    done();
  }
  get text() {
    return this.lines.join('\n');
  }
}

describe('sessions end when their credentials end, and no secret reaches the log', () => {
  let server: TestServer;
  let admin: string;
  const log = new LogCapture();
  const clients: WsClient[] = [];
  const used: string[] = [];

  beforeAll(async () => {
    server = await startTestServer({ logStream: log });
    admin = await server.token('root', ['admin']);
    used.push(admin);
  });
  afterAll(async () => {
    for (const client of clients) client.close();
    await server?.close();
  });

  const wsUrl = (query = '') => `${server.baseUrl.replace('http', 'ws')}/ws${query}`;
  async function open(query: string, protocols?: string[]) {
    const client = new WsClient(wsUrl(query), protocols);
    clients.push(client);
    await client.opened();
    await client.next((m) => m.type === 'connect');
    return client;
  }
  async function subscribe(client: WsClient, service: string) {
    client.send({ type: 'subscribe', data: { patterns: [`config.${service}.*`] } });
    await client.next((m) => m.type === 'ack');
  }
  const write = (service: string, value: unknown) =>
    server.call('PUT', `/configurations/${service}`, { token: admin, body: { configuration: { value } } });

  it('closes a socket opened with a service token with 4401 within a second of the token’s revocation, and sends it nothing more', async () => {
    const issued = await server.call('POST', '/service-tokens', { token: admin, body: { serviceId: 'revoked-svc' } });
    const { id, token } = issued.body.data as { id: string; token: string };
    used.push(token);
    await write('revoked-svc', 1);
    const byQuery = await open(`?token=${token}`);
    const byProtocol = await open('', ['configledger.v1', `bearer.${token}`]);
    expect(byProtocol.socket.protocol).toBe('configledger.v1');
    for (const client of [byQuery, byProtocol]) await subscribe(client, 'revoked-svc');

    expect((await server.call('DELETE', `/service-tokens/${id}`, { token: admin })).status).toBe(204);
    const revokedAt = Date.now();
    for (const client of [byQuery, byProtocol]) {
      const closed = await client.closed;
      expect(closed.code).toBe(4401);
      expect(closed.at - revokedAt).toBeLessThan(1000);
    }
    await write('revoked-svc', 2);
    await new Promise((resolve) => setTimeout(resolve, 200));
    for (const client of [byQuery, byProtocol])
      expect(client.messages.filter((m) => m.type === 'configuration_changed')).toEqual([]);
  });

  it('refuses a revoked JWT on every instance and closes its sessions with 4401 within a second, other tokens untouched', async () => {
    const second = await startTestServer({ databaseUrl: server.databaseUrl });
    try {
      const token = await server.token('leaver', ['reader']);
      const other = await server.token('stayer', ['reader']);
      used.push(token, other);
      const jti = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()).jti as string;
      expect(jti).toMatch(/^[0-9a-f-]{36}$/);
      const session = new WsClient(`${second.baseUrl.replace('http', 'ws')}/ws`, [
        'configledger.v1',
        `bearer.${token}`,
      ]);
      clients.push(session);
      await session.opened();
      const revoked = await server.call('POST', '/tokens/revocations', {
        token: admin,
        body: { jti, reason: 'left the desk' },
      });
      expect(revoked.status).toBe(201);
      const revokedAt = Date.now();
      expect((await server.call('GET', '/environments', { token })).status).toBe(401);
      const closed = await session.closed;
      expect([closed.code, closed.at - revokedAt < 1000]).toEqual([4401, true]);
      expect((await second.call('GET', '/environments', { token })).body.code).toBe('INVALID_TOKEN');
      expect((await second.call('GET', '/environments', { token: other })).status).toBe(200);
      const reader = await server.token('aud', ['auditor']);
      const audit = await server.call(
        'GET',
        `/audit?eventType=TokenRevoked&minPosition=${revoked.body.data.position}`,
        { token: reader },
      );
      expect(audit.body.data.entries[0]).toMatchObject({ actor: 'root', reason: 'left the desk' });

      // A service token is not a JWT id: refused, pointing at its own revocation, and never written to the log.
      const issued = await server.call('POST', '/service-tokens', { token: admin, body: { serviceId: 'leaver-svc' } });
      for (const jti of [issued.body.data.token, 'not-a-token-id']) {
        const refused = await server.call('POST', '/tokens/revocations', { token: admin, body: { jti } });
        expect([refused.status, refused.body.code]).toEqual([400, 'VALIDATION_ERROR']);
        expect(JSON.stringify(refused.body)).not.toContain(issued.body.data.token);
      }
      const written = await server.call('GET', '/audit?eventType=TokenRevoked', { token: reader });
      expect(JSON.stringify(written.body)).not.toContain('clst_');
    } finally {
      await second.app.close();
      await second.storage.close();
    }
  });

  it('closes a socket with 4401 when its JWT expires', async () => {
    const token = await mintToken(TEST_JWT_SECRET, { subject: 'short', roles: ['reader'] }, '2s');
    used.push(token);
    const client = await open('', ['configledger.v1', `bearer.${token}`]);
    await subscribe(client, 'expiring-svc');
    const expiresAt = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()).exp * 1000;
    const closed = await client.closed;
    expect(closed.code).toBe(4401);
    expect(closed.at).toBeGreaterThanOrEqual(expiresAt);
    expect(closed.at - expiresAt).toBeLessThan(1000);
    await write('expiring-svc', 1);
    expect(client.messages.filter((m) => m.type === 'configuration_changed')).toEqual([]);
  });

  it('refuses a connect message whose token has already expired', async () => {
    const token = await mintToken(TEST_JWT_SECRET, { subject: 'late', roles: ['reader'] }, '1s');
    await new Promise((resolve) => setTimeout(resolve, 1100));
    const client = new WsClient(wsUrl());
    clients.push(client);
    await client.opened();
    client.send({ type: 'connect', data: { token } });
    expect((await client.closed).code).toBe(4401);
  });

  it('never writes a token or a secret value to its log, whichever way it was sent', async () => {
    const reader = await server.token('reader-1', ['reader']);
    used.push(reader);
    const issued = await server.call('POST', '/service-tokens', { token: admin, body: { serviceId: 'logged-svc' } });
    const serviceToken = issued.body.data.token as string;
    used.push(serviceToken);
    const value = 'the-plaintext-password-4711';
    used.push(value);
    await server.call('POST', '/credentials', {
      token: admin,
      body: { key: 'logged-db', value, type: 'database_password', serviceId: 'logged-svc', environment: 'production' },
    });
    await server.call('GET', '/credentials/logged-db', { token: admin });
    await server.call('GET', '/configurations/logged-svc', { headers: { 'x-service-token': serviceToken } });
    await server.call('GET', '/configurations/logged-svc', { token: 'forged.jwt.value-4712' });
    used.push('forged.jwt.value-4712');
    await open(`?token=${reader}`);
    await open(`?token=${serviceToken}`);
    await open(`?%74oken=${serviceToken}`);
    await server.call('GET', `/environments?access_token=${reader}&x=${serviceToken}`, { token: reader });
    await open('', ['configledger.v1', `bearer.${serviceToken}`]);
    const refused = new WsClient(wsUrl('?token=forged.ws.token-4713'));
    clients.push(refused);
    await refused.closed;
    used.push('forged.ws.token-4713');
    await new Promise((resolve) => setTimeout(resolve, 100));

    expect(log.lines.length).toBeGreaterThan(5);
    expect(log.text).toContain('token=[REDACTED]');
    for (const secret of used) {
      expect(log.text.includes(secret), `log holds ${secret.slice(0, 12)}…`).toBe(false);
      // A JWT's signature alone is enough to replay it.
      const signature = secret.split('.')[2];
      if (signature && signature.length > 20) expect(log.text.includes(signature)).toBe(false);
    }
  });
});
