import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '#testing/server.ts';

const run = promisify(execFile);

describe('replay into fresh tables while the service runs', () => {
  let server: TestServer;
  let token: string;
  beforeAll(async () => {
    server = await startTestServer();
    token = await server.token('rex', ['admin']);
    for (let i = 0; i < 60; i++)
      await server.call('PUT', `/configurations/replay-${i % 6}`, { token, body: { configuration: { i } } });
  });
  afterAll(async () => server?.close());

  const checksums = async () =>
    (
      await server.storage.readModels.query<{ service_id: string; version: number; checksum: string }>(
        'SELECT service_id, version, checksum FROM service_configurations ORDER BY service_id',
      )
    ).rows;

  it('serves reads throughout, swaps in a rebuilt state equal to the live one, and keeps projecting afterwards', async () => {
    await server.app.ctx.readModels.runner.waitFor(await server.storage.store.headPosition(), 5000);
    const before = await checksums();
    let reading = true;
    let failedReads = 0;
    let reads = 0;
    const reader = (async () => {
      while (reading) {
        const response = await server.call('GET', '/configurations/replay-1/versions?limit=1', { token });
        reads++;
        if (response.status !== 200) failedReads++;
      }
    })();
    // Writes during the replay land either in the fresh tables or in the catch-up before the swap.
    const writes = (async () => {
      for (let i = 0; i < 10; i++)
        await server.call('PUT', '/configurations/replay-0', { token, body: { configuration: { during: i } } });
    })();
    const replay = await run(process.execPath, ['services/cli/bin.js', 'replay'], {
      env: { ...process.env, DATABASE_URL: server.databaseUrl, EVENTSTORE_URL: '' },
    });
    await writes;
    reading = false;
    await reader;
    expect(replay.stdout).toMatch(/replayed \d+ events into fresh read models and swapped them in/);
    expect(replay.stderr).toMatch(/replayed \d+\/\d+ events, \d+ events\/s/);
    expect(reads).toBeGreaterThan(0);
    expect(failedReads).toBe(0);

    const last = await server.call('PUT', '/configurations/replay-5', {
      token,
      body: { configuration: { after: true } },
    });
    await server.app.ctx.readModels.runner.waitFor(BigInt(last.body.data.position), 5000);
    const after = await checksums();
    expect(after.find((row) => row.service_id === 'replay-0')!.version).toBe(
      before.find((row) => row.service_id === 'replay-0')!.version + 10,
    );
    expect(after.find((row) => row.service_id === 'replay-5')!.version).toBe(
      before.find((row) => row.service_id === 'replay-5')!.version + 1,
    );
    const untouched = (rows: typeof before) => rows.filter((row) => !['replay-0', 'replay-5'].includes(row.service_id));
    expect(untouched(after)).toEqual(untouched(before));
    const history = await server.call('GET', '/configurations/replay-0/versions?limit=1000', { token });
    expect(history.body.data).toHaveLength(after.find((row) => row.service_id === 'replay-0')!.version);
    const verdict = await server.call('GET', '/audit/verify', { token });
    expect(verdict.body.data.intact).toBe(true);
  });
});

describe('replay under 200 writes/s', () => {
  let server: TestServer;
  let token: string;
  beforeAll(async () => {
    server = await startTestServer();
    token = await server.token('rex', ['admin']);
    // Enough log for the replay to take a while: writers keep going through its catch-up and its swap.
    await Promise.all(
      Array.from({ length: 8 }, async (_, worker) => {
        for (let i = 0; i < 150; i++)
          await server.call('PUT', `/configurations/paced-${(worker * 150 + i) % 20}`, {
            token,
            body: { configuration: { worker, i } },
          });
      }),
    );
  }, 120_000);
  afterAll(async () => server?.close());

  it('keeps the audit chain intact and ends in the state the acknowledged writes made', async () => {
    const acknowledged = new Map<string, number>();
    let writing = true;
    const writers = Array.from({ length: 4 }, async (_, worker) => {
      // Each of 4 writers paces itself to 50 writes/s.
      for (let i = 0; writing; i++) {
        const started = performance.now();
        const serviceId = `paced-${(worker * 5 + i) % 20}`;
        const response = await server.call('PUT', `/configurations/${serviceId}`, {
          token,
          body: { configuration: { worker, i, during: true } },
        });
        expect(response.status).toBe(200);
        acknowledged.set(serviceId, Math.max(acknowledged.get(serviceId) ?? 0, response.body.data.version));
        await new Promise((resolve) => setTimeout(resolve, Math.max(0, 20 - (performance.now() - started))));
      }
    });
    for (let round = 0; round < 3; round++) {
      const { stderr } = await run(process.execPath, ['services/cli/bin.js', 'replay'], {
        env: { ...process.env, DATABASE_URL: server.databaseUrl, EVENTSTORE_URL: '' },
      });
      // Progress counts against the head as it moves: never more done than the total it names.
      const lines = [...stderr.matchAll(/replayed (\d+)\/(\d+) events/g)].map(
        ([, done, total]) => [Number(done), Number(total)] as const,
      );
      expect(lines.length).toBeGreaterThan(0);
      for (const [done, total] of lines) expect(done).toBeLessThanOrEqual(total);
    }
    writing = false;
    await Promise.all(writers);

    await server.app.ctx.readModels.runner.waitFor(await server.storage.store.headPosition(), 10_000);
    const verdict = await server.call('GET', '/audit/verify', { token });
    expect(verdict.body.data).toMatchObject({ intact: true, breakCount: 0, breaks: [] });
    const { rows } = await server.storage.readModels.query<{ service_id: string; version: number }>(
      "SELECT service_id, version FROM service_configurations WHERE service_id LIKE 'paced-%'",
    );
    expect(Object.fromEntries(rows.map((row) => [row.service_id, row.version]))).toEqual(
      Object.fromEntries(acknowledged),
    );
    const { rows: history } = await server.storage.readModels.query<{ count: string }>(
      "SELECT count(*) FROM configuration_history WHERE service_id LIKE 'paced-%'",
    );
    expect(Number(history[0]!.count)).toBe([...acknowledged.values()].reduce((sum, version) => sum + version, 0));
  }, 180_000);
});
