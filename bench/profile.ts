/**
 * Where the time goes: `node --import tsx bench/profile.ts put` starts the
 * service under `--cpu-prof`, drives the PUT path with the bench's load (32
 * connections, one key changed per write) and prints the functions and
 * packages with the most self time, and PostgreSQL's sessions sampled while
 * the load runs (which statements are active, and what they wait on).
 * `node --import tsx bench/profile.ts rebuild` does the same for a rebuild of
 * the read models from a log of BENCH_EVENTS (default 100,000) events;
 * `statements` counts the SQL statements each PUT costs; `summary FILE`
 * summarizes any .cpuprofile the same way.
 */
import autocannon from 'autocannon';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startConfigledger } from './processes.ts';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}

/** Self time by function and by package (or this project's folder), largest first. */
export function summarizeProfile(file: string, top = 25): string {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as {
    nodes: ProfileNode[];
    startTime: number;
    endTime: number;
    samples: number[];
  };
  const total = profile.samples.length;
  const byFunction = new Map<string, number>();
  const byPlace = new Map<string, number>();
  for (const node of profile.nodes) {
    const hits = node.hitCount ?? 0;
    if (hits === 0) continue;
    const { functionName, url, lineNumber } = node.callFrame;
    const where = url.replace(/^file:\/\//, '').replace(`${process.cwd()}/`, '');
    const name = `${functionName || '(anonymous)'} ${where ? `${where}:${lineNumber + 1}` : ''}`.trim();
    byFunction.set(name, (byFunction.get(name) ?? 0) + hits);
    const place = where.includes('node_modules/')
      ? `npm ${where
          .split('node_modules/')
          .at(-1)!
          .split('/')
          .slice(0, where.includes('node_modules/@') ? 2 : 1)
          .join('/')}`
      : where.startsWith('node:')
        ? 'node internals'
        : where === ''
          ? functionName || '(native)'
          : where.split('/').slice(0, 2).join('/');
    byPlace.set(place, (byPlace.get(place) ?? 0) + hits);
  }
  const table = (entries: Map<string, number>) =>
    [...entries.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([name, hits]) => `  ${((100 * hits) / total).toFixed(1).padStart(5)}%  ${name}`)
      .join('\n');
  const seconds = (profile.endTime - profile.startTime) / 1e6;
  return `${total} samples over ${seconds.toFixed(1)} s\nby package or folder (self time):\n${table(byPlace)}\nby function (self time):\n${table(byFunction)}`;
}

/**
 * PostgreSQL's view while `during` runs: its sessions sampled every 10 ms
 * (active statement and what it waits on), counted, largest first; works on
 * any server, with no extension to preload.
 */
async function sampleSessions<T>(databaseUrl: string, during: Promise<T>): Promise<{ result: T; report: string }> {
  const { default: pg } = await import('pg');
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  client.on('error', () => undefined);
  const counts = new Map<string, number>();
  let samples = 0;
  let done = false;
  const finished = Promise.resolve(during).finally(() => {
    done = true;
  });
  try {
    while (!done) {
      const rows = await client.query<{ wait: string; query: string }>(
        `SELECT coalesce(wait_event_type || ':' || wait_event, 'CPU') AS wait,
                regexp_replace(left(query, 100), '\\s+', ' ', 'g') AS query
           FROM pg_stat_activity
          WHERE datname = current_database() AND pid <> pg_backend_pid() AND state = 'active'`,
      );
      samples++;
      for (const row of rows.rows) {
        const key = `${row.wait.padEnd(22)} ${row.query}`;
        counts.set(key, (counts.get(key) ?? 0) + 1);
      }
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    const result = await finished;
    const report = [...counts.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, 15)
      .map(([key, count]) => `  ${(count / samples).toFixed(2).padStart(5)} sessions  ${key}`)
      .join('\n');
    return { result, report: `${samples} samples, average active sessions by statement and wait:\n${report}` };
  } finally {
    await client.end();
  }
}

async function profilePut(method: 'PUT' | 'GET' = 'PUT') {
  const dir = mkdtempSync(join(tmpdir(), 'configledger-profile-'));
  const service = await startConfigledger(18091, {}, ['--cpu-prof', `--cpu-prof-dir=${dir}`]);
  const services = 64;
  try {
    for (let i = 0; i < services; i++)
      await fetch(`${service.base}/configurations/bench-${i}`, {
        method: 'PUT',
        headers: service.headers,
        body: JSON.stringify({
          configuration: { limits: { counter: 0 }, venues: ['XNYS', 'XNAS'], risk: { maxPosition: i } },
        }),
      });
    let n = 0;
    const { result, report } = await sampleSessions(
      service.databaseUrl,
      autocannon({
        url: service.base,
        connections: 32,
        duration: Number(process.env.BENCH_DURATION ?? 10),
        requests: [
          method === 'PUT'
            ? {
                method: 'PUT',
                headers: service.headers,
                setupRequest: (request) => {
                  n++;
                  return {
                    ...request,
                    path: `/api/v1/configurations/bench-${n % services}/limits.counter`,
                    body: JSON.stringify({ value: n }),
                  };
                },
              }
            : {
                method: 'GET',
                headers: service.headers,
                setupRequest: (request) => ({ ...request, path: `/api/v1/configurations/bench-${n++ % services}` }),
              },
        ],
      }),
    );
    process.stdout.write(
      `${method}: ${Math.round(result.requests.average)} req/s, p50 ${result.latency.p50} ms, p99 ${result.latency.p99} ms, errors ${result.errors + result.non2xx}\n`,
    );
    process.stdout.write(`PostgreSQL: ${report}\n`);
  } finally {
    await service.stop();
  }
  const file = readdirSync(dir).find((name) => name.endsWith('.cpuprofile'));
  if (!file) throw new Error(`no profile written in ${dir}`);
  process.stdout.write(`${summarizeProfile(join(dir, file))}\n(profile: ${join(dir, file)})\n`);
}

/** This process's own CPU profile while `work` runs (the inspector's profiler), written to `file`. */
async function profiled<T>(file: string, work: () => Promise<T>): Promise<T> {
  const { Session } = await import('node:inspector/promises');
  const { writeFileSync } = await import('node:fs');
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.start');
  try {
    return await work();
  } finally {
    const { profile } = await session.post('Profiler.stop');
    writeFileSync(file, JSON.stringify(profile));
    session.disconnect();
  }
}

/** A log of `count` configuration changes over 10,000 configurations, appended 32 streams at a time. */
async function buildLog(databaseUrl: string, count: number) {
  const { randomUUID } = await import('node:crypto');
  const { openPostgres } = await import('#infra/postgres/database.ts');
  const { createSqlEventStore } = await import('#infra/eventstore/postgres.ts');
  const { checksumOf } = await import('#infra/json/canonical.ts');
  const db = openPostgres(databaseUrl, { max: 40 });
  const store = await createSqlEventStore(db);
  const versions = new Map<number, number>();
  for (let next = 0; next < count; next += 32) {
    await Promise.all(
      Array.from({ length: Math.min(32, count - next) }, (_, lane) => {
        const stream = (next + lane) % 10_000;
        const version = (versions.get(stream) ?? 0) + 1;
        versions.set(stream, version);
        const configuration = { limit: next + lane, venue: 'XNYS', feed: { depth: 10 } };
        return store.append(
          `config-svc-${stream}-production`,
          [
            {
              id: randomUUID(),
              type: version === 1 ? 'ConfigurationCreated' : 'ConfigurationUpdated',
              data: {
                serviceId: `svc-${stream}`,
                environment: 'production',
                version,
                configuration,
                checksum: checksumOf(configuration),
                changedKeys: ['limit'],
                changes: [{ path: 'limit', oldValue: next + lane - 1, newValue: next + lane }],
                operation: version === 1 ? 'create' : 'patch',
              },
              metadata: { actor: 'bench', correlationId: 'bench', schemaVersion: 2 },
            },
          ],
          'any',
        );
      }),
    );
  }
  return { db, store };
}

async function profileRebuild() {
  const { createTestDatabase } = await import('#testing/postgres.ts');
  const { rebuildReadModels } = await import('#projections/rebuild.ts');
  const events = Number(process.env.BENCH_EVENTS ?? 100_000);
  const database = await createTestDatabase('configledger_profile_rebuild');
  const dir = mkdtempSync(join(tmpdir(), 'configledger-profile-'));
  const file = join(dir, 'rebuild.cpuprofile');
  try {
    process.stderr.write(`building a log of ${events} events...\n`);
    const { db, store } = await buildLog(database.url, events);
    const started = performance.now();
    const { result, report } = await sampleSessions(
      database.url,
      profiled(file, () => rebuildReadModels(store, db)),
    );
    const seconds = (performance.now() - started) / 1000;
    process.stdout.write(
      `rebuild: ${result.events} events in ${seconds.toFixed(1)} s, ${Math.round(result.events / seconds)} events/s\nPostgreSQL: ${report}\n${summarizeProfile(file)}\n(profile: ${file})\n`,
    );
    await store.close();
    await db.close();
  } finally {
    await database.drop();
  }
}

/**
 * SQL statements per PUT, counted at the client library, with the service in
 * this process on a fresh PostgreSQL database (32 writers, 64 services): a
 * figure that does not move with the machine's load.
 */
async function countStatements() {
  const { default: pg } = await import('pg');
  const { createTestDatabase } = await import('#testing/postgres.ts');
  const { startTestServer } = await import('#testing/server.ts');
  const counts = new Map<string, number>();
  let counting = false;
  const original = pg.Client.prototype.query;
  (pg.Client.prototype as { query: unknown }).query = function (this: unknown, ...args: unknown[]) {
    if (counting) {
      const first = args[0] as string | { text?: string };
      const text = (typeof first === 'string' ? first : (first?.text ?? '?')).replace(/\s+/g, ' ').slice(0, 80);
      counts.set(text, (counts.get(text) ?? 0) + 1);
    }
    return (original as (...a: unknown[]) => unknown).apply(this, args);
  };
  const database = await createTestDatabase('configledger_profile_statements');
  const server = await startTestServer({ databaseUrl: database.url });
  try {
    const token = await server.token('bench', ['writer']);
    for (let i = 0; i < 64; i++)
      await server.call('PUT', `/configurations/bench-${i}`, {
        token,
        body: { configuration: { limits: { counter: 0 } } },
      });
    await new Promise((resolve) => setTimeout(resolve, 500));
    const puts = 1280;
    counting = true;
    await Promise.all(
      Array.from({ length: 32 }, async (_, writer) => {
        for (let i = writer; i < puts; i += 32)
          await server.call('PUT', `/configurations/bench-${i % 64}/limits.counter`, { token, body: { value: i } });
      }),
    );
    await new Promise((resolve) => setTimeout(resolve, 1000));
    counting = false;
    const total = [...counts.values()].reduce((sum, n) => sum + n, 0);
    process.stdout.write(`${(total / puts).toFixed(2)} SQL statements per PUT (${puts} PUTs)\n`);
    for (const [text, n] of [...counts].sort((a, b) => b[1] - a[1]).slice(0, 12))
      process.stdout.write(`  ${(n / puts).toFixed(3).padStart(6)}  ${text}\n`);
  } finally {
    await server.close();
    await database.drop();
  }
}

const what = process.argv[2] ?? 'put';
if (what === 'summary') process.stdout.write(`${summarizeProfile(process.argv[3]!)}\n`);
else if (what === 'put') await profilePut();
else if (what === 'get') await profilePut('GET');
else if (what === 'rebuild') await profileRebuild();
else if (what === 'statements') await countStatements();
else throw new Error(`profile what? put, rebuild, statements or summary FILE (got ${what})`);
