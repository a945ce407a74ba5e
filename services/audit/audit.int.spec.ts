import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TEST_CHAIN_SIGNING_KEY, startTestServer, type TestServer } from '#infra/testing/server.ts';
import { TEST_BROKERS } from '#infra/testing/kafka.ts';
import { waitFor } from '#infra/testing/wait.ts';
import { createKafka } from '#infra/kafka/topics.ts';
import { createBackup } from '#infra/backup/backup.ts';
import { linkOf, verifyChain } from '#projections/audit/chain.ts';
import { checkpointOnKafka } from '#projections/audit/checkpoint.ts';

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

describe('the audit chain held to signed heads kept outside the database', () => {
  let server: TestServer;
  const dir = mkdtempSync(join(tmpdir(), 'configledger-checkpoint-'));
  beforeAll(async () => {
    server = await startTestServer({ kafkaBrokers: TEST_BROKERS });
  });
  afterAll(async () => server?.close());

  it('finds a log rewritten together with its chain table, against the Kafka checkpoint and a backup manifest', async () => {
    const admin = await server.token('ops', ['admin']);
    const service = `rewritten-${Date.now()}`;
    for (let i = 1; i <= 5; i++) await server.call('PUT', `/configurations/${service}`, { token: admin, body: { configuration: { limit: i } } });
    const head = await server.storage.store.headPosition();
    await server.app.ledger.readModels.runner.waitFor(head, 5000);
    const file = join(dir, 'log.jsonl.gz');
    await createBackup(server.storage.store, file, { chainDb: server.storage.readModels, signingKey: TEST_CHAIN_SIGNING_KEY, source: 'test' });
    // The publisher signs the chain head onto Kafka every few seconds while it moves.
    await waitFor(async () => (await checkpointOnKafka(createKafka(TEST_BROKERS, 'checkpoint-test'), TEST_CHAIN_SIGNING_KEY, server.storage.store, 0))?.position === Number(head), 20_000, 'the checkpoint');
    expect((await server.call('GET', '/audit/verify', { token: admin })).body.data).toMatchObject({ intact: true, checkpoint: { position: Number(head), matches: true } });

    // Someone with database access edits an event and rewrites every link after it to match.
    const db = server.storage.readModels;
    const { rows } = await db.query<{ position: string }>(`SELECT position::text AS position FROM events WHERE stream_name = $1 AND stream_revision = 2`, [
      `config-${service}-production`,
    ]);
    const edited = Number(rows[0]!.position);
    await db.query(`UPDATE events SET data = jsonb_set(data, '{configuration,limit}', '1000') WHERE position = $1`, [edited]);
    let previous = (await db.query<{ hash: string }>('SELECT hash FROM audit_chain WHERE position = $1', [edited - 1])).rows[0]!.hash;
    for await (const event of server.storage.store.readAll({ fromPosition: BigInt(edited - 1) })) {
      previous = linkOf(previous, event);
      await db.query('UPDATE audit_chain SET hash = $2 WHERE position = $1', [Number(event.position), previous]);
    }
    const fooled = await verifyChain(server.storage.store, db);
    expect(fooled.intact).toBe(true);

    const verdict = (await server.call('GET', '/audit/verify', { token: admin })).body.data;
    expect(verdict).toMatchObject({ intact: false, breakCount: 1, breaks: [{ position: Number(head), kind: 'checkpoint' }], checkpoint: { matches: false } });
    const cli = await run(process.execPath, ['services/cli/bin.js', 'verify', '--backup', file, '--output', 'json'], {
      env: { ...process.env, DATABASE_URL: server.databaseUrl, EVENTSTORE_URL: '', CHAIN_SIGNING_KEY: TEST_CHAIN_SIGNING_KEY, KAFKA_BROKERS: '' },
    }).catch((error: { code: number; stdout: string }) => error);
    expect((cli as { code?: number }).code).toBe(1);
    expect(JSON.parse(cli.stdout)).toMatchObject({ intact: false, breaks: [{ kind: 'checkpoint', position: Number(head) }], checkpoint: { source: `backup ${file}` } });
  }, 60_000);
});
