import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { gunzipSync, gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '#infra/testing/postgres.ts';
import { startTestServer, type TestServer } from '#infra/testing/server.ts';
import { createBackup } from './backup.ts';

const run = promisify(execFile);
const cli = (...args: string[]) =>
  run(process.execPath, ['services/cli/bin.js', ...args], { env: { ...process.env, EVENTSTORE_URL: '' } }).then(
    ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
    (error: { code: number; stdout: string; stderr: string }) => error,
  );

describe('backup and restore of the whole log', () => {
  const dir = mkdtempSync(join(tmpdir(), 'configledger-backup-'));
  const file = join(dir, 'log.jsonl.gz');
  let primary: TestServer;
  let token: string;
  let midway: string;
  const targets: TestDatabase[] = [];
  const servers: TestServer[] = [];

  beforeAll(async () => {
    primary = await startTestServer();
    token = await primary.token('ops', ['admin']);
    for (let round = 1; round <= 3; round++) {
      for (const service of ['md-feed', 'router', 'risk']) {
        await primary.call('PUT', `/configurations/${service}/round`, { token, body: { value: round } }).then(async (r) =>
          r.status === 404 ? primary.call('PUT', `/configurations/${service}`, { token, body: { configuration: { round } } }) : r,
        );
      }
      if (round === 2) {
        await new Promise((resolve) => setTimeout(resolve, 30));
        midway = new Date().toISOString();
        await new Promise((resolve) => setTimeout(resolve, 30));
      }
    }
    await primary.call('POST', '/credentials', { token, body: { key: 'router-db', value: 'pw-1', type: 'database_password', serviceId: 'router', environment: 'production' } });
  });
  afterAll(async () => {
    for (const server of servers) await server.close();
    for (const target of targets) await target.drop();
    await primary?.close();
  });

  async function restored(extra: string[] = []) {
    const target = await createTestDatabase('configledger_restore');
    targets.push(target);
    const result = await cli('restore', '--from', file, '--target', target.url, ...extra);
    expect(result.stderr.replace(/restored \d+ events\r/g, '')).toBe('');
    expect(result.code).toBe(0);
    const server = await startTestServer({ databaseUrl: target.url });
    servers.push(server);
    return server;
  }
  const versionsOf = async (server: TestServer, service: string) =>
    (await server.call('GET', `/configurations/${service}/versions`, { token: await server.token('ops', ['admin']) })).body.data.map(
      (v: { version: number; checksum: string }) => [v.version, v.checksum],
    );

  it('restores into a second database with every configuration, version and checksum equal', async () => {
    const manifest = await createBackup(primary.storage.store, file, 'test');
    expect(manifest.eventCount).toBe(Number(await primary.storage.store.headPosition()));
    const copy = await restored();
    expect(await copy.storage.store.headPosition()).toBe(BigInt(manifest.lastPosition));
    for (const service of ['md-feed', 'router', 'risk']) expect(await versionsOf(copy, service)).toEqual(await versionsOf(primary, service));
    const admin = await copy.token('ops', ['admin']);
    const verdict = (await copy.call('GET', '/audit/verify', { token: admin })).body.data;
    expect(verdict, JSON.stringify(verdict)).toMatchObject({ intact: true });
  });

  it('restores to a time: exactly the state of that instant', async () => {
    const then = await restored(['--to-time', midway]);
    for (const service of ['md-feed', 'router', 'risk']) {
      const past = (await primary.call('GET', `/configurations/${service}?asOf=${midway}`, { token })).body.data;
      const now = (await then.call('GET', `/configurations/${service}`, { token: await then.token('ops', ['admin']) })).body.data;
      expect([now.version, now.checksum, now.configuration]).toEqual([past.version, past.checksum, { round: 2 }]);
    }
  });

  it('refuses an altered or truncated file before writing anything', async () => {
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
    ] as const) {
      const target = await createTestDatabase('configledger_restore');
      targets.push(target);
      const result = await cli('restore', '--from', broken, '--target', target.url);
      expect(result.code).toBe(1);
      expect(result.stderr).toContain('refused');
      expect(result.stderr).toContain(why === 'altered' ? 'altered' : 'truncated');
    }
  });
});
