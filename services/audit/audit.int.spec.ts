import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '#infra/testing/server.ts';

const run = promisify(execFile);

describe('the audit trail over the whole log', () => {
  let server: TestServer;
  let auditor: string;
  beforeAll(async () => {
    server = await startTestServer();
    auditor = await server.token('aud', ['auditor']);
    const uma = await server.token('uma', ['writer']);
    const vic = await server.token('vic', ['writer']);
    await server.call('PUT', '/configurations/alpha', { token: uma, body: { configuration: { a: 1 }, changeReason: 'first' } });
    await server.call('PUT', '/configurations/beta', { token: vic, body: { configuration: { b: 1 } } });
    await server.call('PUT', '/configurations/alpha/a', { token: vic, body: { value: 2 } });
    await server.call('PUT', '/configurations/alpha/schema', { token: uma, body: { schema: { type: 'object' } } });
    await server.call('POST', '/credentials', { token: uma, body: { key: 'alpha-db', value: 'pw', type: 'database_password', serviceId: 'alpha', environment: 'production' } });
    await server.app.ledger.readModels.runner.waitFor(await server.storage.store.headPosition(), 5000);
  });
  afterAll(async () => server?.close());

  const audit = (query: string, token = auditor) => server.call('GET', `/audit?${query}`, { token });

  it('filters by service, actor and event type, newest or oldest first, paged by position', async () => {
    const alpha = (await audit('serviceId=alpha')).body.data.entries;
    expect(alpha.map((e: { eventType: string }) => e.eventType)).toEqual(['CredentialStored', 'SchemaRegistered', 'ConfigurationUpdated', 'ConfigurationCreated']);
    expect((await audit('actor=vic&order=oldest')).body.data.entries.map((e: { serviceId: string }) => e.serviceId)).toEqual(['beta', 'alpha']);
    expect((await audit('eventType=ConfigurationCreated')).body.data.entries).toHaveLength(2);
    const page1 = (await audit('limit=2')).body.data;
    const page2 = (await audit(`limit=2&cursor=${page1.nextCursor}`)).body.data;
    expect(page2.entries[0].position).toBeLessThan(page1.entries[1].position);
    expect((await audit('serviceId=alpha', await server.token('rdr', ['reader']))).status).toBe(403);
    const scoped = await server.token('aud-beta', ['auditor'], ['beta']);
    expect((await audit('', scoped)).body.data.entries.map((e: { serviceId: string }) => e.serviceId)).toEqual(['beta']);
  });

  it('keeps a hash chain that finds an event edited in the database at exactly its position', async () => {
    const intact = await server.call('GET', '/audit/verify', { token: auditor });
    expect(intact.body.data).toMatchObject({ intact: true, checkedEvents: Number(await server.storage.store.headPosition()) });

    const { rows } = await server.storage.readModels.query<{ position: string }>(
      "SELECT position::text AS position FROM events WHERE stream_name = 'config-alpha-production' AND stream_revision = 1",
    );
    const edited = Number(rows[0]!.position);
    await server.storage.readModels.query(`UPDATE events SET data = jsonb_set(data, '{configuration,a}', '999') WHERE position = $1`, [edited]);

    const broken = await server.call('GET', '/audit/verify', { token: auditor });
    expect(broken.body.data).toMatchObject({ intact: false, brokenAt: edited, checkedEvents: edited - 1 });

    const cli = await run(process.execPath, ['services/cli/bin.js', 'verify'], { env: { ...process.env, DATABASE_URL: server.databaseUrl, EVENTSTORE_URL: '' } }).catch(
      (error: { code: number; stdout: string }) => error,
    );
    expect((cli as { code?: number }).code).toBe(1);
    expect(cli.stdout).toContain(`BROKEN at position ${edited}`);
  });
});
