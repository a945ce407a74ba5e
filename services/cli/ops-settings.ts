import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { InvalidSetting, type Settings, readSettings, storageSettingsOf } from '#services/shared/settings.ts';
import { explainStartFailure } from '#services/config-api/start-errors.ts';
import { type Storage, openStorage } from '#infra/eventstore/select.ts';
import { BackupRefused } from '#services/backup/format.ts';
import { DataDirectoryInUse } from '#infra/postgres/data-dir-lock.ts';
import { MissingSecret, existingSecret } from '#infra/auth/tokens.ts';
import { type Command, ConfigurationError, Failed, UsageError } from './command.ts';

let config: Settings | undefined;
/** Read once, when a command first needs them: `--help` works whatever the environment holds. */
export const settings = (): Settings => {
  config ??= readSettings();
  return config;
};

/** The key the service signs chain heads with (backups, Kafka checkpoints). */
export const signingKey = (): string =>
  existingSecret(settings().CHAIN_SIGNING_KEY, settings().DATA_DIR, 'chain-signing-key', 'CHAIN_SIGNING_KEY');

/**
 * The service's store, which must exist already: a command pointed at the
 * wrong DATA_DIR or database says so, instead of creating an empty store there.
 */
export async function openServiceStorage(): Promise<Storage> {
  const where = storageSettingsOf(settings());
  if (!where.eventStoreUrl && !where.databaseUrl && !existsSync(join(where.dataDir, 'pglite')))
    throw new ConfigurationError(
      `there is no store in ${where.dataDir}: set DATA_DIR to the service's data directory (or DATABASE_URL, EVENTSTORE_URL)`,
    );
  const storage = await openStorage(where);
  const { rows } = await storage.readModels.query<{ ready: boolean }>(
    "SELECT to_regclass('audit_chain') IS NOT NULL AS ready",
  );
  if (!rows[0]?.ready) {
    await storage.close();
    throw new Failed(
      `${storage.describe} holds no configledger read models: the service has never run on it (start it once), or the setting names another database`,
    );
  }
  return storage;
}

/** The store's and the settings' typed errors, as the CLI reports them. */
function translated(error: unknown): unknown {
  const explained = explainStartFailure(error, { databaseUrl: settings().DATABASE_URL, dataDir: settings().DATA_DIR });
  if (explained) return new Failed(explained);
  if (error instanceof InvalidSetting) return new UsageError(error.message);
  if (error instanceof BackupRefused) return new Failed(`refused: ${error.message}`);
  if (error instanceof DataDirectoryInUse) return new Failed(error.message);
  if (error instanceof MissingSecret) return new ConfigurationError(error.message);
  return error;
}

/** An operations command: it works on the store itself (EVENTSTORE_URL, DATABASE_URL or DATA_DIR), not over HTTP. */
export const operation = (usage: string, run: (args: string[]) => Promise<number | undefined>): Command => ({
  usage: `${usage}\n\nThe store is chosen as the service does: EVENTSTORE_URL, else DATABASE_URL, else DATA_DIR (default ./data).`,
  async run(args) {
    try {
      return await run(args);
    } catch (error) {
      throw translated(error);
    }
  },
});
