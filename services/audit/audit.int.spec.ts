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

  it('keeps a hash chain that reports every break at its own position, an edited event and a deleted one alike', async () => {
    const intact = await server.call('GET', '/audit/verify', { token: auditor });
    expect(intact.body.data).toMatchObject({ intact: true, breakCount: 0, breaks: [], firstBreak: null, checkedEvents: Number(await server.storage.store.headPosition()) });

    const positionOf = async (where: string) =>
      Number((await server.storage.readModels.query<{ position: string }>(`SELECT position::text AS position FROM events WHERE ${where}`)).rows[0]!.position);
    const edited = await positionOf("stream_name = 'config-alpha-production' AND stream_revision = 1");
    const deleted = await positionOf("event_type = 'SchemaRegistered'");
    expect(deleted).toBeGreaterThan(edited + 0);
    await server.storage.readModels.query(`UPDATE events SET data = jsonb_set(data, '{configuration,a}', '999') WHERE position = $1`, [edited]);
    await server.storage.readModels.query('DELETE FROM events WHERE position = $1', [deleted]);

    const broken = await server.call('GET', '/audit/verify', { token: auditor });
    expect(broken.body.data).toMatchObject({
      intact: false,
      firstBreak: edited,
      breakCount: 2,
      breaks: [
        { position: edited, kind: 'altered' },
        { position: deleted, kind: 'missing' },
      ],
    });

    const cli = (options: string[]) =>
      run(process.execPath, ['services/cli/bin.js', 'verify', ...options], { env: { ...process.env, DATABASE_URL: server.databaseUrl, EVENTSTORE_URL: '' } }).catch(
        (error: { code: number; stdout: string }) => error,
      );
    const text = await cli([]);
    expect((text as { code?: number }).code).toBe(1);
    expect(text.stdout).toContain(`2 break(s), the first at position ${edited}`);
    expect(text.stdout).toContain(`position ${deleted}: the event chained at position ${deleted}`);
    const json = await cli(['--output', 'json']);
    expect((json as { code?: number }).code).toBe(1);
    expect(JSON.parse(json.stdout)).toEqual(broken.body.data);
  });
});
