import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { freePort, startServiceProcess } from '#testing/service-process.ts';

const startService = async (dataDir: string, port: number) => {
  const service = await startServiceProcess({ DATA_DIR: dataDir, PORT: String(port) });
  return { child: service.child, output: service.output, stop: service.stop };
};

const run = (args: string[], env: Record<string, string>) =>
  new Promise<{ code: number | null; output: string }>((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', ...args], {
      env: { ...process.env, DATABASE_URL: '', EVENTSTORE_URL: '', JWT_SECRET: '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.on('exit', (code) => resolve({ code, output }));
  });

describe('settings at start', () => {
  it('refuses to start on a setting that does not fit, naming it, without a stack trace', async () => {
    const refused = await run(['services/config-api/main.ts'], {
      PORT: 'eighty',
      LOG_LEVEL: 'loud',
      DATA_DIR: mkdtempSync(join(tmpdir(), 'configledger-settings-')),
    });
    expect(refused.code).toBe(2);
    expect(refused.output).toContain('PORT must be integer');
    // A choice names what it may be.
    expect(refused.output).toContain('LOG_LEVEL must be equal to one of the allowed values (fatal, error, warn, info');
    expect(refused.output).not.toMatch(/\n\s+at /);
  });

  it('names the createdb command when DATABASE_URL points at a database that does not exist', async () => {
    const missing = await run(['services/config-api/main.ts'], {
      DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/configledger_never_created',
      JWT_SECRET: 'a-jwt-secret-of-at-least-thirty-two-characters',
      PORT: String(await freePort()),
    });
    expect(missing.code).toBe(1);
    expect(missing.output).toContain('createdb -h 127.0.0.1 -p 5432 -U postgres configledger_never_created');
    expect(missing.output).not.toMatch(/\n\s+at /);
  });
});

describe('one process per embedded store', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'configledger-locked-'));
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  it('refuses a second service and the CLI on a data directory in use, naming the holder, and starts again after a kill -9', async () => {
    const port = await freePort();
    const first = await startService(dataDir, port);
    const second = await run(['services/config-api/main.ts'], { DATA_DIR: dataDir, PORT: String(await freePort()) });
    expect(second.code).toBe(1);
    expect(second.output).toContain(`in use by process ${first.child.pid}`);
    expect(second.output).not.toMatch(/\n\s+at /);
    const cli = await run(['services/cli/main.ts', 'verify'], { DATA_DIR: dataDir });
    expect(cli.code).toBe(1);
    expect(cli.output).toContain(`in use by process ${first.child.pid}`);

    first.child.removeAllListeners('exit');
    const killed = new Promise((resolve) => first.child.once('exit', resolve));
    first.child.kill('SIGKILL');
    await killed;
    const again = await startService(dataDir, port);
    expect((await fetch(`http://127.0.0.1:${port}/api/v1/health`)).status).toBe(200);
    expect((await again.stop()).code).toBe(0);
    const after = await run(['services/cli/main.ts', 'verify'], { DATA_DIR: dataDir });
    expect([after.code, after.output]).toEqual([0, expect.stringContaining('intact')]);
  }, 60_000);
});

describe('the service on the embedded default (what make run starts)', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'configledger-embedded-'));
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  it('prints where it listens and where its admin token is (never the token, its output not being a terminal), keeps secrets 0600, and keeps data across restarts', async () => {
    const port = await freePort();
    const first = await startService(dataDir, port);
    expect(first.output).toContain(`http://127.0.0.1:${port}/api/v1`);
    const token = readFileSync(join(dataDir, 'secrets', 'admin-token'), 'utf8').trim();
    expect(first.output).toContain(`export CONFIGLEDGER_TOKEN=$(cat ${join(dataDir, 'secrets', 'admin-token')})`);
    expect(first.output).not.toContain(token);
    expect(statSync(join(dataDir, 'secrets', 'jwt-secret')).mode & 0o777).toBe(0o600);
    expect(statSync(join(dataDir, 'secrets', 'admin-token')).mode & 0o777).toBe(0o600);

    const base = `http://127.0.0.1:${port}/api/v1`;
    const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
    expect(
      (await fetch(`${base}/configurations/svc`, { method: 'PUT', headers, body: '{"configuration":{"a":1}}' })).status,
    ).toBe(201);
    expect((await first.stop()).code).toBe(0);

    const second = await startService(dataDir, port);
    expect(second.output).not.toContain(token);
    const read = await fetch(`${base}/configurations/svc`, { headers });
    expect(read.status).toBe(200);
    expect(((await read.json()) as { data: { configuration: unknown } }).data.configuration).toEqual({ a: 1 });
    expect((await fetch(`${base}/configurations/svc`)).status).toBe(401);

    // SIGTERM: WebSocket clients are told why, and the process exits 0 within its bound.
    const socket = new WebSocket(`ws://127.0.0.1:${port}/api/v1/ws?token=${token}`);
    await new Promise((resolve) => socket.once('message', resolve));
    const closed = new Promise<{ code: number; reason: string }>((resolve) =>
      socket.once('close', (code, reason) => resolve({ code, reason: reason.toString() })),
    );
    const started = Date.now();
    expect((await second.stop()).code).toBe(0);
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(await closed).toEqual({ code: 1001, reason: 'server shutting down' });
  });
});
