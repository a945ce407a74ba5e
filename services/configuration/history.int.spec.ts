import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '#infra/testing/server.ts';

describe('reading the past from the log', () => {
  let server: TestServer;
  let token: string;
  beforeAll(async () => {
    server = await startTestServer();
    token = await server.token('tia', ['writer']);
  });
  afterAll(async () => server?.close());

  const call = (method: string, path: string, body?: unknown) => server.call(method, path, { token, body });
  const pause = () => new Promise((resolve) => setTimeout(resolve, 25));

  it('answers the configuration as it was at an instant, and 404 before the first event', async () => {
    const beforeAnything = new Date().toISOString();
    await pause();
    const v1 = (await call('PUT', '/configurations/timeline', { configuration: { limit: 1 } })).body.data;
    await pause();
    const afterFirst = new Date().toISOString();
    await pause();
    const v2 = (await call('PATCH', '/configurations/timeline', { patch: { limit: 2 } })).body.data;
    await pause();
    const afterSecond = new Date().toISOString();
    await pause();
    await call('PATCH', '/configurations/timeline', { patch: { limit: 3 } });

    const none = await call('GET', `/configurations/timeline?asOf=${beforeAnything}`);
    expect([none.status, none.body.code]).toEqual([404, 'NO_CONFIGURATION_AT_THAT_TIME']);
    const first = await call('GET', `/configurations/timeline?asOf=${afterFirst}`);
    expect(first.body.data).toMatchObject({ version: 1, checksum: v1.checksum, configuration: { limit: 1 }, updatedBy: 'tia', asOf: afterFirst });
    expect((await call('GET', `/configurations/timeline?asOf=${afterSecond}`)).body.data).toMatchObject({ version: 2, checksum: v2.checksum });
    const both = await call('GET', `/configurations/timeline?asOf=${afterSecond}&version=1`);
    expect([both.status, both.body.code]).toEqual([400, 'VALIDATION_ERROR']);
  });

  it('answers at any log position, across interleaved streams, with every version exactly', async () => {
    const positions: number[] = [];
    for (let i = 1; i <= 40; i++) {
      positions.push((await call('PUT', '/configurations/dense', { configuration: { n: i } })).body.data.position);
      await call('PUT', '/configurations/noise', { configuration: { n: i } });
    }
    for (const [index, position] of positions.entries()) {
      expect((await call('GET', `/configurations/dense?atPosition=${position}`)).body.data).toMatchObject({ version: index + 1, configuration: { n: index + 1 } });
      if (index > 0) expect((await call('GET', `/configurations/dense?atPosition=${position - 1}`)).body.data.version).toBe(index);
    }
    expect((await call('GET', `/configurations/dense?atPosition=${positions[0]! - 1}`)).body.code).toBe('NO_CONFIGURATION_AT_THAT_TIME');
  });

  it('diffs two versions, an instant against now, and two environments', async () => {
    await call('PUT', '/configurations/diffy', { configuration: { a: 1, b: { c: 2 } } });
    const instant = new Date().toISOString();
    await pause();
    await call('PATCH', '/configurations/diffy', { patch: { a: 5, b: { d: 3 } } });
    const byVersion = await call('GET', '/configurations/diffy/diff?from=1&to=2');
    expect(byVersion.body.data).toMatchObject({ from: { version: 1 }, to: { version: 2 } });
    expect(byVersion.body.data.changes).toEqual([
      { path: 'a', oldValue: 1, newValue: 5 },
      { path: 'b.d', newValue: 3 },
    ]);
    const fromInstant = await call('GET', `/configurations/diffy/diff?from=${instant}`);
    expect(fromInstant.body.data.changes.map((c: { path: string }) => c.path)).toEqual(['a', 'b.d']);

    const staging = await call('PUT', '/configurations/diffy?environment=staging', { configuration: { a: 5, b: { c: 9 } } });
    await server.app.ledger.readModels.runner.waitFor(BigInt(staging.body.data.position), 5000, 'seen');
    const across = await call('GET', '/configurations/diffy/diff?fromEnvironment=staging&toEnvironment=production');
    expect(across.body.data.changes).toEqual([
      { path: 'b.c', oldValue: 9, newValue: 2 },
      { path: 'b.d', newValue: 3 },
    ]);
  });
});
