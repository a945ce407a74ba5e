import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '#testing/server.ts';
import { rebuildReadModels } from './rebuild.ts';
import { READ_MODEL_TABLES } from './schema.ts';

describe('rebuilding the read models from the log', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer();
  });
  afterAll(async () => server?.close());

  async function snapshot(): Promise<Record<string, unknown[]>> {
    const tables: Record<string, unknown[]> = {};
    for (const table of READ_MODEL_TABLES) {
      const { rows } = await server.storage.readModels.query(`SELECT * FROM ${table} ORDER BY 1, 2, 3`);
      tables[table] = rows;
    }
    return tables;
  }

  it('drops every read model and ends with exactly the state it had before', async () => {
    const token = await server.token('rita', ['admin']);
    const call = (method: string, path: string, body: unknown) => server.call(method, path, { token, body });
    await call('POST', '/environments', { id: 'uat', inheritsFrom: ['staging'] });
    await call('PUT', '/configurations/md-feed/schema', { schema: { type: 'object' } });
    let position = 0;
    for (const service of ['md-feed', 'risk-engine', 'order-router']) {
      for (const environment of ['production', 'staging', 'uat']) {
        await call('PUT', `/configurations/${service}?environment=${environment}`, {
          configuration: { depth: 1, venue: environment },
        });
        for (let i = 0; i < 5; i++) {
          const written = await call('PATCH', `/configurations/${service}?environment=${environment}`, {
            patch: { depth: i + 2 },
          });
          position = written.body.data.position;
        }
      }
    }
    const rollback = await call('POST', '/configurations/md-feed/versions/2/rollback?environment=uat', {});
    position = rollback.body.data.position;
    expect(await server.app.ctx.readModels.runner.waitFor(BigInt(position), 5000)).toBe(true);
    await server.app.close();

    const before = await snapshot();
    expect(before.configuration_history!.length).toBe(3 * 3 * 6 + 1);
    const result = await rebuildReadModels(server.storage.store, server.storage.readModels);
    expect(result.events).toBe(3 * 3 * 6 + 1 + 2);
    expect(await snapshot()).toEqual(before);
  });
});
