import { Agent, request } from 'node:http';
import { afterAll, describe, expect, it } from 'vitest';
import { mintToken } from '#infra/auth/tokens.ts';
import { openStorage } from '#infra/eventstore/select.ts';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTestDatabase, type TestDatabase } from '#testing/postgres.ts';
import { TEST_JWT_SECRET } from '#testing/server.ts';
import { freePort, startServiceProcess } from '#testing/service-process.ts';
import { waitFor } from '#testing/wait.ts';
import { startOwnBroker } from '#testing/kafka.ts';

const BOUND_MS = 8000;

/** One keep-alive request; resolves with the status, or the error code when the connection failed. */
function put(
  agent: Agent,
  port: number,
  path: string,
  token: string,
  body: unknown,
): Promise<{ status?: number; code?: string; error?: string; data?: { version: number } }> {
  const payload = JSON.stringify(body);
  return new Promise((resolve) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path: `/api/v1${path}`,
        method: 'PUT',
        agent,
        headers: {
          authorization: `Bearer ${token}`,
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(payload),
        },
      },
      (res) => {
        let text = '';
        res.on('data', (chunk: Buffer) => (text += chunk.toString()));
        res.on('end', () => {
          const parsed = (() => {
            try {
              return JSON.parse(text) as { data?: { version: number }; code?: string };
            } catch {
              return {};
            }
          })();
          resolve({
            status: res.statusCode,
            code: parsed.code,
            data: res.statusCode === 200 || res.statusCode === 201 ? parsed.data : undefined,
          });
        });
        res.on('error', (error: NodeJS.ErrnoException) => resolve({ error: error.code ?? error.message }));
      },
    );
    req.on('error', (error: NodeJS.ErrnoException) => resolve({ error: error.code ?? error.message }));
    req.end(payload);
  });
}

describe('shutdown within its bound', () => {
  const databases: TestDatabase[] = [];
  afterAll(async () => {
    for (const database of databases) await database.drop();
  });

  it.each(['postgres', 'embedded'] as const)(
    'on %s, under 200 keep-alive writers: in-flight requests finish, the process exits 0 in time, and every acknowledged write is in the log',
    async (kind) => {
      const database = await createTestDatabase('configledger_shutdown');
      databases.push(database);
      const dataDir = mkdtempSync(join(tmpdir(), 'configledger-shutdown-'));
      const port = await freePort();
      const where: Record<string, string> =
        kind === 'postgres' ? { DATABASE_URL: database.url } : { DATA_DIR: dataDir };
      const service = await startServiceProcess({
        ...where,
        PORT: String(port),
        JWT_SECRET: TEST_JWT_SECRET,
        SHUTDOWN_TIMEOUT_MS: String(BOUND_MS),
      });
      const token = await mintToken(TEST_JWT_SECRET, { subject: 'load', roles: ['writer'] });
      const agent = new Agent({ keepAlive: true, maxSockets: 200 });
      const acknowledged: { serviceId: string; version: number }[] = [];
      const outcomes = new Map<string, number>();
      /** Requests whose connection failed: if one was written nonetheless, the server dropped an answer it owed. */
      const unanswered = new Set<string>();
      let exited = false;
      const writers = Array.from({ length: 200 }, async (_, writer) => {
        for (let i = 0; !exited; i++) {
          const serviceId = `shutdown-${writer % 50}`;
          const answer = await put(agent, port, `/configurations/${serviceId}`, token, {
            configuration: { writer, i },
          });
          const outcome = answer.error ?? `${answer.status}${answer.code ? ` ${answer.code}` : ''}`;
          outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
          if (answer.data) acknowledged.push({ serviceId, version: answer.data.version });
          if (answer.error) unanswered.add(`${writer}/${i}`);
          if (answer.error) await new Promise((resolve) => setTimeout(resolve, 20));
        }
      });
      await waitFor(() => acknowledged.length >= 300, 60_000, 'load');
      const stopped = await service.stop();
      exited = true;
      await Promise.all(writers);
      agent.destroy();

      expect(stopped, service.output.slice(-2000)).toMatchObject({ code: 0 });
      expect(stopped.ms).toBeLessThan(BOUND_MS);
      // Refusals while closing speak the API's format, with a code a client knows to retry.
      expect(
        [...outcomes.keys()].filter((outcome) => /^5\d\d/.test(outcome) && !outcome.endsWith(' SHUTTING_DOWN')),
      ).toEqual([]);
      const storage = await openStorage(kind === 'postgres' ? { databaseUrl: database.url, dataDir } : { dataDir });
      const { rows } = await storage.readModels.query<{
        stream_name: string;
        stream_revision: string;
        data: { configuration?: { writer: number; i: number } };
      }>('SELECT stream_name, stream_revision::text, data FROM events');
      await storage.close();
      const inLog = new Set(rows.map((row) => `${row.stream_name}#${Number(row.stream_revision) + 1}`));
      const lost = acknowledged.filter(
        ({ serviceId, version }) => !inLog.has(`config-${serviceId}-production#${version}`),
      );
      expect(lost).toEqual([]);
      const droppedAnswers = rows.filter(
        (row) =>
          row.data.configuration && unanswered.has(`${row.data.configuration.writer}/${row.data.configuration.i}`),
      );
      expect(droppedAnswers).toEqual([]);
      process.stdout.write(
        `shutdown under load (${kind}): ${acknowledged.length} acknowledged, exit ${stopped.code} after ${Math.round(stopped.ms)} ms; answers ${JSON.stringify(Object.fromEntries(outcomes))}\n`,
      );
    },
    120_000,
  );

  it('when the broker goes away: /health says so within 5 s, one log line per state change, and SIGTERM exits 0 in time', async () => {
    const broker = await startOwnBroker(19495);
    try {
      const database = await createTestDatabase('configledger_shutdown');
      databases.push(database);
      const port = await freePort();
      const service = await startServiceProcess({
        DATABASE_URL: database.url,
        PORT: String(port),
        JWT_SECRET: TEST_JWT_SECRET,
        SHUTDOWN_TIMEOUT_MS: String(BOUND_MS),
        KAFKA_BROKERS: broker.brokers.join(','),
        LOG_LEVEL: 'info',
      });
      const token = await mintToken(TEST_JWT_SECRET, { subject: 'ops', roles: ['admin'] });
      const agent = new Agent({ keepAlive: true });
      const kafkaStatus = async () =>
        (
          (await (await fetch(`http://127.0.0.1:${port}/api/v1/health`)).json()) as {
            data: { dependencies: { kafka?: { status: string } } };
          }
        ).data.dependencies.kafka?.status;
      expect((await put(agent, port, '/configurations/before', token, { configuration: { a: 1 } })).status).toBe(201);
      await waitFor(async () => (await kafkaStatus()) === 'up', 30_000, 'Kafka reported up');
      const before = service.output.length;

      await broker.down();
      const wentAway = performance.now();
      expect((await put(agent, port, '/configurations/during', token, { configuration: { a: 2 } })).status).toBe(201);
      await waitFor(async () => (await kafkaStatus()) === 'down', 20_000, 'Kafka reported down');
      const reportedAfterMs = performance.now() - wentAway;
      // Retries go on meanwhile: the log says it once, not once per retry.
      await new Promise((resolve) => setTimeout(resolve, 8000));
      const stopped = await service.stop();
      agent.destroy();
      const outage = service.output
        .slice(before)
        .split('\n')
        .filter((line) => /kafka/i.test(line) && !/shutting down/.test(line));
      process.stdout.write(
        `Kafka reported down after ${Math.round(reportedAfterMs)} ms; ${outage.length} log lines about it; exit ${stopped.code} after ${Math.round(stopped.ms)} ms\n`,
      );
      expect(reportedAfterMs).toBeLessThan(5000);
      expect(outage.length, outage.join('\n')).toBeLessThanOrEqual(2);
      expect(service.output.slice(before)).not.toMatch(/\n\s+at /);
      expect(stopped, service.output.slice(-2000)).toMatchObject({ code: 0 });
      expect(stopped.ms).toBeLessThan(BOUND_MS);
    } finally {
      await broker.dispose();
    }
  }, 120_000);
});
