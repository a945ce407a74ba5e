import { existsSync, readFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { parseArgs } from 'node:util';
import { installKeyRing, keyProviderOf, keyRingFile } from '#infra/crypto/key-provider.ts';
import { exportCredentialKeys, importCredentialKeys } from '#services/credentials/vault.ts';
import { rebuildReadModels } from '#projections/rebuild.ts';
import { createBackup } from '#services/backup/backup.ts';
import { restoreBackup, restoreKeys } from '#services/backup/restore.ts';
import type { VaultKeys } from '#services/backup/format.ts';
import { type Database, openPostgres } from '#infra/postgres/database.ts';
import { createSqlEventStore } from '#infra/eventstore/postgres.ts';
import { EXIT, Failed, UsageError } from './command.ts';
import { explainStartFailure } from '#services/config-api/start-errors.ts';
import { openServiceStorage, operation, settings, signingKey as chainSigningKey } from './ops-settings.ts';

/** BACKUP_KEYS_PASSPHRASE, or the first line of --keys-passphrase-file: never a prompt, so backups run unattended. */
function keysPassphrase(file: string | undefined): string | undefined {
  const passphrase = file ? readFileSync(file, 'utf8').split('\n')[0]!.trim() : settings().BACKUP_KEYS_PASSPHRASE;
  if (passphrase !== undefined && passphrase.length < 12)
    throw new UsageError('the keys passphrase must be at least 12 characters');
  return passphrase;
}

async function backUp(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: { out: { type: 'string' }, 'with-keys': { type: 'boolean' }, 'keys-passphrase-file': { type: 'string' } },
  });
  if (!values.out) throw new UsageError('backup needs --out FILE');
  const passphrase = values['with-keys'] ? keysPassphrase(values['keys-passphrase-file']) : undefined;
  if (values['with-keys'] && !passphrase)
    throw new UsageError('backup --with-keys needs BACKUP_KEYS_PASSPHRASE or --keys-passphrase-file FILE');
  const signingKey = chainSigningKey();
  const storage = await openServiceStorage();
  try {
    const started = performance.now();
    const keys = passphrase
      ? {
          passphrase,
          vault: {
            ring: keyProviderOf(settings().MASTER_KEY, settings().DATA_DIR).exportRing(),
            credentialKeys: await exportCredentialKeys(storage.readModels),
          },
        }
      : undefined;
    const manifest = await createBackup(storage.store, values.out, {
      chainDb: storage.readModels,
      signingKey,
      source: storage.describe,
      keys,
    });
    const seconds = (performance.now() - started) / 1000;
    process.stdout.write(
      `backed up ${manifest.eventCount} events up to position ${manifest.lastPosition} to ${values.out} in ${seconds.toFixed(2)} s (sha256 ${manifest.sha256})` +
        `${manifest.keys ? `, with ${manifest.keys.credentialKeys} credential keys and ${manifest.keys.keyEncryptionKeys} key-encryption keys` : ''}\n`,
    );
    const chain = manifest.chain!;
    if (chain.intact)
      process.stdout.write(
        `audit chain verified up to position ${chain.head.position}; signed chain head ${chain.head.hash}\n`,
      );
    else {
      process.stderr.write(
        `WARNING: the log fails verification: ${chain.breakCount} break(s), the first at position ${chain.firstBreak} (the manifest records them; ` +
          'restoring this backup will need --accept-broken-chain --reason). Run configledger verify for the list.\n',
      );
      return EXIT.failed;
    }
    return EXIT.done;
  } finally {
    await storage.close();
  }
}

/** Where restored keys go: the credential keys into the target database, the key ring into a file. */
const keyInstaller = (db: Database, ringFile: string) => async (keys: VaultKeys) => {
  await importCredentialKeys(db, keys.credentialKeys);
  installKeyRing(ringFile, keys.ring);
};

async function putKeysBack(args: string[]): Promise<undefined> {
  const { values } = parseArgs({
    args,
    options: {
      from: { type: 'string' },
      target: { type: 'string' },
      'keys-passphrase-file': { type: 'string' },
      'key-ring': { type: 'string' },
    },
  });
  if (!values.from || !values.target)
    throw new UsageError('restore-keys needs --from FILE and --target postgres://...');
  const passphrase = keysPassphrase(values['keys-passphrase-file']);
  if (!passphrase) throw new UsageError('restore-keys needs BACKUP_KEYS_PASSPHRASE or --keys-passphrase-file FILE');
  const ringFile = values['key-ring'] ?? keyRingFile(settings().DATA_DIR);
  const db = openPostgres(values.target);
  try {
    const keys = await restoreKeys(values.from, {
      signingKey: chainSigningKey(),
      passphrase,
      install: keyInstaller(db, ringFile),
    });
    process.stdout.write(
      `restored ${keys.credentialKeys.length} credential keys into the target database and ${Object.keys(keys.ring.keys).length} key-encryption keys into ${ringFile}\n`,
    );
  } finally {
    await db.close();
  }
}

async function restoreLog(args: string[]): Promise<undefined> {
  const { values } = parseArgs({
    args,
    options: {
      from: { type: 'string' },
      target: { type: 'string' },
      'to-time': { type: 'string' },
      'to-position': { type: 'string' },
      'accept-broken-chain': { type: 'boolean' },
      reason: { type: 'string' },
      'keys-passphrase-file': { type: 'string' },
      'key-ring': { type: 'string' },
    },
  });
  if (!values.from || !values.target) throw new UsageError('restore needs --from FILE and --target postgres://...');
  const toTime = values['to-time'] ? new Date(values['to-time']) : undefined;
  if (toTime && Number.isNaN(toTime.getTime())) throw new UsageError('--to-time must be an RFC 3339 instant');
  if (values['to-position'] !== undefined && !/^[1-9]\d{0,17}$/.test(values['to-position']))
    throw new UsageError('--to-position must be a log position (a whole number from 1)');
  const toPosition = values['to-position'] ? BigInt(values['to-position']) : undefined;
  if (values['accept-broken-chain'] && !values.reason?.trim())
    throw new UsageError('--accept-broken-chain needs --reason "..." (it is recorded in the restored log)');
  if (!existsSync(values.from)) throw new Failed(`refused: there is no backup at ${values.from}`);
  const signingKey = chainSigningKey();
  const passphrase = keysPassphrase(values['keys-passphrase-file']);
  const ringFile = values['key-ring'] ?? keyRingFile(settings().DATA_DIR);
  const db = openPostgres(values.target);
  const store = await createSqlEventStore(db).catch(async (error: unknown) => {
    await db.close();
    const explained = explainStartFailure(error, { databaseUrl: values.target });
    throw explained ? new Failed(`the restore target: ${explained}`) : error;
  });
  try {
    const started = performance.now();
    const result = await restoreBackup(values.from, store, {
      signingKey,
      toTime,
      toPosition,
      actor: `cli:${userInfo().username}`,
      ...(values['accept-broken-chain'] ? { acceptBrokenChain: { reason: values.reason!.trim() } } : {}),
      ...(passphrase
        ? {
            keys: {
              passphrase,
              install: keyInstaller(db, ringFile),
            },
          }
        : {}),
      onProgress: (n) => process.stderr.isTTY && process.stderr.write(`restored ${n} events\r`),
    });
    const rebuilt = await rebuildReadModels(store, db);
    const seconds = (performance.now() - started) / 1000;
    for (const warning of result.warnings) process.stderr.write(`warning: ${warning}\n`);
    const lines = [
      `restored ${result.restored} of ${result.manifest.eventCount} events (up to position ${result.lastPosition}), each with its recorded time, and rebuilt the read models from ${rebuilt.events} events in ${seconds.toFixed(2)} s`,
      `the restored log starts epoch ${result.epoch}: clients that follow it reorder by (epoch, position)`,
      result.chainProblems.length === 0
        ? "the backup's audit chain and its signature verified"
        : `restored although its history cannot be vouched for (recorded with the reason given): ${result.chainProblems.join('; ')}`,
      ...(result.keysRestored
        ? [`the vault keys were restored: credential keys into the target database, the key ring into ${ringFile}`]
        : []),
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
  } finally {
    await store.close();
    await db.close();
  }
}

export const backup = operation(
  `configledger backup --out FILE [--with-keys [--keys-passphrase-file FILE]]

Stream the whole log (as of now; writes go on) into a compressed file, verifying the audit chain as it
goes; the manifest records the chain head, signed with CHAIN_SIGNING_KEY. A log that fails verification
is backed up with a warning and exit status 1. --with-keys adds the vault's keys, sealed under
BACKUP_KEYS_PASSPHRASE (or the file's first line).`,
  backUp,
);

export const restore = operation(
  `configledger restore --from FILE --target postgres://... [--to-time RFC3339 | --to-position N]
        [--keys-passphrase-file FILE] [--key-ring FILE] [--accept-broken-chain --reason "..."]

Verify the file (hash, signature, chain), restore it into an empty PostgreSQL store with every event's
recorded time, record the restore (a new epoch), rebuild the read models, and put the vault's keys back
when a passphrase is given (the key ring into --key-ring, default DATA_DIR/secrets/master-keys.json).
A backup whose chain does not verify is refused unless --accept-broken-chain gives a reason.`,
  restoreLog,
);

export const restoreKeysCommand = operation(
  `configledger restore-keys --from FILE --target postgres://... [--keys-passphrase-file FILE] [--key-ring FILE]

Put a backup's vault keys in place after a restore made without them (the log is not touched).`,
  putKeysBack,
);
