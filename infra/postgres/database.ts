import pg from 'pg';
import { PGlite } from '@electric-sql/pglite';
import { lockDataDirectory } from './data-dir-lock.ts';

export type Row = Record<string, unknown>;

export interface SqlExecutor {
  query<R extends Row = Row>(text: string, params?: unknown[]): Promise<{ rows: R[] }>;
}

/** The statement never reached the database: it cannot have had any effect. */
export class NotSent extends Error {
  override readonly name = 'NotSent';
}

/**
 * The statement was sent and its answer was lost (the connection broke, or no
 * answer came in time): it may have committed. `backendPid` names the server
 * process that ran it, to be ended before anyone concludes it did not.
 */
export class AnswerLost extends Error {
  override readonly name = 'AnswerLost';
  constructor(
    message: string,
    readonly backendPid: number | undefined,
  ) {
    super(message);
  }
}

/**
 * The database did not answer: no connection, a dropped one, a timeout, an
 * open circuit. Not the server's answer to the statement (that keeps its
 * SQLSTATE), so a request that met it was not refused, only not served.
 */
export class DatabaseUnavailable extends Error {
  override readonly name = 'DatabaseUnavailable';
}

const CONNECTION_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN']);
const CONNECTION_MESSAGES =
  /Connection terminated|Connection ended unexpectedly|timeout exceeded when trying to connect|Client has encountered a connection error/;

/**
 * The driver's way of saying the connection failed, as one typed error: the
 * only place that reads the driver's codes and messages. Server answers of
 * the connection classes (08, 57P0x, too many connections) count as not answering.
 */
export function asUnavailable(error: unknown): unknown {
  if (!(error instanceof Error) || error instanceof DatabaseUnavailable) return error;
  const code = (error as { code?: unknown }).code;
  const sqlState = typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code);
  const unavailable = sqlState
    ? /^(08|57P0|53300)/.test(code)
    : (typeof code === 'string' && CONNECTION_CODES.has(code)) || CONNECTION_MESSAGES.test(error.message);
  return unavailable ? new DatabaseUnavailable(error.message, { cause: error }) : error;
}

const typed = <T>(work: Promise<T>): Promise<T> =>
  work.catch((error: unknown) => {
    throw asUnavailable(error);
  });

/**
 * The one SQL surface the event store and the read models use, so that the
 * PostgreSQL server and the embedded PGlite run the same statements.
 */
export interface Database extends SqlExecutor {
  readonly kind: 'postgres' | 'pglite';
  /**
   * Runs one statement whose effect must be known: throws NotSent when it
   * never reached the server, AnswerLost (with its server process) when its
   * answer did not come back within `timeoutMs` or the connection broke, and
   * the server's own error when the server refused it (then nothing happened).
   */
  session<R extends Row = Row>(text: string, params: unknown[], options: { timeoutMs: number }): Promise<{ rows: R[] }>;
  /** Ends a server process and waits until it is gone, so a statement it ran has committed or rolled back for good. */
  endBackend(pid: number, timeoutMs: number): Promise<void>;
  /** Runs a script of several statements (migrations). */
  exec(script: string): Promise<void>;
  transaction<T>(work: (tx: SqlExecutor) => Promise<T>): Promise<T>;
  /** Calls `onNotify` for every NOTIFY on `channel`, and once after a lost listener reconnects. */
  listen(channel: string, onNotify: () => void): Promise<() => Promise<void>>;
  close(): Promise<void>;
}

// int8 as string keeps positions exact; callers convert with BigInt().
pg.types.setTypeParser(pg.types.builtins.INT8, (value) => value);

export function openPostgres(
  connectionString: string,
  options: { max?: number /** Schemas to resolve names in, first one first. */; searchPath?: string[] } = {},
): Database {
  const pool = new pg.Pool({
    connectionString,
    max: options.max ?? 20,
    // A database that does not answer fails a request in bounded time instead of queueing it forever.
    connectionTimeoutMillis: 2000,
    ...(options.searchPath ? { options: `-c search_path=${options.searchPath.join(',')}` } : {}),
  });
  // An idle client that loses its server must not take the process down; the next query reconnects.
  pool.on('error', () => undefined);
  const listeners = new Set<pg.Client>();

  return {
    kind: 'postgres',
    async exec(script) {
      await typed(pool.query(script));
    },
    query: async <R extends Row>(text: string, params?: unknown[]) => {
      const result = await typed(pool.query(text, params));
      return { rows: result.rows as R[] };
    },
    async session<R extends Row>(text: string, params: unknown[], { timeoutMs }: { timeoutMs: number }) {
      let client: pg.PoolClient;
      try {
        client = await pool.connect();
      } catch (error) {
        throw new NotSent(
          `the database did not accept a connection: ${error instanceof Error ? error.message : String(error)}`,
        );
      }
      const ignore = () => undefined;
      client.on('error', ignore);
      let lost = false;
      try {
        const known = client as pg.PoolClient & { backendPid?: number };
        known.backendPid ??= Number((await client.query('SELECT pg_backend_pid() AS pid')).rows[0]!.pid);
        try {
          const result = await client.query({ text, values: params, query_timeout: timeoutMs } as pg.QueryConfig);
          return { rows: result.rows as R[] };
        } catch (error) {
          // An error the server sent (it has a SQLSTATE) is its answer; anything else leaves the outcome open.
          if (
            typeof (error as { code?: unknown }).code === 'string' &&
            /^[0-9A-Z]{5}$/.test((error as { code: string }).code)
          )
            throw error;
          lost = true;
          throw new AnswerLost(
            `no answer to a statement (${error instanceof Error ? error.message : String(error)})`,
            known.backendPid,
          );
        }
      } catch (error) {
        if (error instanceof AnswerLost || lost) throw error;
        if (
          typeof (error as { code?: unknown }).code === 'string' &&
          /^[0-9A-Z]{5}$/.test((error as { code: string }).code)
        )
          throw error;
        // The pid query itself failed: the append was never sent on this connection.
        lost = true;
        throw new NotSent(
          `the connection failed before the statement was sent: ${error instanceof Error ? error.message : String(error)}`,
        );
      } finally {
        client.off('error', ignore);
        client.release(lost);
      }
    },
    async endBackend(pid, timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      await pool.query('SELECT pg_terminate_backend($1)', [pid]);
      while ((await pool.query('SELECT 1 FROM pg_stat_activity WHERE pid = $1', [pid])).rows.length > 0) {
        if (Date.now() > deadline) throw new Error(`server process ${pid} did not end within ${timeoutMs} ms`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    },
    async transaction(work) {
      const client = await typed(pool.connect());
      // A connection lost between two statements surfaces as the next statement's error; without a
      // listener the client's 'error' event would end the process.
      const ignore = () => undefined;
      client.on('error', ignore);
      let broken: Error | undefined;
      try {
        await typed(client.query('BEGIN'));
        const result = await work({
          query: async <R extends Row>(text: string, params?: unknown[]) => ({
            rows: (await typed(client.query(text, params))).rows as R[],
          }),
        });
        await typed(client.query('COMMIT'));
        return result;
      } catch (error) {
        await client.query('ROLLBACK').catch((rollbackError: Error) => {
          broken = rollbackError;
        });
        throw asUnavailable(error);
      } finally {
        client.off('error', ignore);
        // A client whose connection failed is discarded, not returned to the pool.
        client.release(broken);
      }
    },
    async listen(channel, onNotify) {
      let closed = false;
      let current: pg.Client | undefined;
      const connect = async (): Promise<void> => {
        while (!closed) {
          const client = new pg.Client({ connectionString });
          try {
            await client.connect();
            client.on('notification', () => onNotify());
            client.on('error', () => {
              listeners.delete(client);
              client.end().catch(() => undefined);
              if (!closed) setTimeout(() => void connect(), 200);
            });
            await client.query(`LISTEN ${quoteIdentifier(channel)}`);
            current = client;
            listeners.add(client);
            onNotify();
            return;
          } catch {
            await client.end().catch(() => undefined);
            await new Promise((resolve) => setTimeout(resolve, 500));
          }
        }
      };
      await connect();
      return async () => {
        closed = true;
        if (current) {
          listeners.delete(current);
          await current.end().catch(() => undefined);
        }
      };
    },
    async close() {
      await Promise.all([...listeners].map((client) => client.end().catch(() => undefined)));
      await pool.end();
    },
  };
}

export async function openPGlite(dataDir: string): Promise<Database> {
  const inMemory = dataDir.startsWith('memory://');
  const lock = inMemory ? undefined : lockDataDirectory(dataDir);
  let db: PGlite;
  try {
    db = await PGlite.create(dataDir);
  } catch (error) {
    lock?.release();
    throw error;
  }
  return {
    kind: 'pglite',
    async exec(script) {
      await db.exec(script);
    },
    query: async <R extends Row>(text: string, params?: unknown[]) => ({
      rows: (await db.query<R>(text, params)).rows,
    }),
    // In the same process: an answer cannot be lost on the way.
    session: async <R extends Row>(text: string, params: unknown[]) => ({
      rows: (await db.query<R>(text, params)).rows,
    }),
    endBackend: async () => undefined,
    transaction: (work) =>
      db.transaction((tx) =>
        work({
          query: async <R extends Row>(text: string, params?: unknown[]) => ({
            rows: (await tx.query<R>(text, params)).rows,
          }),
        }),
      ),
    async listen(channel, onNotify) {
      const unlisten = await db.listen(channel, () => onNotify());
      return unlisten;
    },
    async close() {
      await db.close();
      lock?.release();
    },
  };
}

function quoteIdentifier(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}
