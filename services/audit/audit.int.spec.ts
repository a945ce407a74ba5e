import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestServer, type TestServer } from '#testing/server.ts';
import { createTestDatabase } from '#testing/postgres.ts';
import { openPostgres } from '#infra/postgres/database.ts';
import { createSqlEventStore } from '#infra/eventstore/postgres.ts';
import { restoreBackup } from '#services/backup/restore.ts';
import { TEST_BROKERS } from '#testing/kafka.ts';
import { waitFor } from '#testing/wait.ts';
import { createKafka } from '#infra/kafka/topics.ts';
import { createBackup } from '#services/backup/backup.ts';
import { GENESIS, linkOf, verifyChain } from '#projections/audit/chain.ts';
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
    await server.call('PUT', '/configurations/alpha', {
      token: uma,
      body: { configuration: { a: 1 }, changeReason: 'first' },
    });
    await server.call('PUT', '/configurations/beta', { token: vic, body: { configuration: { b: 1 } } });
    await server.call('PUT', '/configurations/alpha/a', { token: vic, body: { value: 2 } });
    await server.call('PUT', '/configurations/alpha/schema', { token: uma, body: { schema: { type: 'object' } } });
    await server.call('POST', '/credentials', {
      token: uma,
      body: { key: 'alpha-db', value: 'pw', type: 'database_password', serviceId: 'alpha', environment: 'production' },
    });
    await server.app.ctx.readModels.runner.waitFor(await server.storage.store.headPosition(), 5000);
  });
  afterAll(async () => server?.close());

  const audit = (query: string, token = auditor) => server.call('GET', `/audit?${query}`, { token });

  it('filters by service, actor and event type, newest or oldest first, paged by position', async () => {
    const alpha = (await audit('serviceId=alpha')).body.data.entries;
    expect(alpha.map((e: { eventType: string }) => e.eventType)).toEqual([
      'CredentialStored',
      'SchemaRegistered',
      'ConfigurationUpdated',
      'ConfigurationCreated',
    ]);
    expect(
      (await audit('actor=vic&order=oldest')).body.data.entries.map((e: { serviceId: string }) => e.serviceId),
    ).toEqual(['beta', 'alpha']);
    expect((await audit('eventType=ConfigurationCreated')).body.data.entries).toHaveLength(2);
    const page1 = (await audit('limit=2')).body.data;
    const page2 = (await audit(`limit=2&cursor=${page1.nextCursor}`)).body.data;
    expect(page2.entries[0].position).toBeLessThan(page1.entries[1].position);
    expect((await audit('serviceId=alpha', await server.token('rdr', ['reader']))).status).toBe(403);
    const scoped = await server.token('aud-beta', ['auditor'], ['beta']);
    expect((await audit('', scoped)).body.data.entries.map((e: { serviceId: string }) => e.serviceId)).toEqual([
      'beta',
    ]);
  });

  it('keeps a hash chain that reports every break at its own position, an edited event and a deleted one alike', async () => {
    const intact = await server.call('GET', '/audit/verify', { token: auditor });
    expect(intact.body.data).toMatchObject({
      intact: true,
      breakCount: 0,
      breaks: [],
      firstBreak: null,
      checkedEvents: Number(await server.storage.store.headPosition()),
    });

    const positionOf = async (where: string) =>
      Number(
        (
          await server.storage.readModels.query<{ position: string }>(
            `SELECT position::text AS position FROM events WHERE ${where}`,
          )
        ).rows[0]!.position,
      );
    const edited = await positionOf("stream_name = 'config-alpha-production' AND stream_revision = 1");
    const deleted = await positionOf("event_type = 'SchemaRegistered'");
    expect(deleted).toBeGreaterThan(edited + 0);
    await server.storage.readModels.query(
      `UPDATE events SET data = jsonb_set(data, '{configuration,a}', '999') WHERE position = $1`,
      [edited],
    );
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
      run(process.execPath, ['services/cli/bin.js', 'verify', ...options], {
        env: { ...process.env, DATABASE_URL: server.databaseUrl, EVENTSTORE_URL: '' },
      }).catch((error: { code: number; stdout: string }) => error);
    const text = await cli([]);
    expect((text as { code?: number }).code).toBe(1);
    expect(text.stdout).toContain(`2 break(s), the first at position ${edited}`);
    expect(text.stdout).toContain(`position ${deleted}: the event chained at position ${deleted}`);
    const json = await cli(['--output', 'json']);
    expect((json as { code?: number }).code).toBe(1);
    expect(JSON.parse(json.stdout)).toEqual(broken.body.data);
  });
});

describe('audit rows for operators', () => {
  it('name the service of every row that concerns one, approvals and credentials included, with the client program and address', async () => {
    const server = await startTestServer();
    try {
      const admin = await server.token('root', ['admin']);
      const headers = { 'user-agent': 'deploy-bot/2.1' };
      await server.call('PUT', '/configurations/audited', {
        token: admin,
        body: { configuration: { risk: { limit: 1 } } },
        headers,
      });
      await server.call('PUT', '/approval-policies/audited', {
        token: admin,
        body: { environments: ['production'], keyPatterns: ['risk.*'], requiredApprovals: 1 },
      });
      const opened = await server.call('PATCH', '/configurations/audited', {
        token: await server.token('rae', ['writer']),
        body: { patch: { risk: { limit: 2 } } },
        headers,
      });
      const id = opened.body.data.changeRequest.id;
      await server.call('POST', `/change-requests/${id}/approve`, {
        token: await server.token('ann', ['approver']),
        body: {},
        headers,
      });
      await server.call('POST', '/credentials', {
        token: admin,
        body: {
          key: 'audited-db',
          value: 'pw',
          type: 'database_password',
          serviceId: 'audited',
          environment: 'production',
        },
        headers,
      });
      await server.call('POST', '/credentials/audited-db/rotate', { token: admin, body: {}, headers });
      await server.call('GET', '/credentials/audited-db', { token: admin, headers });
      const head = await server.storage.store.headPosition();
      const entries = (
        await server.call('GET', `/audit?serviceId=audited&order=oldest&minPosition=${head}`, { token: admin })
      ).body.data.entries as {
        eventType: string;
        serviceId: string;
        environment: string;
        userAgent: string | null;
        sourceIp: string;
      }[];
      expect(entries.map((entry) => entry.eventType)).toEqual([
        'ConfigurationCreated',
        'ChangeRequestOpened',
        'ChangeRequestApproved',
        'ConfigurationUpdated',
        'ChangeRequestApplied',
        'CredentialStored',
        'CredentialRotated',
        'CredentialAccessed',
      ]);
      for (const entry of entries)
        expect(entry).toMatchObject({ serviceId: 'audited', environment: 'production', sourceIp: '127.0.0.1' });
      // The change an approval applied comes from the request that completed the quorum.
      for (const entry of entries) expect(entry.userAgent).toBe('deploy-bot/2.1');
    } finally {
      await server.close();
    }
  });
});

describe('the audit chain held to signed heads kept outside the database', () => {
  const dir = mkdtempSync(join(tmpdir(), 'configledger-checkpoint-'));
  const cleanups: (() => Promise<unknown>)[] = [];
  afterAll(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
  });
  const cli = (args: string[], env: Record<string, string>) =>
    run(process.execPath, ['services/cli/bin.js', ...args], {
      env: { ...process.env, EVENTSTORE_URL: '', KAFKA_BROKERS: '', ...env },
    }).then(
      ({ stdout }) => ({ code: 0, stdout }),
      (error: { code: number; stdout: string }) => error,
    );
  const signedHead = (server: TestServer, epoch: number) =>
    checkpointOnKafka(createKafka(TEST_BROKERS, 'checkpoint-test'), server.chainSigningKey, epoch).then(
      (evidence) => evidence.head?.position,
    );

  /** What someone with write access to the database can do: edit events, then recompute every link from the first. */
  async function rewriteChain(server: TestServer, edit: string) {
    const db = server.storage.readModels;
    await db.query(edit);
    let previous = GENESIS;
    for await (const event of server.storage.store.readAll()) {
      previous = linkOf(previous, event);
      await db.query('UPDATE audit_chain SET hash = $2, event_id = $3 WHERE position = $1', [
        Number(event.position),
        previous,
        event.id,
      ]);
    }
  }

  it('finds a log rewritten together with its chain table (its first event renamed too), against the Kafka checkpoint and a backup manifest', async () => {
    const server = await startTestServer({ kafkaBrokers: TEST_BROKERS });
    cleanups.push(() => server.close());
    const admin = await server.token('ops', ['admin']);
    const service = `rewritten-${Date.now()}`;
    for (let i = 1; i <= 5; i++)
      await server.call('PUT', `/configurations/${service}`, { token: admin, body: { configuration: { limit: i } } });
    const head = await server.storage.store.headPosition();
    await server.app.ctx.readModels.runner.waitFor(head, 5000);
    const file = join(dir, 'log.jsonl.gz');
    await createBackup(server.storage.store, file, {
      chainDb: server.storage.readModels,
      signingKey: server.chainSigningKey,
      source: 'test',
    });
    // The publisher signs the chain head onto Kafka every few seconds while it moves.
    await waitFor(async () => (await signedHead(server, 0)) === Number(head), 20_000, 'the checkpoint');
    expect((await server.call('GET', '/audit/verify', { token: admin })).body.data).toMatchObject({
      intact: true,
      checkpoint: { found: true, position: Number(head), matches: true },
    });

    await rewriteChain(
      server,
      `UPDATE events SET data = jsonb_set(data, '{configuration,limit}', '1000'), event_id = CASE WHEN position = 1 THEN gen_random_uuid() ELSE event_id END
       WHERE position = 1 OR (stream_name = 'config-${service}-production' AND stream_revision = 2)`,
    );
    expect((await verifyChain(server.storage.store, server.storage.readModels)).intact).toBe(true);

    const verdict = (await server.call('GET', '/audit/verify', { token: admin })).body.data;
    expect(verdict).toMatchObject({
      intact: false,
      breakCount: 1,
      breaks: [{ position: Number(head), kind: 'checkpoint' }],
      checkpoint: { found: true, matches: false },
    });
    const env = { DATABASE_URL: server.databaseUrl!, CHAIN_SIGNING_KEY: server.chainSigningKey };
    const fromBackup = await cli(['verify', '--backup', file, '--output', 'json'], env);
    expect(fromBackup.code).toBe(1);
    expect(JSON.parse(fromBackup.stdout)).toMatchObject({
      intact: false,
      breaks: [{ kind: 'checkpoint', position: Number(head) }],
      checkpoint: { source: `backup ${file}` },
    });
    const fromKafka = await cli(['verify', '--output', 'json'], { ...env, KAFKA_BROKERS: TEST_BROKERS.join(',') });
    expect(JSON.parse(fromKafka.stdout)).toMatchObject({ intact: false, breaks: [{ kind: 'checkpoint' }] });
  }, 60_000);

  it('finds a removed record of a restore: a head signed for a later epoch than the log says it has', async () => {
    const primary = await startTestServer();
    cleanups.push(() => primary.close());
    const admin = await primary.token('ops', ['admin']);
    for (let i = 1; i <= 3; i++)
      await primary.call('PUT', '/configurations/restored', { token: admin, body: { configuration: { i } } });
    await primary.app.ctx.readModels.runner.waitFor(await primary.storage.store.headPosition(), 5000);
    const file = join(dir, 'to-restore.jsonl.gz');
    await createBackup(primary.storage.store, file, {
      chainDb: primary.storage.readModels,
      signingKey: primary.chainSigningKey,
      source: 'primary',
    });
    const target = await createTestDatabase('configledger_epoch_removed');
    cleanups.push(() => target.drop());
    const db = openPostgres(target.url);
    const store = await createSqlEventStore(db);
    const { epoch } = await restoreBackup(file, store, { signingKey: primary.chainSigningKey, actor: 'test' });
    await store.close();
    await db.close();
    const recovered = await startTestServer({ databaseUrl: target.url, kafkaBrokers: TEST_BROKERS });
    cleanups.push(() => recovered.close());
    const written = await recovered.call('PUT', '/configurations/restored', {
      token: admin,
      body: { configuration: { i: 4 } },
    });
    await recovered.app.ctx.readModels.runner.waitFor(BigInt(written.body.data.position), 5000);
    await waitFor(
      async () => (await signedHead(recovered, epoch)) === written.body.data.position,
      20_000,
      'the checkpoint of the restored log',
    );
    const backupOfCopy = join(dir, 'copy.jsonl.gz');
    await createBackup(recovered.storage.store, backupOfCopy, {
      chainDb: recovered.storage.readModels,
      signingKey: recovered.chainSigningKey,
      source: 'copy',
    });

    // Hide the restore: its event and link go, and the log's epoch falls back to 0.
    const rows = (
      await recovered.storage.readModels.query<{ position: string }>(
        "SELECT position::text AS position FROM events WHERE event_type = 'LogRestored'",
      )
    ).rows;
    await recovered.storage.readModels.query('DELETE FROM events WHERE position = $1', [rows[0]!.position]);
    await rewriteChain(recovered, `DELETE FROM audit_chain WHERE position = ${Number(rows[0]!.position)}`);
    expect((await verifyChain(recovered.storage.store, recovered.storage.readModels)).intact).toBe(true);
    const env = { DATABASE_URL: target.url, CHAIN_SIGNING_KEY: recovered.chainSigningKey };
    const fromKafka = await cli(['verify', '--output', 'json'], { ...env, KAFKA_BROKERS: TEST_BROKERS.join(',') });
    expect(fromKafka.code).toBe(1);
    expect(JSON.parse(fromKafka.stdout)).toMatchObject({ intact: false, checkpoint: { newerEpoch: epoch } });
    const fromBackup = await cli(['verify', '--backup', backupOfCopy, '--output', 'json'], env);
    expect(fromBackup.code).toBe(1);
    expect(JSON.parse(fromBackup.stdout)).toMatchObject({ intact: false, checkpoint: { newerEpoch: epoch } });
  }, 60_000);
});
