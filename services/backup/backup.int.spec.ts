import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { gunzipSync, gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '#testing/postgres.ts';
import { startTestServer, type TestServer } from '#testing/server.ts';
import { openPostgres } from '#infra/postgres/database.ts';
import { GENESIS, linkOf } from '#projections/audit/chain.ts';
import { type BackupEvent, type BackupManifest, fromLine } from './format.ts';

const run = promisify(execFile);

describe('backup and restore of the whole log', () => {
  const dir = mkdtempSync(join(tmpdir(), 'configledger-backup-'));
  const dataDir = join(dir, 'data');
  const file = join(dir, 'log.jsonl.gz');
  const passphraseFile = join(dir, 'passphrase');
  writeFileSync(passphraseFile, 'correct horse battery staple\n');
  const env = {
    ...process.env,
    EVENTSTORE_URL: '',
    DATA_DIR: dataDir,
    CHAIN_SIGNING_KEY: 'a-chain-signing-key-of-at-least-32-chars',
    BACKUP_KEYS_PASSPHRASE: '',
  };
  const cli = (args: string[], extraEnv: Record<string, string> = {}) =>
    run(process.execPath, ['services/cli/bin.js', ...args], { env: { ...env, ...extraEnv } }).then(
      ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
      (error: { code: number; stdout: string; stderr: string }) => error,
    );
  let primary: TestServer;
  let token: string;
  let midway: string;
  const targets: TestDatabase[] = [];
  const servers: TestServer[] = [];

  beforeAll(async () => {
    // The primary's key ring is where the CLI (DATA_DIR) looks for it.
    primary = await startTestServer({ keyFile: join(dataDir, 'secrets', 'master-keys.json') });
    token = await primary.token('ops', ['admin']);
    for (let round = 1; round <= 3; round++) {
      for (const service of ['md-feed', 'router', 'risk']) {
        await primary
          .call('PUT', `/configurations/${service}/round`, { token, body: { value: round } })
          .then(async (r) =>
            r.status === 404
              ? primary.call('PUT', `/configurations/${service}`, { token, body: { configuration: { round } } })
              : r,
          );
      }
      if (round === 2) {
        await new Promise((resolve) => setTimeout(resolve, 30));
        midway = new Date().toISOString();
        await new Promise((resolve) => setTimeout(resolve, 30));
      }
    }
    await primary.call('POST', '/credentials', {
      token,
      body: {
        key: 'router-db',
        value: 'pw-1',
        type: 'database_password',
        serviceId: 'router',
        environment: 'production',
      },
    });
    await primary.app.ctx.readModels.runner.waitFor(await primary.storage.store.headPosition(), 5000);
  });
  afterAll(async () => {
    for (const server of servers) await server.close();
    for (const target of targets) await target.drop();
    await primary?.close();
  });

  const backup = (out: string, extra: string[] = [], extraEnv: Record<string, string> = {}) =>
    cli(['backup', '--out', out, ...extra], { DATABASE_URL: primary.databaseUrl!, ...extraEnv });
  async function restoreInto(from: string, extra: string[] = [], extraEnv: Record<string, string> = {}) {
    const target = await createTestDatabase('configledger_restore');
    targets.push(target);
    return { target, result: await cli(['restore', '--from', from, '--target', target.url, ...extra], extraEnv) };
  }
  async function restored(from = file, extra: string[] = [], keyFile?: string) {
    const { target, result } = await restoreInto(from, extra);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const server = await startTestServer({ databaseUrl: target.url, ...(keyFile ? { keyFile } : {}) });
    servers.push(server);
    return { server, stdout: result.stdout };
  }
  const historyOf = async (server: TestServer, service: string) =>
    (
      await server.call('GET', `/configurations/${service}/versions`, { token: await server.token('ops', ['admin']) })
    ).body.data.map((v: { version: number; checksum: string; changedAt: string }) => [
      v.version,
      v.checksum,
      v.changedAt,
    ]);
  const manifestOf = (path: string) =>
    JSON.parse(gunzipSync(readFileSync(path)).toString().trim().split('\n').at(-1)!).manifest as BackupManifest;

  it('restores into a second database with every version, checksum and recorded time equal, so the past reads the same', async () => {
    const made = await backup(file);
    expect(made.code).toBe(0);
    expect(made.stdout).toMatch(/audit chain verified up to position \d+; signed chain head [0-9a-f]{64}/);
    const manifest = manifestOf(file);
    expect(manifest).toMatchObject({
      eventCount: Number(await primary.storage.store.headPosition()),
      chain: { intact: true, breakCount: 0 },
    });

    const { server: copy, stdout } = await restored();
    expect(stdout).toContain("the backup's audit chain and its signature verified");
    expect(stdout).toMatch(/the restored log starts epoch \d{13}/);
    for (const service of ['md-feed', 'router', 'risk']) {
      const history = await historyOf(primary, service);
      expect(await historyOf(copy, service)).toEqual(history);
      // Every version's own instant answers that version, on the original and on the copy alike.
      for (const [version, , changedAt] of history) {
        const onPrimary = await primary.call('GET', `/configurations/${service}?asOf=${changedAt}`, { token });
        const onCopy = await copy.call('GET', `/configurations/${service}?asOf=${changedAt}`, {
          token: await copy.token('ops', ['admin']),
        });
        expect(onPrimary.body.data.version).toBe(version);
        // The same answer, in the copy's own epoch (a restored log starts a new one).
        expect(onCopy.body.data.epoch).toBeGreaterThan(0);
        expect({ ...onCopy.body.data, epoch: 0 }).toEqual(onPrimary.body.data);
      }
    }
    const admin = await copy.token('ops', ['admin']);
    expect((await copy.call('GET', '/audit/verify', { token: admin })).body.data).toMatchObject({
      intact: true,
      breakCount: 0,
    });
    const restore = (await copy.call('GET', '/audit?eventType=LogRestored', { token: admin })).body.data.entries;
    expect(restore).toHaveLength(1);
    expect(restore[0].actor).toMatch(/^cli:/);
  });

  it('restores to a time: exactly the state of that instant', async () => {
    const { server: then } = await restored(file, ['--to-time', midway]);
    for (const service of ['md-feed', 'router', 'risk']) {
      const past = (await primary.call('GET', `/configurations/${service}?asOf=${midway}`, { token })).body.data;
      const now = (await then.call('GET', `/configurations/${service}`, { token: await then.token('ops', ['admin']) }))
        .body.data;
      expect([now.version, now.checksum, now.configuration]).toEqual([past.version, past.checksum, { round: 2 }]);
    }
  });

  it('refuses a missing, altered or truncated file before writing anything, without a stack trace', async () => {
    const lines = gunzipSync(readFileSync(file)).toString().split('\n');
    lines[3] = lines[3]!.replace('"round":', '"round": 1, "x":');
    const altered = join(dir, 'altered.jsonl.gz');
    writeFileSync(altered, gzipSync(lines.join('\n')));
    const truncated = join(dir, 'truncated.jsonl.gz');
    const bytes = readFileSync(file);
    writeFileSync(truncated, bytes.subarray(0, Math.floor(bytes.length / 2)));
    for (const [broken, why] of [
      [altered, 'altered'],
      [truncated, 'truncated'],
      [join(dir, 'missing.jsonl.gz'), 'there is no backup at'],
    ] as const) {
      const { target, result } = await restoreInto(broken);
      expect(result.code).toBe(1);
      expect(result.stderr).toContain('refused');
      expect(result.stderr).toContain(why);
      expect(result.stderr).not.toMatch(/\n\s+at /);
      const db = openPostgres(target.url);
      const table = await db.query<{ exists: boolean }>("SELECT to_regclass('events') IS NOT NULL AS exists");
      const written = table.rows[0]!.exists
        ? (await db.query<{ n: number }>('SELECT count(*)::int AS n FROM events')).rows[0]!.n
        : 0;
      await db.close();
      expect(written).toBe(0);
    }
  });

  it('says which folder is missing when the backup cannot be written there, without a stack trace', async () => {
    const nowhere = join(dir, 'no-such-folder', 'log.jsonl.gz');
    const refused = await backup(nowhere);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(
      `cannot write the backup to ${nowhere}: the folder ${join(dir, 'no-such-folder')} does not exist`,
    );
    expect(refused.stderr).not.toMatch(/\n\s+at /);
  });

  it('refuses a file rewritten consistently by someone without the signing key, and a restore under another key', async () => {
    // Edit an event and fix up everything that can be recomputed without the key: the content hash and the chain heads.
    const lines = gunzipSync(readFileSync(file)).toString().trim().split('\n');
    const manifest = JSON.parse(lines.at(-1)!).manifest as BackupManifest;
    const events = lines.slice(1, -1).map((line) => JSON.parse(line) as BackupEvent);
    events[2]!.data = { ...events[2]!.data, configuration: { round: 99 } };
    let hash = GENESIS;
    for (const event of events) hash = linkOf(hash, fromLine(event));
    const body = events.map((event) => JSON.stringify(event));
    const { createHash } = await import('node:crypto');
    const sha256 = createHash('sha256')
      .update(body.map((line) => `${line}\n`).join(''))
      .digest('hex');
    const forged = {
      ...manifest,
      sha256,
      chain: {
        ...manifest.chain!,
        head: { ...manifest.chain!.head, hash },
        logHead: { ...manifest.chain!.logHead, hash },
      },
    };
    const rewritten = join(dir, 'rewritten.jsonl.gz');
    writeFileSync(rewritten, gzipSync([lines[0], ...body, JSON.stringify({ manifest: forged })].join('\n')));
    const refused = (await restoreInto(rewritten)).result;
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('the manifest signature does not verify');
    const otherKey = (await restoreInto(file, [], { CHAIN_SIGNING_KEY: 'another-chain-signing-key-32-characters!' }))
      .result;
    expect(otherKey.code).toBe(1);
    expect(otherKey.stderr).toContain('the manifest signature does not verify');
  });

  it('carries the vault keys when asked: without them a credential says its key is missing, with them it decrypts', async () => {
    const withKeys = join(dir, 'with-keys.jsonl.gz');
    expect((await backup(withKeys, ['--with-keys'])).stderr).toContain('needs BACKUP_KEYS_PASSPHRASE');
    const made = await backup(withKeys, ['--with-keys', '--keys-passphrase-file', passphraseFile]);
    expect(made.code).toBe(0);
    expect(made.stdout).toMatch(/with 1 credential keys and 1 key-encryption keys/);
    // The key-encryption key travels sealed, never as it is.
    const kek = Object.values(
      JSON.parse(readFileSync(join(dataDir, 'secrets', 'master-keys.json'), 'utf8')).keys as Record<string, string>,
    )[0]!;
    expect(gunzipSync(readFileSync(withKeys)).toString()).not.toContain(kek);

    // Without the passphrase: restored, with a warning, and the credential names what is missing.
    const { target, result } = await restoreInto(withKeys);
    expect(result.code).toBe(0);
    expect(result.stderr).toContain('warning: the backup holds the vault keys, but no passphrase was given');
    const keyless = await startTestServer({ databaseUrl: target.url });
    servers.push(keyless);
    const missing = await keyless.call('GET', '/credentials/router-db', {
      token: await keyless.token('ops', ['admin']),
    });
    expect(missing.status).toBe(503);
    expect(missing.body.code).toBe('CREDENTIAL_KEY_MISSING');
    expect(missing.body.error).toContain('restore');
    // The keys can follow later, without restoring the log again.
    const laterRing = join(dir, 'later', 'master-keys.json');
    const later = await cli([
      'restore-keys',
      '--from',
      withKeys,
      '--target',
      target.url,
      '--keys-passphrase-file',
      passphraseFile,
      '--key-ring',
      laterRing,
    ]);
    expect(later.stdout).toContain(
      `restored 1 credential keys into the target database and 1 key-encryption keys into ${laterRing}`,
    );
    const withRing = await startTestServer({ databaseUrl: target.url, keyFile: laterRing });
    servers.push(withRing);
    expect(
      (await withRing.call('GET', '/credentials/router-db', { token: await withRing.token('ops', ['admin']) })).body
        .data?.value,
    ).toBe('pw-1');

    const wrongFile = join(dir, 'wrong-passphrase');
    writeFileSync(wrongFile, 'not the passphrase at all\n');
    const wrong = (
      await restoreInto(withKeys, ['--keys-passphrase-file', wrongFile, '--key-ring', join(dir, 'wrong-ring.json')])
    ).result;
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toContain('does not open with this passphrase');

    const ring = join(dir, 'recovered', 'master-keys.json');
    const { server: recovered, stdout } = await restored(
      withKeys,
      ['--keys-passphrase-file', passphraseFile, '--key-ring', ring],
      ring,
    );
    expect(stdout).toContain(`the key ring into ${ring}`);
    const read = await recovered.call('GET', '/credentials/router-db', {
      token: await recovered.token('ops', ['admin']),
    });
    expect(read.status).toBe(200);
    expect(read.body.data.value).toBe('pw-1');
  });

  it('backs up an edited log with a warning, and restores it only with a recorded reason', async () => {
    const { rows } = await primary.storage.readModels.query<{ position: string }>(
      "SELECT position::text AS position FROM events WHERE stream_name = 'config-risk-production' AND stream_revision = 1",
    );
    const edited = Number(rows[0]!.position);
    await primary.storage.readModels.query(
      `UPDATE events SET data = jsonb_set(data, '{configuration,round}', '7') WHERE position = $1`,
      [edited],
    );
    // And an event deleted from the middle of a stream: its stream now jumps a revision.
    const deleted = Number(
      (
        await primary.storage.readModels.query<{ position: string }>(
          "SELECT position::text AS position FROM events WHERE stream_name = 'config-md-feed-production' AND stream_revision = 1",
        )
      ).rows[0]!.position,
    );
    await primary.storage.readModels.query('DELETE FROM events WHERE position = $1', [deleted]);
    const tampered = join(dir, 'tampered.jsonl.gz');
    const made = await backup(tampered);
    expect(made.code).toBe(1);
    const first = Math.min(edited, deleted);
    expect(made.stderr).toContain(`WARNING: the log fails verification: 2 break(s), the first at position ${first}`);
    expect(manifestOf(tampered).chain).toMatchObject({ intact: false, breakCount: 2, firstBreak: first });

    const refused = (await restoreInto(tampered)).result;
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(
      `the log failed verification when it was backed up: 2 break(s), the first at position ${first}`,
    );
    expect(refused.stderr).toContain('--accept-broken-chain --reason');
    const reasonless = (await restoreInto(tampered, ['--accept-broken-chain'])).result;
    expect(reasonless.code).toBe(2);

    const { server: copy, stdout } = await restored(tampered, [
      '--accept-broken-chain',
      '--reason',
      'INC-4711: only copy left',
    ]);
    expect(stdout).toContain('restored although its history cannot be vouched for');
    const admin = await copy.token('ops', ['admin']);
    const [entry] = (await copy.call('GET', '/audit?eventType=LogRestored', { token: admin })).body.data.entries;
    expect(entry.reason).toBe('INC-4711: only copy left');
    const { rows: restoreEvents } = await copy.storage.readModels.query<{
      data: { acceptedBrokenChain: { reason: string }; chain: { intact: boolean } };
    }>("SELECT data FROM events WHERE event_type = 'LogRestored'");
    expect(restoreEvents[0]!.data).toMatchObject({
      acceptedBrokenChain: { reason: 'INC-4711: only copy left' },
      chain: { intact: false, breakCount: 2 },
    });
    // The copy's own chain is intact since the restore; verify says what it could not prove before it.
    const verdict = (await copy.call('GET', '/audit/verify', { token: admin })).body.data;
    expect(verdict).toMatchObject({
      intact: true,
      caveats: [{ reason: expect.stringContaining('INC-4711: only copy left') }],
    });
    // What is left of the stream with the hole reads as it was backed up.
    expect((await copy.call('GET', '/configurations/md-feed', { token: admin })).body.data.configuration).toEqual(
      (await primary.call('GET', '/configurations/md-feed', { token })).body.data.configuration,
    );
  });
});
