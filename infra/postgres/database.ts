import pg from 'pg';
import { PGlite } from '@electric-sql/pglite';
import { mkdirSync } from 'node:fs';

export type Row = Record<string, unknown>;

export interface SqlExecutor {
  query<R extends Row = Row>(text: string, params?: unknown[]): Promise<{ rows: R[] }>;
}

/**
 * The one SQL surface the event store and the read models use, so that the
 * PostgreSQL server and the embedded PGlite run the same statements.
 */
export interface Database extends SqlExecutor {
  readonly kind: 'postgres' | 'pglite';
  /** Runs a script of several statements (migrations). */
  exec(script: string): Promise<void>;
  transaction<T>(work: (tx: SqlExecutor) => Promise<T>): Promise<T>;
  /** Calls `onNotify` for every NOTIFY on `channel`, and once after a lost listener reconnects. */
  listen(channel: string, onNotify: () => void): Promise<() => Promise<void>>;
  close(): Promise<void>;
}

// int8 as string keeps positions exact; callers convert with BigInt().
pg.types.setTypeParser(pg.types.builtins.INT8, (value) => value);

export function openPostgres(connectionString: string, options: { max?: number; /** Schemas to resolve names in, first one first. */ searchPath?: string[] } = {}): Database {
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
      await pool.query(script);
    },
    query: async <R extends Row>(text: string, params?: unknown[]) => {
      const result = await pool.query(text, params);
      return { rows: result.rows as R[] };
    },
    async transaction(work) {
      const client = await pool.connect();
      // A connection lost between two statements surfaces as the next statement's error; without a
      // listener the client's 'error' event would end the process.
      const ignore = () => undefined;
      client.on('error', ignore);
      let broken: Error | undefined;
      try {
        await client.query('BEGIN');
        const result = await work({
          query: async <R extends Row>(text: string, params?: unknown[]) => ({ rows: (await client.query(text, params)).rows as R[] }),
        });
        await client.query('COMMIT');
        return result;
      } catch (error) {
        await client.query('ROLLBACK').catch((rollbackError: Error) => (broken = rollbackError));
        throw error;
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
  if (!dataDir.startsWith('memory://')) mkdirSync(dataDir, { recursive: true });
  const db = await PGlite.create(dataDir);
  return {
    kind: 'pglite',
    async exec(script) {
      await db.exec(script);
    },
    query: async <R extends Row>(text: string, params?: unknown[]) => ({ rows: (await db.query<R>(text, params)).rows }),
    transaction: (work) =>
      db.transaction((tx) => work({ query: async <R extends Row>(text: string, params?: unknown[]) => ({ rows: (await tx.query<R>(text, params)).rows }) })),
    async listen(channel, onNotify) {
      const unlisten = await db.listen(channel, () => onNotify());
      return unlisten;
    },
    close: () => db.close(),
  };
}

function quoteIdentifier(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}
