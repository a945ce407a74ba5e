import { type ChildProcess, spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { type Server, createServer, request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase } from '#testing/postgres.ts';
import { startTcpProxy } from '#testing/tcp-proxy.ts';
import { TEST_JWT_SECRET, startTestServer, type TestServer } from '#testing/server.ts';
import { waitFor } from '#testing/wait.ts';
import { COMMANDS } from './commands.ts';

const BIN = 'services/cli/bin.js';
const STACK = /\n\s+at /;
const dir = mkdtempSync(join(tmpdir(), 'configledger-cli-'));
/** An empty config home, so no profile file of the machine's user is read. */
const emptyConfigHome = join(dir, 'no-config');

/** The environment of a user with nothing configured. */
const bareEnv = () => {
  const env: NodeJS.ProcessEnv = { ...process.env, XDG_CONFIG_HOME: emptyConfigHome };
  for (const name of ['CONFIGLEDGER_URL', 'CONFIGLEDGER_TOKEN', 'CONFIGLEDGER_PROFILE', 'EDITOR', 'VISUAL'])
    delete env[name];
  return env;
};

interface Run {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<number | null>;
}

function start(args: string[], env: NodeJS.ProcessEnv, input = ''): Run {
  const child = spawn(process.execPath, [BIN, ...args], { env, stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  child.stdin!.end(input);
  return {
    child,
    stdout: () => stdout,
    stderr: () => stderr,
    exited: new Promise((resolve) => child.on('close', (code) => resolve(code))),
  };
}

async function run(args: string[], env: NodeJS.ProcessEnv, input?: string) {
  const running = start(args, env, input);
  const code = await running.exited;
  return { code, stdout: running.stdout(), stderr: running.stderr() };
}

describe('the configledger command line against a listening server', () => {
  let server: TestServer;
  let admin: string;
  /** The environment of a user pointed at the server with `token` (the admin's by default). */
  let as: (token?: string, extra?: Record<string, string>) => NodeJS.ProcessEnv;
  const cli = (args: string[], env = as(), input?: string) => run(args, env, input);
  const json = async (args: string[], env = as()) => {
    const result = await cli([...args, '--output', 'json'], env);
    expect(result.stderr).not.toMatch(STACK);
    expect(result.code, result.stderr).toBe(0);
    return JSON.parse(result.stdout);
  };

  beforeAll(async () => {
    mkdirSync(emptyConfigHome, { recursive: true });
    server = await startTestServer();
    admin = await server.token('root', ['admin']);
    as = (token = admin, extra = {}) => ({
      ...bareEnv(),
      CONFIGLEDGER_URL: server.baseUrl,
      CONFIGLEDGER_TOKEN: token,
      ...extra,
    });
  });
  afterAll(async () => server?.close());

  it('sets, reads, patches, lists the history of, diffs and rolls back a configuration', async () => {
    const created = await json(['put', 'order-router', 'risk.maxPosition', '100', '--reason', 'initial limits']);
    expect(created).toMatchObject({ serviceId: 'order-router', environment: 'production', version: 1 });
    const second = await json(['put', 'order-router', 'venue', 'XNYS']);
    expect(second).toMatchObject({ version: 2, changedKeys: ['venue'] });
    const between = new Date().toISOString();
    await new Promise((resolve) => setTimeout(resolve, 20));
    const patched = await json(['patch', 'order-router', '{"risk":{"maxPosition":250},"desk":"rates"}']);
    expect(patched).toMatchObject({ version: 3, changedKeys: ['desk', 'risk.maxPosition'] });

    const view = await json(['get', 'order-router', '--min-position', String(patched.position)]);
    expect(view.configuration).toEqual({ risk: { maxPosition: 250 }, venue: 'XNYS', desk: 'rates' });
    const table = await cli(['get', 'order-router']);
    expect(table.stdout).toMatch(/^risk\.maxPosition\s+250$/m);
    expect((await cli(['get', 'order-router', 'venue'])).stdout).toBe('XNYS\n');
    expect(await json(['get', 'order-router', 'risk.maxPosition', '--version', '1'])).toMatchObject({ value: 100 });
    expect((await json(['get', 'order-router', '--as-of', between])).version).toBe(2);

    const history = await json(['history', 'order-router', '--min-position', String(patched.position)]);
    expect(history.map((entry: { version: number }) => entry.version)).toEqual([3, 2, 1]);
    expect(history[2]).toMatchObject({ changeReason: 'initial limits', changedBy: 'root' });
    expect((await json(['history', 'order-router', '--limit', '1'])).length).toBe(1);

    const diff = await json(['diff', 'order-router', '--from', '1']);
    expect(diff.changes).toEqual([
      { path: 'desk', newValue: 'rates' },
      { path: 'risk.maxPosition', oldValue: 100, newValue: 250 },
      { path: 'venue', newValue: 'XNYS' },
    ]);
    expect((await cli(['diff', 'order-router', '--from', '1', '--to', '2'])).stdout).toContain('+ venue: "XNYS"');

    const rolledBack = await json(['rollback', 'order-router', '1', '--reason', 'too high']);
    expect(rolledBack).toMatchObject({ version: 4 });
    expect((await json(['get', 'order-router', '--min-position', String(rolledBack.position)])).configuration).toEqual({
      risk: { maxPosition: 100 },
    });

    const listed = await json(['services', '--prefix', 'order-']);
    expect(listed).toEqual([
      expect.objectContaining({
        serviceId: 'order-router',
        environments: [expect.objectContaining({ environment: 'production', version: 4 })],
      }),
    ]);
  });

  it('edits a configuration in $EDITOR and replaces it with --yes, leaving no temporary file behind', async () => {
    await json(['put', 'edited-svc', 'limits.max', '10']);
    await json(['put', 'edited-svc', 'old', 'true']);
    const editor = join(dir, 'rewrite.mjs');
    const log = join(dir, 'edited-files');
    writeFileSync(
      editor,
      `import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
const file = process.argv[2];
const document = JSON.parse(readFileSync(file, 'utf8'));
document.limits.max = 50;
delete document.old;
document.added = [1, 2];
writeFileSync(file, JSON.stringify(document));
appendFileSync(${JSON.stringify(log)}, file + '\\n');`,
    );
    const edited = await cli(
      ['edit', 'edited-svc', '--yes', '--reason', 'via edit'],
      as(admin, { EDITOR: `node ${editor}` }),
    );
    expect(edited.stderr).toBe('');
    expect(edited.code).toBe(0);
    expect(edited.stdout).toContain('~ limits.max: 10 -> 50');
    expect(edited.stdout).toContain('- old: true');
    expect(edited.stdout).toContain('+ added: [1,2]');
    expect(edited.stdout).toContain('edited-svc in production: version 3');
    expect(existsSync(readFileSync(log, 'utf8').trim())).toBe(false);
    const history = await json(['history', 'edited-svc', '--limit', '1', '--min-position', '1']);
    expect(history[0]).toMatchObject({ version: 3, changeReason: 'via edit', changeType: 'replace' });
    expect((await json(['get', 'edited-svc'])).configuration).toEqual({ limits: { max: 50 }, added: [1, 2] });
  });

  it('refuses an edit of a configuration someone else changed meanwhile with VERSION_CONFLICT, exit 1, keeping the edit', async () => {
    await json(['put', 'stale-svc', 'a', '1']);
    const editor = join(dir, 'stale.mjs');
    // While the person edits, someone else writes.
    writeFileSync(
      editor,
      `import { readFileSync, writeFileSync } from 'node:fs';
const file = process.argv[2];
const answer = await fetch(process.env.CONFIGLEDGER_URL + '/configurations/stale-svc/b', {
  method: 'PUT',
  headers: { authorization: 'Bearer ' + process.env.CONFIGLEDGER_TOKEN, 'content-type': 'application/json' },
  body: JSON.stringify({ value: 'theirs' }),
});
if (answer.status !== 200) process.exit(9);
const document = JSON.parse(readFileSync(file, 'utf8'));
document.a = 2;
writeFileSync(file, JSON.stringify(document));`,
    );
    const stale = await cli(['edit', 'stale-svc', '--yes'], as(admin, { EDITOR: `node ${editor}` }));
    expect(stale.code).toBe(1);
    expect(stale.stderr).toMatch(/^VERSION_CONFLICT: someone else changed stale-svc in production since version 1/m);
    expect(stale.stderr).not.toMatch(STACK);
    const kept = /your edit is kept at (\S+\.json)/.exec(stale.stderr)?.[1];
    expect(kept && JSON.parse(readFileSync(kept, 'utf8'))).toEqual({ a: 2 });
    expect((await json(['get', 'stale-svc'])).configuration).toEqual({ a: 1, b: 'theirs' });
  });

  it('watches a configuration, printing one JSON line per change as it happens, and exits 0 on Ctrl-C', async () => {
    await json(['put', 'watched-svc', 'level', '1']);
    const watch = start(['watch', 'watched-svc', '--output', 'json'], as());
    await waitFor(() => watch.stderr().includes('watching watched-svc in production'), 10_000, 'the subscription');
    await json(['put', 'watched-svc', 'level', '2']);
    await json(['patch', 'watched-svc', '{"level":null,"mode":"safe"}']);
    await json(['put', 'other-svc', 'level', '9']);
    await waitFor(() => watch.stdout().split('\n').length >= 3, 10_000, 'two changes');
    watch.child.kill('SIGINT');
    expect(await watch.exited).toBe(0);
    const lines = watch
      .stdout()
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line));
    expect(lines).toEqual([
      expect.objectContaining({
        serviceId: 'watched-svc',
        environment: 'production',
        version: 2,
        changedKeys: ['level'],
        changes: [{ path: 'level', oldValue: 1, newValue: 2 }],
      }),
      expect.objectContaining({ version: 3, changedKeys: ['level', 'mode'] }),
    ]);
    expect(lines[1].position).toBeGreaterThan(lines[0].position);
  });

  it('resumes a watch after a lost connection from its last position, missing and repeating nothing', async () => {
    await json(['put', 'resumed-svc', 'n', '0']);
    const proxy = await startTcpProxy('127.0.0.1', Number(new URL(server.baseUrl).port));
    try {
      const url = server.baseUrl.replace(/:\d+\//, `:${proxy.port}/`);
      const watch = start(['watch', 'resumed-svc', '--output', 'json'], as(admin, { CONFIGLEDGER_URL: url }));
      await waitFor(() => watch.stderr().includes('watching'), 10_000, 'the subscription');
      await json(['put', 'resumed-svc', 'n', '1']);
      await waitFor(() => watch.stdout().includes('"version":2'), 10_000, 'the first change');
      await proxy.cut();
      await json(['put', 'resumed-svc', 'n', '2']);
      await proxy.restore();
      await waitFor(() => watch.stderr().includes('resumed watching'), 15_000, 'the reconnection');
      await json(['put', 'resumed-svc', 'n', '3']);
      await waitFor(() => watch.stdout().includes('"version":4'), 10_000, 'the change after it');
      watch.child.kill('SIGTERM');
      expect(await watch.exited).toBe(0);
      const versions = watch
        .stdout()
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line).version);
      expect(versions).toEqual([2, 3, 4]);
    } finally {
      await proxy.close();
    }
  });

  it('approves and rejects change requests held by an approval policy', async () => {
    const policy = await server.call('PUT', '/approval-policies/cli-guard', {
      token: admin,
      body: { environments: ['production'], keyPatterns: ['guarded.*'], requiredApprovals: 1 },
    });
    expect(policy.status).toBe(200);
    const writer = as(await server.token('wes', ['writer']));
    const approver = as(await server.token('ann', ['approver']));
    await json(['put', 'guarded-svc', 'open', 'true'], writer);

    const held = await cli(['put', 'guarded-svc', 'guarded.limit', '500', '--output', 'json'], writer);
    expect(held.code).toBe(3);
    const { id } = JSON.parse(held.stdout).changeRequest;
    const self = await cli(['approve', id], writer);
    expect([self.code, self.stderr]).toEqual([1, expect.stringMatching(/^FORBIDDEN: /)]);
    const approved = await json(['approve', id, '--comment', 'within limits'], approver);
    expect(approved).toMatchObject({
      id,
      status: 'applied',
      approvals: [{ approver: 'ann', comment: 'within limits' }],
    });
    expect(
      (await cli(['get', 'guarded-svc', 'guarded.limit', '--min-position', String(approved.position)])).stdout,
    ).toBe('500\n');

    const second = await cli(['patch', 'guarded-svc', '{"guarded":{"limit":9000}}', '--output', 'json'], writer);
    expect(second.code).toBe(3);
    const rejectedId = JSON.parse(second.stdout).changeRequest.id;
    const rejected = await cli(['reject', rejectedId, '--comment', 'too much'], approver);
    expect([rejected.code, rejected.stdout]).toEqual([0, expect.stringContaining('rejected')]);
    await waitFor(
      async () =>
        (await json(['change-requests', '--status', 'rejected'])).some(
          (request: { id: string }) => request.id === rejectedId,
        ),
      5_000,
      'the rejected request in the list',
    );
    expect((await cli(['get', 'guarded-svc', 'guarded.limit'])).stdout).toBe('500\n');
  });

  it('stores, reads, rotates and lists credentials, the value read from standard input', async () => {
    const stored = await cli(
      ['credentials', 'store', 'cli-db-password', '-', '--type', 'database_password', '--service', 'vaulted-svc'],
      as(),
      'first-Secret-1\n',
    );
    expect([stored.code, stored.stdout]).toEqual([0, expect.stringContaining('stored cli-db-password')]);
    expect(stored.stdout).not.toContain('first-Secret-1');
    expect((await cli(['credentials', 'get', 'cli-db-password'])).stdout).toBe('first-Secret-1\n');

    const rotated = await json(['credentials', 'rotate', 'cli-db-password', '--reason', 'scheduled']);
    expect(rotated).toMatchObject({ version: 2 });
    const current = (await cli(['credentials', 'get', 'cli-db-password'])).stdout.trim();
    expect(current).toHaveLength(32);
    expect((await cli(['credentials', 'get', 'cli-db-password', '--previous'])).stdout).toBe('first-Secret-1\n');
    await json(['credentials', 'rotate', 'cli-db-password', '--value', 'third-Secret-3']);
    expect((await json(['credentials', 'get', 'cli-db-password'])).value).toBe('third-Secret-3');

    await waitFor(
      async () =>
        (await json(['credentials', 'list', '--service', 'vaulted-svc'])).some(
          (credential: { key: string; version: number }) =>
            credential.key === 'cli-db-password' && credential.version === 3,
        ),
      5_000,
      'the listed credential at version 3',
    );
    const table = await cli(['credentials', 'list', '--service', 'vaulted-svc']);
    expect(table.stdout).toMatch(/^cli-db-password\s+vaulted-svc\s+production\s+database_password\s+internal\s+3/m);
    expect(table.stdout).not.toContain('third-Secret-3');
  });

  it('reads the API and token from the profile file, a named profile with --profile, and lets the environment win', async () => {
    await json(['put', 'profiled-svc', 'source', '"file"']);
    const home = join(dir, 'config-home');
    mkdirSync(join(home, 'configledger'), { recursive: true });
    const file = join(home, 'configledger', 'config.json');
    const reader = await server.token('rita', ['reader']);
    writeFileSync(
      file,
      JSON.stringify({
        url: server.baseUrl,
        token: reader,
        profiles: { ops: { url: server.baseUrl, token: admin }, broken: { url: server.baseUrl, token: 'not-a-token' } },
      }),
    );
    chmodSync(file, 0o600);
    const fromFile = { ...bareEnv(), XDG_CONFIG_HOME: home };
    const read = await cli(['get', 'profiled-svc', 'source'], fromFile);
    expect([read.code, read.stdout, read.stderr]).toEqual([0, 'file\n', '']);
    expect((await cli(['put', 'profiled-svc', 'source', 'x'], fromFile)).stderr).toMatch(/^FORBIDDEN: /);
    expect((await cli(['--profile', 'ops', 'put', 'profiled-svc', 'source', 'ops'], fromFile)).code).toBe(0);
    const winning = await cli(['get', 'profiled-svc', 'source', '--profile', 'broken'], {
      ...fromFile,
      CONFIGLEDGER_TOKEN: admin,
    });
    expect([winning.code, winning.stdout]).toEqual([0, 'ops\n']);
    expect(winning.stderr).toContain('CONFIGLEDGER_TOKEN overrides profile broken');

    const refused = await cli(['get', 'profiled-svc', '--profile', 'broken', '--verbose'], fromFile);
    expect([refused.code, refused.stderr]).toEqual([1, expect.stringMatching(/^INVALID_TOKEN: /)]);
    expect(refused.stderr + refused.stdout).not.toContain('not-a-token');
    const unknown = await cli(['get', 'profiled-svc', '--profile', 'nope'], fromFile);
    expect([unknown.code, unknown.stderr]).toEqual([2, expect.stringContaining('profile nope is not in')]);
    const nothing = await cli(['get', 'profiled-svc'], bareEnv());
    expect([nothing.code, nothing.stderr]).toEqual([2, expect.stringContaining('no API configured')]);
    // A broken profile file does not stand in the way of a caller who gave both in the environment.
    const brokenHome = join(dir, 'broken-home');
    mkdirSync(join(brokenHome, 'configledger'), { recursive: true });
    writeFileSync(join(brokenHome, 'configledger', 'config.json'), '{ not json', { mode: 0o600 });
    const despite = await cli(['get', 'profiled-svc', 'source'], { ...as(), XDG_CONFIG_HOME: brokenHome });
    expect([despite.code, despite.stderr]).toEqual([0, '']);
  });

  it('mints scoped JWTs that last a given duration, refuses what would yield a useless token, and revokes one', async () => {
    const minter = { ...bareEnv(), JWT_SECRET: TEST_JWT_SECRET };
    const minted = await cli(
      ['token', '--sub', 'desk', '--roles', 'reader', '--services', 'scoped-a, scoped-b', '--expires', '12h'],
      minter,
    );
    expect([minted.code, minted.stderr]).toEqual([0, '']);
    const jwt = minted.stdout.trim();
    const claims = JSON.parse(Buffer.from(jwt.split('.')[1]!, 'base64url').toString());
    expect(claims).toMatchObject({ sub: 'desk', roles: ['reader'], services: ['scoped-a', 'scoped-b'] });
    expect(claims.exp - claims.iat).toBe(12 * 3600);
    await json(['put', 'scoped-a', 'x', '1']);
    await json(['put', 'scoped-c', 'x', '1']);
    expect((await cli(['get', 'scoped-a'], as(jwt))).code).toBe(0);
    const outside = await cli(['get', 'scoped-c'], as(jwt));
    expect([outside.code, outside.stderr]).toEqual([1, expect.stringMatching(/^OUT_OF_SCOPE: /)]);

    const refusals: [string[], RegExp][] = [
      [['--roles', 'writr'], /--roles takes admin, writer, .* \(not writr\)/],
      [['--expires', '30'], /--expires takes a duration: 90d, 12h, 30m, 45s or 2w/],
      [['--expires', '0d'], /--expires takes a duration/],
      [['--services', 'Order Router'], /Order Router is not a service id/],
      [['--services', ','], /--services names at least one service/],
      [[], /token needs --sub/],
    ];
    for (const [options, message] of refusals) {
      const args = ['token', ...(options.length > 0 ? ['--sub', 'x'] : []), ...options];
      const refused = await cli(args, minter);
      expect([args, refused.code, refused.stdout]).toEqual([args, 2, '']);
      expect(refused.stderr).toMatch(message);
      expect(refused.stderr).toContain('configledger token --sub NAME');
    }

    const revoked = await cli(['token', 'revoke', jwt, '--reason', 'laptop lost']);
    expect([revoked.code, revoked.stderr]).toEqual([0, '']);
    expect(revoked.stdout).toMatch(new RegExp(`^revoked token ${claims.jti} at `));
    const after = await cli(['get', 'scoped-a'], as(jwt));
    expect([after.code, after.stderr]).toEqual([
      1,
      expect.stringMatching(/^INVALID_TOKEN: the token was refused: it was revoked/),
    ]);
    // By its id alone, as `token revoke` prints it; and an id that is neither is a usage error.
    const other = (await cli(['token', '--sub', 'desk2', '--roles', 'reader'], minter)).stdout.trim();
    const otherId = JSON.parse(Buffer.from(other.split('.')[1]!, 'base64url').toString()).jti;
    expect((await cli(['token', 'revoke', otherId])).code).toBe(0);
    expect((await cli(['get', 'scoped-a'], as(other))).code).toBe(1);
    expect((await cli(['token', 'revoke', 'not a token'])).code).toBe(2);
    const serviceToken = 'clst_0123456789abcdef_secretpart';
    const refused = await cli(['token', 'revoke', serviceToken]);
    expect([refused.code, refused.stdout]).toEqual([2, '']);
    expect(refused.stderr).toContain('DELETE /service-tokens/:id');
    expect(refused.stderr).not.toContain(serviceToken);
  });

  it('writes all of a large answer to a pipe before it exits, and refuses numbers JSON cannot carry', async () => {
    const big = Array.from({ length: 3000 }, (_, i) => `venue-${i}-${'x'.repeat(60)}`);
    writeFileSync(join(dir, 'venues.json'), JSON.stringify(big));
    expect((await cli(['put', 'piped-svc', 'venues', `@${join(dir, 'venues.json')}`])).code).toBe(0);
    const read = await json(['get', 'piped-svc']);
    expect(read.configuration.venues).toEqual(big);

    const infinite = await cli(['put', 'piped-svc', 'n', '1e400']);
    expect([infinite.code, infinite.stderr]).toEqual([2, expect.stringContaining('1e400 is too large')]);
    writeFileSync(join(dir, 'deep.json'), `{"deep":${'['.repeat(20_000)}${']'.repeat(20_000)}}`);
    const nested = await cli(['patch', 'piped-svc', `@${join(dir, 'deep.json')}`]);
    expect([nested.code, nested.stderr]).toEqual([2, expect.stringContaining('nested too deeply')]);
    expect(nested.stderr).not.toMatch(STACK);
    expect((await json(['history', 'piped-svc'])).length).toBe(1);
  });

  it('says what is wrong when an operations command is pointed at the wrong place, creating nothing there', async () => {
    const nowhere = join(dir, 'typo-data-dir');
    const env = { ...bareEnv(), DATA_DIR: nowhere, DATABASE_URL: '', JWT_SECRET: '', CHAIN_SIGNING_KEY: '' };
    const token = await cli(['token', '--sub', 'x'], env);
    expect([token.code, token.stdout]).toEqual([2, '']);
    expect(token.stderr).toContain(`no jwt-secret in ${join(nowhere, 'secrets')}`);
    const verify = await cli(['verify'], { ...env, CHAIN_SIGNING_KEY: 'k'.repeat(32) });
    expect([verify.code, verify.stderr]).toEqual([2, expect.stringContaining(`there is no store in ${nowhere}`)]);
    expect(existsSync(nowhere)).toBe(false);

    const empty = await createTestDatabase('configledger_cli_empty');
    try {
      const backup = await cli(['backup', '--out', join(dir, 'b.jsonl.gz')], {
        ...env,
        DATABASE_URL: empty.url,
        CHAIN_SIGNING_KEY: 'k'.repeat(32),
      });
      expect([backup.code, backup.stderr]).toEqual([1, expect.stringContaining('holds no configledger read models')]);
    } finally {
      await empty.drop();
    }
    const missingDb = empty.url.replace(/\/[^/]+$/, '/configledger_cli_never_created');
    writeFileSync(join(dir, 'present.jsonl.gz'), '');
    const restore = await cli(['restore', '--from', join(dir, 'present.jsonl.gz'), '--target', missingDb], {
      ...env,
      CHAIN_SIGNING_KEY: 'k'.repeat(32),
    });
    expect([restore.code, restore.stderr]).toEqual([1, expect.stringContaining('createdb -h 127.0.0.1 -p 5432')]);
    const noFile = await cli(['restore', '--from', join(dir, 'absent.gz'), '--target', missingDb], {
      ...env,
      CHAIN_SIGNING_KEY: 'k'.repeat(32),
    });
    expect([noFile.code, noFile.stderr]).toEqual([1, `refused: there is no backup at ${join(dir, 'absent.gz')}\n`]);
    for (const result of [token, verify, restore, noFile]) expect(result.stderr).not.toMatch(STACK);
  });

  it('answers --help on every command with its usage and the exit codes, exit 0', async () => {
    const names = ['', 'credentials', 'projections', ...COMMANDS.map((entry) => entry.name)];
    for (const name of names) {
      const words = name ? name.split(' ') : [];
      const help = await cli([...words, '--help'], bareEnv());
      expect([name, help.code, help.stderr]).toEqual([name, 0, '']);
      expect(help.stdout).toContain(`configledger ${name}`.trim());
      expect(help.stdout).toContain('Exit status: 0 done; 1 failed or refused');
    }
  }, 60_000);

  it('prints the usage and exits 2 for an unknown command, an unknown option or a missing argument', async () => {
    const bare = await cli([]);
    expect([bare.code, bare.stdout]).toEqual([2, '']);
    expect(bare.stderr).toContain('configledger <command>');
    const wrongUrl = await cli(
      ['get', 'order-router'],
      as(admin, { CONFIGLEDGER_URL: server.baseUrl.replace(/\/api\/v1$/, '') }),
    );
    expect([wrongUrl.code, wrongUrl.stderr]).toEqual([1, expect.stringContaining('the API is under /api/v1')]);
    const unknown = await cli(['frobnicate']);
    expect([unknown.code, unknown.stdout]).toEqual([2, '']);
    expect(unknown.stderr).toMatch(/^unknown command: frobnicate\n\nconfigledger <command>/);
    const option = await cli(['get', 'order-router', '--bogus']);
    expect([option.code, option.stderr]).toEqual([2, expect.stringContaining('configledger get SERVICE [KEY]')]);
    const missing = await cli(['put', 'order-router', 'venue']);
    expect([missing.code, missing.stderr]).toEqual([2, expect.stringContaining('configledger put SERVICE KEY VALUE')]);
    const group = await cli(['credentials', 'burn']);
    expect([group.code, group.stderr]).toEqual([2, expect.stringContaining('credentials rotate')]);
  });

  it('exits 1 on a refused write, with the server code and message on stderr and no stack trace unless --verbose', async () => {
    await json(['put', 'refused-svc', 'a', '1']);
    const conflict = await cli(['put', 'refused-svc', 'a', '2', '--if-version', '7']);
    expect(conflict.code).toBe(1);
    expect(conflict.stderr).toMatch(/^VERSION_CONFLICT: .+/);
    expect(conflict.stderr).not.toMatch(STACK);
    const reader = as(await server.token('rob', ['reader']));
    const forbidden = await cli(['patch', 'refused-svc', '{"a":3}'], reader);
    expect([forbidden.code, forbidden.stderr]).toEqual([1, expect.stringMatching(/^FORBIDDEN: /)]);
    expect(forbidden.stderr).not.toMatch(STACK);
    const invalid = await cli(['patch', 'refused-svc', '{"a":{"__proto__":1}}']);
    expect([invalid.code, invalid.stderr]).toEqual([1, expect.stringMatching(/^INVALID_KEY: /)]);
    const verbose = await cli(['put', 'refused-svc', 'a', '2', '--if-version', '7', '--verbose']);
    expect([verbose.code, verbose.stderr]).toEqual([1, expect.stringMatching(STACK)]);
    expect((await json(['history', 'refused-svc'])).length).toBe(1);
  });

  it('sends each write with an Idempotency-Key and retries it with the same key when the answer is lost, applied once', async () => {
    await json(['put', 'keyed-svc', 'n', '0']);
    const lossy = await startLossyProxy(new URL(server.baseUrl));
    try {
      const url = server.baseUrl.replace(/:\d+\//, `:${lossy.port}/`);
      const put = await cli(['put', 'keyed-svc', 'n', '1', '--output', 'json'], as(admin, { CONFIGLEDGER_URL: url }));
      expect(put.code, put.stderr).toBe(0);
      expect(JSON.parse(put.stdout)).toMatchObject({ version: 2 });
      const writes = lossy.seen.filter((request) => request.method === 'PUT');
      expect(writes).toHaveLength(2);
      expect(writes[0]!.key).toMatch(/^"[0-9a-f-]{36}"$/);
      expect(writes[1]!.key).toBe(writes[0]!.key);

      await cli(['put', 'keyed-svc', 'n', '2'], as(admin, { CONFIGLEDGER_URL: url }));
      const keys = lossy.seen.filter((request) => request.method === 'PUT').map((request) => request.key);
      expect(new Set(keys).size).toBe(2);
    } finally {
      await lossy.close();
    }
    const head = await server.storage.store.headPosition();
    const versions = await server.call('GET', `/configurations/keyed-svc/versions?minPosition=${head}`, {
      token: admin,
    });
    expect(
      versions.body.data.map((entry: { version: number; changes: unknown }) => [entry.version, entry.changes]),
    ).toEqual([
      [3, [{ path: 'n', oldValue: 1, newValue: 2 }]],
      [2, [{ path: 'n', oldValue: 0, newValue: 1 }]],
      [1, [{ path: 'n', newValue: 0 }]],
    ]);
  });
});

/** An HTTP proxy that forwards everything and loses the answer to the first write: the client sees the connection drop. */
async function startLossyProxy(target: URL) {
  const seen: { method: string; key?: string }[] = [];
  let lose = 1;
  const proxy: Server = createServer((request, response) => {
    const body: Buffer[] = [];
    request.on('data', (chunk: Buffer) => body.push(chunk));
    request.on('end', () => {
      const key = request.headers['idempotency-key'];
      seen.push({ method: request.method!, key: Array.isArray(key) ? key[0] : key });
      const upstream = httpRequest(
        {
          host: target.hostname,
          port: target.port,
          method: request.method,
          path: request.url,
          headers: request.headers,
        },
        (answer) => {
          const chunks: Buffer[] = [];
          answer.on('data', (chunk: Buffer) => chunks.push(chunk));
          answer.on('end', () => {
            if (request.method !== 'GET' && lose > 0) {
              lose--;
              request.socket.destroy();
              return;
            }
            response.writeHead(answer.statusCode!, answer.headers);
            response.end(Buffer.concat(chunks));
          });
        },
      );
      upstream.end(Buffer.concat(body));
    });
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  const address = proxy.address();
  if (!address || typeof address === 'string') throw new Error('the proxy did not bind a port');
  return {
    port: address.port,
    seen,
    close: () =>
      new Promise<void>((resolve) => {
        proxy.closeAllConnections();
        proxy.close(() => resolve());
      }),
  };
}
