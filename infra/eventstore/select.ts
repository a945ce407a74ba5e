import { join } from 'node:path';
import { openPGlite, openPostgres, type Database } from '#infra/postgres/database.ts';
import { createEsdbEventStore } from './esdb.ts';
import type { EventStore } from './port.ts';
import { createSqlEventStore } from './postgres.ts';

export interface StorageSettings {
  eventStoreUrl?: string;
  databaseUrl?: string;
  dataDir: string;
  /** How long an append waits for its answer before its outcome is settled by its event ids (default 5 s). */
  appendTimeoutMs?: number;
}

export interface Storage {
  store: EventStore;
  /** Where the read models live: the PostgreSQL database, or the embedded one. */
  readModels: Database;
  describe: string;
  /** The embedded store's directory, whose disk readiness watches. */
  dataDir?: string;
  close(): Promise<void>;
}

/** EVENTSTORE_URL selects EventStoreDB; else DATABASE_URL selects PostgreSQL; else the embedded PGlite in DATA_DIR. */
export async function openStorage(settings: StorageSettings): Promise<Storage> {
  const pgliteDir = settings.dataDir.startsWith('memory://') ? settings.dataDir : join(settings.dataDir, 'pglite');
  const readModels = settings.databaseUrl ? openPostgres(settings.databaseUrl) : await openPGlite(pgliteDir);
  if (settings.eventStoreUrl) {
    const store = createEsdbEventStore(settings.eventStoreUrl);
    return {
      store,
      readModels,
      describe: `EventStoreDB (${redactUrl(settings.eventStoreUrl)}), read models on ${readModels.kind}`,
      close: async () => {
        await store.close();
        await readModels.close();
      },
    };
  }
  const store = await createSqlEventStore(readModels, { appendTimeoutMs: settings.appendTimeoutMs ?? 5000 });
  return {
    store,
    readModels,
    describe: settings.databaseUrl
      ? `PostgreSQL (${redactUrl(settings.databaseUrl)})`
      : `embedded PGlite (${pgliteDir})`,
    ...(!settings.databaseUrl && !pgliteDir.startsWith('memory://') ? { dataDir: pgliteDir } : {}),
    close: async () => {
      await store.close();
      await readModels.close();
    },
  };
}

export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return '<unparseable url>';
  }
}
