import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '#testing/server.ts';

describe('request bodies', () => {
  let server: TestServer;
  let admin: string;
  beforeAll(async () => {
    server = await startTestServer();
    admin = await server.token('root', ['admin']);
    await server.call('POST', '/credentials', {
      token: admin,
      body: { key: 'body-key', value: 'v', type: 'api_key', serviceId: 'bodies', environment: 'production' },
    });
  });
  afterAll(async () => server?.close());

  const send = (method: string, path: string, init: { body?: string; contentType?: string } = {}) =>
    fetch(`${server.baseUrl}${path}`, {
      method,
      headers: { authorization: `Bearer ${admin}`, ...(init.contentType ? { 'content-type': init.contentType } : {}) },
      ...(init.body !== undefined ? { body: init.body } : {}),
    }).then(async (response) => ({
      status: response.status,
      body: (await response.json()) as { code?: string; error?: string },
    }));

  it('takes a route whose body has only optional fields with no body at all, or an empty one', async () => {
    expect((await send('POST', '/credentials/body-key/rotate')).status).toBe(200);
    expect((await send('POST', '/credentials/body-key/rotate', { contentType: 'application/json' })).status).toBe(200);
  });

  it('answers a body that is not declared JSON 415 UNSUPPORTED_MEDIA_TYPE, naming the header to send, and never parses it as text', async () => {
    for (const contentType of ['text/plain;charset=UTF-8', 'application/x-www-form-urlencoded']) {
      const answer = await send('PUT', '/configurations/bodies', { body: '{"configuration":{"a":1}}', contentType });
      expect(answer.status).toBe(415);
      expect(answer.body.code).toBe('UNSUPPORTED_MEDIA_TYPE');
      expect(answer.body.error).toContain('Content-Type: application/json');
    }
    expect((await server.call('GET', '/configurations/bodies', { token: admin })).status).toBe(404);
  });
});
