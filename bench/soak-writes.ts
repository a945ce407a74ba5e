/**
 * Writes under faults, then an account of every one against the log. Writers
 * send PUTs to every service with an Idempotency-Key (its key is also the
 * change's reason, so each command can be found in the log), retry with the
 * same key when the answer says nothing certain, and record every answer. In
 * the middle, the database is cut, stalled, and its connections reset. After,
 * once the read models hold the whole log, each count must be 0:
 *   - acknowledged but absent: a 2xx answer whose change the log does not hold;
 *   - doubled: one command with more than one event;
 *   - answer differs: the version an answer gave is not the one its event has;
 *   - revision gaps: a stream whose revisions are not 0..n;
 *   - read model differs: a page of /versions that does not match the log;
 *   - unresolved: a command that got no certain answer after its retries.
 */
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { mintToken } from '#infra/auth/tokens.ts';
import { createTestDatabase } from '#testing/postgres.ts';
import { startTcpProxy } from '#testing/tcp-proxy.ts';
import { BENCH_JWT_SECRET, launch, stopProcess, waitUntil } from './processes.ts';

export interface SoakOptions {
  port: number;
  seconds: number;
  services: number;
  writers: number;
  /** Attempts per command, the first included. */
  attempts: number;
}

interface Command {
  key: string;
  serviceId: string;
  value: number;
  answers: string[];
  /** The version a 2xx answer gave. */
  version?: number;
}

export interface SoakReport {
  seconds: number;
  services: number;
  writers: number;
  commands: number;
  answers: Record<string, number>;
  acknowledged: number;
  retried: number;
  writesPerSecond: number;
  faults: string[];
  counts: {
    acknowledgedButAbsent: number;
    doubled: number;
    answerDiffers: number;
    revisionGaps: number;
    readModelDiffers: number;
    unresolved: number;
  };
  problems: string[];
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** One answer as the client saw it: a status and a code, or what kept it from arriving. */
async function send(
  url: string,
  init: RequestInit,
): Promise<{ label: string; status?: number; body?: { code?: string; data?: { version?: number } } }> {
  try {
    const response = await fetch(url, { ...init, signal: AbortSignal.timeout(5000) });
    const body = (await response.json().catch(() => ({}))) as { code?: string; data?: { version?: number } };
    return { label: `${response.status}${body.code ? ` ${body.code}` : ''}`, status: response.status, body };
  } catch (error) {
    return { label: `no answer (${(error as Error).name})` };
  }
}

export async function soakWrites(options: SoakOptions): Promise<SoakReport> {
  const database = await createTestDatabase('configledger_soak');
  const proxy = await startTcpProxy('127.0.0.1', 5432);
  const viaProxy = new URL(database.url);
  viaProxy.port = String(proxy.port);
  const service = launch(process.execPath, ['--import', 'tsx', 'services/config-api/main.ts'], {
    ...process.env,
    DATABASE_URL: viaProxy.toString(),
    JWT_SECRET: BENCH_JWT_SECRET,
    PORT: String(options.port),
    LOG_LEVEL: 'error',
    KAFKA_BROKERS: '',
    EVENTSTORE_URL: '',
    RATE_LIMIT_PER_PRINCIPAL: '0',
    RATE_LIMIT_PER_ADDRESS: '0',
    DATA_DIR: `/tmp/configledger-soak-${options.port}`,
  });
  const base = `http://127.0.0.1:${options.port}/api/v1`;
  const token = await mintToken(BENCH_JWT_SECRET, { subject: 'soak', roles: ['writer'] });
  const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
  const direct = new pg.Client({ connectionString: database.url });
  const commands: Command[] = [];
  const faults: string[] = [];
  try {
    await waitUntil(async () => (await fetch(`${base}/health`)).ok, 30_000, 'configledger');
    await direct.connect();
    const serviceIds = Array.from({ length: options.services }, (_, i) => `soak-${i}`);
    for (const serviceId of serviceIds)
      await fetch(`${base}/configurations/${serviceId}`, {
        method: 'PUT',
        headers,
        body: JSON.stringify({ configuration: { n: 0 } }),
      });

    // The faults, one after another in the middle of the run: a cut, a stall (the database answers, slowly), resets.
    const ms = options.seconds * 1000;
    const at = (fraction: number, what: string, act: () => unknown) =>
      setTimeout(() => {
        faults.push(`${what} at ${Math.round(fraction * options.seconds)} s`);
        void act();
      }, fraction * ms);
    const timers = [
      at(0.2, 'cut', () => proxy.cut()),
      at(0.35, 'restore', () => proxy.restore()),
      at(0.45, 'stall (1.5 s per round trip)', () => proxy.slow(1500)),
      at(0.55, 'end of stall', () => proxy.slow(0)),
    ];
    let resets: NodeJS.Timeout | undefined;
    timers.push(at(0.65, 'connection resets every 300 ms', () => (resets = setInterval(() => proxy.reset(), 300))));
    timers.push(at(0.8, 'end of resets', () => clearInterval(resets)));

    const started = Date.now();
    let next = 0;
    await Promise.all(
      Array.from({ length: options.writers }, async () => {
        while (Date.now() - started < ms) {
          const i = next++;
          const command: Command = {
            key: randomUUID(),
            serviceId: serviceIds[i % serviceIds.length]!,
            value: i + 1,
            answers: [],
          };
          commands.push(command);
          for (let attempt = 1; attempt <= options.attempts; attempt++) {
            const answer = await send(`${base}/configurations/${command.serviceId}/n`, {
              method: 'PUT',
              headers: { ...headers, 'idempotency-key': command.key },
              body: JSON.stringify({ value: command.value, changeReason: command.key }),
            });
            command.answers.push(answer.label);
            if (answer.status !== undefined && answer.status < 300) {
              command.version = answer.body?.data?.version;
              break;
            }
            // Refused for good: a 4xx other than "in progress" will not change on a retry.
            if (
              answer.status !== undefined &&
              answer.status < 500 &&
              answer.body?.code !== 'IDEMPOTENCY_KEY_IN_PROGRESS'
            )
              break;
            await sleep(Math.min(2000, 100 * 2 ** attempt));
          }
        }
      }),
    );
    const elapsed = (Date.now() - started) / 1000;
    timers.forEach(clearTimeout);
    clearInterval(resets);
    proxy.slow(0);
    await proxy.restore();
    await waitUntil(async () => (await fetch(`${base}/health`)).ok, 60_000, 'recovery');

    // The log itself, read directly; then the read models, once they hold it all.
    const head = (await direct.query<{ position: string }>('SELECT position FROM log_head')).rows[0]!.position;
    const { rows } = await direct.query<{
      stream_name: string;
      stream_revision: string;
      version: number;
      reason: string | null;
    }>(
      `SELECT stream_name, stream_revision, (data->>'version')::int AS version, data->>'changeReason' AS reason
       FROM events WHERE stream_name LIKE 'config-soak-%' ORDER BY stream_name, stream_revision`,
    );
    const problems: string[] = [];
    const counts = {
      acknowledgedButAbsent: 0,
      doubled: 0,
      answerDiffers: 0,
      revisionGaps: 0,
      readModelDiffers: 0,
      unresolved: 0,
    };
    const byReason = new Map<string, { version: number }[]>();
    for (const row of rows)
      if (row.reason) byReason.set(row.reason, [...(byReason.get(row.reason) ?? []), { version: row.version }]);
    for (const command of commands) {
      const events = byReason.get(command.key) ?? [];
      const acknowledged = command.version !== undefined;
      if (events.length > 1) {
        counts.doubled++;
        problems.push(
          `${command.key} (${command.serviceId}) has ${events.length} events: ${command.answers.join(', ')}`,
        );
      }
      if (acknowledged && events.length === 0) {
        counts.acknowledgedButAbsent++;
        problems.push(
          `${command.key} (${command.serviceId}) was answered ${command.answers.at(-1)} but is not in the log`,
        );
      }
      if (acknowledged && events.length === 1 && events[0]!.version !== command.version) {
        counts.answerDiffers++;
        problems.push(
          `${command.key} was answered version ${command.version}, the log has version ${events[0]!.version}`,
        );
      }
      const certain =
        acknowledged || command.answers.some((label) => /^4\d\d/.test(label) && !label.includes('IN_PROGRESS'));
      if (!certain) {
        counts.unresolved++;
        problems.push(`${command.key} got no certain answer: ${command.answers.join(', ')}`);
      }
    }
    for (const serviceId of serviceIds) {
      const revisions = rows
        .filter((row) => row.stream_name === `config-${serviceId}-production`)
        .map((row) => Number(row.stream_revision));
      if (revisions.some((revision, i) => revision !== i)) {
        counts.revisionGaps++;
        problems.push(`config-${serviceId}-production has revisions ${revisions.join(',')}`);
      }
      // Every page of the read model's history against the log.
      const logged = rows
        .filter((row) => row.stream_name === `config-${serviceId}-production`)
        .map((row) => row.version);
      const listed: number[] = [];
      let before: number | undefined;
      for (;;) {
        const page = (await (
          await fetch(
            `${base}/configurations/${serviceId}/versions?limit=50&minPosition=${head}${before ? `&before=${before}` : ''}`,
            { headers },
          )
        ).json()) as { data: { version: number }[] };
        listed.push(...page.data.map((entry) => entry.version));
        if (page.data.length < 50) break;
        before = page.data[page.data.length - 1]!.version;
      }
      if (listed.reverse().join(',') !== logged.join(',')) {
        counts.readModelDiffers++;
        problems.push(`${serviceId}: /versions lists ${listed.length} versions, the log holds ${logged.length}`);
      }
    }
    const answers: Record<string, number> = {};
    for (const command of commands) for (const label of command.answers) answers[label] = (answers[label] ?? 0) + 1;
    const acknowledged = commands.filter((command) => command.version !== undefined).length;
    return {
      seconds: options.seconds,
      services: options.services,
      writers: options.writers,
      commands: commands.length,
      answers,
      acknowledged,
      retried: commands.filter((command) => command.answers.length > 1).length,
      writesPerSecond: Math.round(acknowledged / elapsed),
      faults,
      counts,
      problems: problems.slice(0, 20),
    };
  } finally {
    await direct.end().catch(() => undefined);
    await stopProcess(service.child);
    await proxy.close();
    await database.drop();
  }
}
