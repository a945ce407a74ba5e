import { InvalidSetting, type Settings, readSettings } from '#services/shared/settings.ts';
import { BackupRefused } from '#services/backup/format.ts';
import { DataDirectoryInUse } from '#infra/postgres/data-dir-lock.ts';
import { type Command, Failed, UsageError } from './command.ts';

let config: Settings | undefined;
/** Read once, when a command first needs them: `--help` works whatever the environment holds. */
export const settings = (): Settings => {
  config ??= readSettings();
  return config;
};

/** The store's and the settings' typed errors, as the CLI reports them. */
function translated(error: unknown): unknown {
  if (error instanceof InvalidSetting) return new UsageError(error.message);
  if (error instanceof BackupRefused) return new Failed(`refused: ${error.message}`);
  if (error instanceof DataDirectoryInUse) return new Failed(error.message);
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
