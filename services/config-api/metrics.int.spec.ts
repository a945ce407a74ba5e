import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '#testing/server.ts';

describe('metrics and readiness', () => {
  let server: TestServer;
  let token: string;
  beforeAll(async () => {
    server = await startTestServer();
    token = await server.token('mo', ['writer']);
  });
  afterAll(async () => server?.close());

  it('exports request, cache, WebSocket, append and lag metrics by the names of the operations specification', async () => {
    const written = await server.call('PUT', '/configurations/metered', { token, body: { configuration: { a: 1 } } });
    for (let i = 0; i < 3; i++)
      await server.call('GET', `/configurations/metered?minPosition=${written.body.data.position}`, { token });
    await server.call('GET', '/configurations/unknown-service', { token });
    const text = await (await fetch(server.baseUrl.replace('/api/v1', '/metrics'))).text();
    expect(text).toMatch(
      /configuration_requests_total\{method="GET",route="\/api\/v1\/configurations\/:serviceId",status="200"\} 3/,
    );
    expect(text).toMatch(
      /configuration_requests_total\{method="GET",route="\/api\/v1\/configurations\/:serviceId",status="404"\} 1/,
    );
    expect(text).toMatch(/configuration_request_duration_seconds_bucket\{le="0.05",method="PUT"/);
    expect(text).toMatch(/configuration_eventstore_append_duration_seconds_count [1-9]/);
    expect(text).toMatch(/configuration_cache_hit_ratio 0\.\d+|configuration_cache_hit_ratio 1/);
    expect(text).toContain('configuration_websocket_connections 0');
    expect(text).toMatch(/configuration_projection_lag_events\{projection="read-models"\} \d+/);
    expect(text).toMatch(/configuration_projection_lag_seconds\{projection="read-models"\} [\d.]+/);
    expect(text).toContain('process_cpu_user_seconds_total');
  });

  it('is ready with every dependency listed, and not ready, with the reason, when the read models fall behind', async () => {
    const ready = await server.call('GET', '/health/ready');
    expect(ready.status).toBe(200);
    expect(Object.keys(ready.body.data.dependencies)).toEqual([
      'eventStore',
      'configurationAccess',
      'cacheHitRatio',
      'projections',
    ]);

    const { runner } = server.app.ctx.readModels;
    await runner.waitFor(await server.storage.store.headPosition(), 5000);
    await server.app.ctx.readModels.stop();
    const backlog = Array.from({ length: 1200 }, () => ({
      id: randomUUID(),
      type: 'EnvironmentDefined',
      data: { id: 'lagging', name: 'lagging', type: 'custom', inheritsFrom: [] },
      metadata: { actor: 'test' },
    }));
    await server.storage.store.append('environment-lagging', backlog, 'any');
    const behind = await server.call('GET', '/health/ready');
    expect(behind.status).toBe(503);
    // A loaded machine may add a slow read to the reasons; the lag must be among them.
    expect(behind.body.data.reasons).toContain('projections: 1200 events behind');
  });
});
