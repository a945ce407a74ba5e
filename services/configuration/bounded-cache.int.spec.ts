import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '#testing/server.ts';

describe('reads with a configuration cache smaller than the fleet', () => {
  let server: TestServer;
  let token: string;

  beforeAll(async () => {
    server = await startTestServer({ cacheMaxBytes: 16 * 1024 });
    token = await server.token('wren', ['writer']);
  });
  afterAll(async () => server?.close());

  it('answers every configuration, current after each change, from the read model when the cache let it go', async () => {
    const services = Array.from({ length: 120 }, (_, i) => `fleet-${i}`);
    for (const service of services)
      await server.call('PUT', `/configurations/${service}`, {
        token,
        body: { configuration: { service, limits: { n: 1 }, padding: 'x'.repeat(200) } },
      });
    const { cache } = server.app.readModels;
    expect(cache.size).toBeLessThan(services.length);
    expect(cache.bytes).toBeLessThanOrEqual(16 * 1024);

    for (const round of [2, 3]) {
      let position = 0;
      for (const service of services.filter((_, i) => i % 3 === 0)) {
        const written = await server.call('PUT', `/configurations/${service}/limits.n`, {
          token,
          body: { value: round },
        });
        position = written.body.data.position;
      }
      for (const [i, service] of services.entries()) {
        const read = await server.call('GET', `/configurations/${service}?minPosition=${position}`, { token });
        expect([service, read.body.data.configuration.limits.n]).toEqual([service, i % 3 === 0 ? round : 1]);
      }
    }
    expect(cache.misses).toBeGreaterThan(0);
  });
});
