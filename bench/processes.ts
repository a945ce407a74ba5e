import { spawn, type ChildProcess } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Polls `probe` until it succeeds, failing after `timeoutMs`. */
export async function waitUntil(probe: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await probe().catch(() => false)) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`${what} did not come up within ${timeoutMs} ms`);
}

export function launch(
  command: string,
  args: string[],
  env: NodeJS.ProcessEnv = process.env,
): { child: ChildProcess; output: () => string } {
  const child = spawn(command, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output = (output + chunk.toString()).slice(-20_000)));
  child.stderr!.on('data', (chunk: Buffer) => (output = (output + chunk.toString()).slice(-20_000)));
  return { child, output: () => output };
}

export const stopProcess = (child: ChildProcess) =>
  new Promise<void>((resolve) => {
    if (child.exitCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
    setTimeout(() => child.kill('SIGKILL'), 5000).unref();
  });

export const BENCH_JWT_SECRET = 'bench-secret-bench-secret-bench-secret-0123456789';

/** configledger on a fresh PostgreSQL database, as its own process; stop() also drops the database. */
export async function startConfigledger(port: number, extraEnv: NodeJS.ProcessEnv = {}, nodeOptions: string[] = []) {
  const { createTestDatabase } = await import('#testing/postgres.ts');
  const { mintToken } = await import('#infra/auth/tokens.ts');
  const database = await createTestDatabase('configledger_bench');
  const service = launch(process.execPath, [...nodeOptions, '--import', 'tsx', 'services/config-api/main.ts'], {
    ...process.env,
    DATABASE_URL: database.url,
    JWT_SECRET: BENCH_JWT_SECRET,
    PORT: String(port),
    LOG_LEVEL: 'warn',
    EVENTSTORE_URL: '',
    KAFKA_BROKERS: '',
    // The load comes from one address and one principal: limits would measure themselves.
    RATE_LIMIT_PER_PRINCIPAL: '0',
    RATE_LIMIT_PER_ADDRESS: '0',
    DATA_DIR: join(tmpdir(), `configledger-bench-${port}`),
    ...extraEnv,
  });
  const base = `http://127.0.0.1:${port}/api/v1`;
  try {
    await waitUntil(async () => (await fetch(`${base}/health`)).ok, 30_000, 'configledger');
  } catch (error) {
    process.stderr.write(service.output());
    throw error;
  }
  const token = await mintToken(BENCH_JWT_SECRET, { subject: 'bench', roles: ['writer'] });
  return {
    base,
    token,
    databaseUrl: database.url,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    async stop() {
      await stopProcess(service.child);
      await database.drop();
    },
  };
}

/** A single-node etcd on loopback with a throw-away data directory. */
export async function startEtcd(port: number) {
  const { mkdtempSync, rmSync } = await import('node:fs');
  const dataDir = mkdtempSync(join(tmpdir(), 'configledger-bench-etcd-'));
  const url = `http://127.0.0.1:${port}`;
  const peer = `http://127.0.0.1:${port + 10}`;
  const etcd = launch('etcd', [
    '--name',
    'bench',
    '--data-dir',
    dataDir,
    '--listen-client-urls',
    url,
    '--advertise-client-urls',
    url,
    '--listen-peer-urls',
    peer,
    '--initial-advertise-peer-urls',
    peer,
    '--initial-cluster',
    `bench=${peer}`,
    '--log-level',
    'error',
  ]);
  await waitUntil(async () => (await fetch(`${url}/health`)).ok, 30_000, 'etcd');
  return {
    url,
    version: (await (await fetch(`${url}/version`)).json()) as Record<string, string>,
    async stop() {
      await stopProcess(etcd.child);
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export const percentile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
export const round = (value: number) => Math.round(value * 100) / 100;
export const b64 = (text: string) => Buffer.from(text).toString('base64');
