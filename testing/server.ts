import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mintToken } from '#infra/auth/tokens.ts';
import { localKeyProvider } from '#infra/crypto/key-provider.ts';
import { openStorage, type Storage } from '#infra/eventstore/select.ts';
import { buildApp, type AppOptions } from '#services/config-api/app.ts';
import { loggerOptions } from '#services/config-api/logging.ts';
import type { FastifyInstance } from 'fastify';
import type { EventStore } from '#infra/eventstore/port.ts';
import { createTestDatabase, type TestDatabase } from './postgres.ts';

export const TEST_JWT_SECRET = 'test-secret-that-is-long-enough-for-hs256-signing';

export interface TestServer {
  baseUrl: string;
  app: FastifyInstance;
  storage: Storage;
  databaseUrl?: string;
  /** Each server signs chain heads with a key of its own, as separate deployments would. */
  chainSigningKey: string;
  token(subject: string, roles: string[], services?: string[]): Promise<string>;
  /** Real HTTP: JSON in, parsed JSON out (other answers as text). */
  call(
    method: string,
    path: string,
    options?: { token?: string; body?: unknown; headers?: Record<string, string> },
    // biome-ignore lint/suspicious/noExplicitAny: tests assert the answers' fields one by one.
  ): Promise<{ status: number; body: any; headers: Headers }>;
  close(): Promise<void>;
}

/** The API listening on a free loopback port, on a fresh PostgreSQL database (or an in-memory PGlite). */
export async function startTestServer(
  options: {
    store?: 'postgres' | 'pglite';
    bodyLimit?: number;
    /** Share another server's database (scale-out). */
    databaseUrl?: string;
    kafkaBrokers?: string[];
    websocket?: AppOptions['websocket'];
    replicateFrom?: AppOptions['replicateFrom'];
    rateLimits?: AppOptions['rateLimits'];
    lockout?: AppOptions['lockout'];
    /** How long an append waits for its answer before it is settled (short, to test a stalled database). */
    appendTimeoutMs?: number;
    redis?: AppOptions['redis'];
    cacheMaxBytes?: AppOptions['cacheMaxBytes'];
    /** Where the service's log lines go (info level and above); none when absent. */
    logStream?: NodeJS.WritableStream;
    /** The vault's key ring file (a fresh one when absent). */
    keyFile?: string;
    /** Wraps the event store the app uses (to inject faults). */
    wrapStore?: (store: EventStore) => EventStore;
  } = {},
): Promise<TestServer> {
  let database: TestDatabase | undefined;
  if (!options.databaseUrl && (options.store ?? 'postgres') === 'postgres') database = await createTestDatabase();
  const databaseUrl = options.databaseUrl ?? database?.url;
  const opened = await openStorage({
    databaseUrl,
    dataDir: 'memory://',
    ...(options.appendTimeoutMs ? { appendTimeoutMs: options.appendTimeoutMs } : {}),
  });
  const storage = options.wrapStore ? { ...opened, store: options.wrapStore(opened.store) } : opened;
  const chainSigningKey = randomBytes(32).toString('hex');
  const keys = localKeyProvider({
    keyFile: options.keyFile ?? join(mkdtempSync(join(tmpdir(), 'configledger-keys-')), 'master-keys.json'),
  });
  const {
    logStream,
    store: _store,
    databaseUrl: _databaseUrl,
    appendTimeoutMs: _appendTimeoutMs,
    keyFile: _keyFile,
    wrapStore: _wrapStore,
    ...appOptions
  } = options;
  const app = await buildApp({
    ...appOptions,
    storage,
    jwtSecret: TEST_JWT_SECRET,
    chainSigningKey,
    keys,
    logger: logStream ? loggerOptions('info', logStream) : false,
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const address = app.server.address();
  if (!address || typeof address === 'string') throw new Error('server did not bind a TCP port');
  const baseUrl = `http://127.0.0.1:${address.port}/api/v1`;
  return {
    baseUrl,
    app,
    storage,
    databaseUrl,
    chainSigningKey,
    token: (subject, roles, services) => mintToken(TEST_JWT_SECRET, { subject, roles, services }),
    async call(method, path, { token, body, headers = {} } = {}) {
      const response = await fetch(`${baseUrl}${path}`, {
        method,
        headers: {
          ...(token ? { authorization: `Bearer ${token}` } : {}),
          ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
          ...headers,
        },
        body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
      });
      const text = await response.text();
      const json = response.headers.get('content-type')?.includes('json');
      return {
        status: response.status,
        body: text ? (json ? JSON.parse(text) : text) : undefined,
        headers: response.headers,
      };
    },
    async close() {
      await app.close();
      await storage.close();
      await database?.drop();
    },
  };
}
