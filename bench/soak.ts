/**
 * Mixed load (90 % configuration reads, 9 % writes, 1 % credential reads) at
 * fixed concurrency for a bounded time, with PostgreSQL cut and restored
 * through a TCP proxy in the middle; then every acknowledged write is checked
 * (lost or duplicated events must be 0). And resident memory with 10,000
 * configurations loaded.
 *   node --import tsx bench/soak.ts     (BENCH_SOAK_SECONDS, default 20)
 */
import autocannon from 'autocannon';
import { startTcpProxy } from '#infra/testing/tcp-proxy.ts';
import { createTestDatabase } from '#infra/testing/postgres.ts';
import { mintToken } from '#infra/auth/tokens.ts';
import { BENCH_JWT_SECRET, launch, startConfigledger, stopProcess, waitUntil } from './processes.ts';

const SECONDS = Number(process.env.BENCH_SOAK_SECONDS ?? 20);
const CONNECTIONS = 16;
const SERVICES = 50;

async function mixedLoadWithCut(port: number) {
  const database = await createTestDatabase('configledger_soak');
  const proxy = await startTcpProxy('127.0.0.1', 5432);
  const viaProxy = new URL(database.url);
  viaProxy.port = String(proxy.port);
  const service = launch(process.execPath, ['--import', 'tsx', 'services/config-api/main.ts'], {
    ...process.env,
    DATABASE_URL: viaProxy.toString(),
    JWT_SECRET: BENCH_JWT_SECRET,
    PORT: String(port),
    LOG_LEVEL: 'error',
    KAFKA_BROKERS: '',
    EVENTSTORE_URL: '',
    RATE_LIMIT_PER_PRINCIPAL: '0',
    RATE_LIMIT_PER_ADDRESS: '0',
    DATA_DIR: `/tmp/configledger-soak-${port}`,
  });
  const base = `http://127.0.0.1:${port}/api/v1`;
  const token = await mintToken(BENCH_JWT_SECRET, { subject: 'soak', roles: ['writer'] });
  const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
  const readHeaders = { authorization: `Bearer ${token}` };
  try {
    await waitUntil(async () => (await fetch(`${base}/health`)).ok, 30_000, 'configledger');
    for (let i = 0; i < SERVICES; i++) await fetch(`${base}/configurations/soak-${i}`, { method: 'PUT', headers, body: JSON.stringify({ configuration: { n: 0 } }) });
    await fetch(`${base}/credentials`, { method: 'POST', headers, body: JSON.stringify({ key: 'soak-key', value: 'soak-secret', type: 'token', serviceId: 'soak-0', environment: 'production' }) });

    const acknowledged: { serviceId: string; version: number }[] = [];
    const errors: Record<string, number> = {};
    let n = 0;
    setTimeout(() => void proxy.cut(), (SECONDS * 1000) / 3).unref();
    setTimeout(() => void proxy.restore(), (SECONDS * 2000) / 3).unref();
    const result = await autocannon({
      url: base,
      connections: CONNECTIONS,
      duration: SECONDS,
      requests: [
        {
          headers,
          setupRequest: () => {
            const i = n++;
            const serviceId = `soak-${i % SERVICES}`;
            // Each request built whole: a GET must not inherit a PUT's body or length.
            if (i % 100 < 90) return { method: 'GET', path: `/api/v1/configurations/${serviceId}`, headers: readHeaders };
            if (i % 100 < 99) return { method: 'PUT', path: `/api/v1/configurations/${serviceId}/n`, headers, body: JSON.stringify({ value: i }) };
            return { method: 'GET', path: '/api/v1/credentials/soak-key', headers: readHeaders };
          },
          onResponse: (status, body, context) => {
            const parsed = body ? (JSON.parse(body) as { code?: string; data?: { serviceId?: string; version?: number; changedKeys?: string[] } }) : {};
            if (status >= 400) errors[`${status} ${parsed.code ?? ''}`.trim()] = (errors[`${status} ${parsed.code ?? ''}`.trim()] ?? 0) + 1;
            else if (parsed.data?.changedKeys && parsed.data.serviceId && parsed.data.version) acknowledged.push({ serviceId: parsed.data.serviceId, version: parsed.data.version });
            void context;
          },
        },
      ],
    });
    await proxy.restore();
    await waitUntil(async () => (await fetch(`${base}/health`)).ok, 30_000, 'recovery').catch(async (error) => {
      process.stderr.write(`${await (await fetch(`${base}/health`)).text()}\n${service.output().slice(-2000)}\n`);
      throw error;
    });

    // Every acknowledged write is in the history; every history is 1..N without a gap or a repeat.
    let lost = 0;
    let duplicated = 0;
    for (let i = 0; i < SERVICES; i++) {
      const serviceId = `soak-${i}`;
      const { data } = (await (await fetch(`${base}/configurations/${serviceId}/versions?limit=1000`, { headers })).json()) as { data: { version: number }[] };
      const versions = data.map((entry) => entry.version).sort((a, b) => a - b);
      duplicated += versions.length - new Set(versions).size;
      const present = new Set(versions);
      lost += acknowledged.filter((ack) => ack.serviceId === serviceId && !present.has(ack.version)).length;
      if (versions.some((version, index) => version !== index + 1)) duplicated++;
    }
    return {
      seconds: SECONDS,
      connections: CONNECTIONS,
      requestsPerSecond: Math.round(result.requests.average),
      latencyMs: { p50: result.latency.p50, p99: result.latency.p99, p999: result.latency.p99_9 },
      acknowledgedWrites: acknowledged.length,
      errorsByCode: errors,
      lostEvents: lost,
      duplicatedEvents: duplicated,
    };
  } finally {
    await stopProcess(service.child);
    await proxy.close();
    await database.drop();
  }
}

async function memoryWithConfigurations(port: number, count: number) {
  const service = await startConfigledger(port);
  try {
    let next = 0;
    await Promise.all(
      Array.from({ length: 32 }, async () => {
        for (let i = next++; i < count; i = next++) {
          await fetch(`${service.base}/configurations/mem-${i}`, { method: 'PUT', headers: service.headers, body: JSON.stringify({ configuration: { risk: { limit: i }, venues: ['XNYS', 'XNAS'], feed: { depth: 10 } } }) });
        }
      }),
    );
    for (let i = 0; i < count; i++) await (await fetch(`${service.base}/configurations/mem-${i}`, { headers: service.headers })).arrayBuffer();
    const metrics = await (await fetch(service.base.replace('/api/v1', '/metrics'))).text();
    const rss = Number(/^process_resident_memory_bytes (\d+)/m.exec(metrics)?.[1] ?? 0);
    return { configurations: count, residentMiB: Math.round(rss / 2 ** 20) };
  } finally {
    await service.stop();
  }
}

export async function benchSoak(port: number) {
  process.stderr.write(`  soak: ${SECONDS}s of mixed load with PostgreSQL cut and restored...\n`);
  const soak = await mixedLoadWithCut(port);
  process.stderr.write('  soak: resident memory with 10,000 configurations...\n');
  const memory = await memoryWithConfigurations(port + 1, 10_000);
  return { soak, memory };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  process.stdout.write(`${JSON.stringify(await benchSoak(18211), null, 2)}\n`);
}
