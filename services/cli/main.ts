import { parseArgs } from 'node:util';
import { readFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { loadAuthSecrets, loadChainSigningKey, mintToken } from '#infra/auth/tokens.ts';
import { installKeyRing, keyProviderOf, keyRingFile } from '#infra/crypto/key-provider.ts';
import { exportCredentialKeys, importCredentialKeys } from '#services/credentials/vault.ts';
import { ROLES } from '#services/config-api/permissions.ts';
import { openStorage } from '#infra/eventstore/select.ts';
import {
  InvalidSetting,
  type Settings,
  brokersOf,
  readSettings,
  storageSettingsOf,
} from '#services/shared/settings.ts';
import { rebuildReadModels } from '#projections/rebuild.ts';
import { type OutsideEvidence, verifyChain } from '#projections/audit/chain.ts';
import { checkpointOnKafka } from '#projections/audit/checkpoint.ts';
import { createKafka } from '#infra/kafka/topics.ts';
import { readEpoch } from '#projections/log-epoch.ts';
import { type ReplayProgress, replayReadModels } from '#projections/replay.ts';
import { createBackup } from '#services/backup/backup.ts';
import { restoreBackup, restoreKeys, verifyBackup } from '#services/backup/restore.ts';
import { BackupRefused, type VaultKeys } from '#services/backup/format.ts';
import { type Database, openPostgres } from '#infra/postgres/database.ts';
import { createSqlEventStore } from '#infra/eventstore/postgres.ts';
import { DataDirectoryInUse } from '#infra/postgres/data-dir-lock.ts';

const USAGE = `configledger <command>

  token --sub NAME --roles admin,writer,reader [--expires 90d]
      Mint a bearer token signed with JWT_SECRET (or the embedded data directory's secret).
  projections rebuild
      Drop every read model and rebuild it from the log. Stop the API first.
  backup --out FILE [--with-keys [--keys-passphrase-file FILE]]
      Stream the whole log (as of now; writes go on) into a compressed file, verifying the audit chain as it
      goes; the manifest records the chain head, signed with CHAIN_SIGNING_KEY. A log that fails verification
      is backed up with a warning and exit status 1. --with-keys adds the vault's keys, sealed under
      BACKUP_KEYS_PASSPHRASE (or the file's first line).
  restore --from FILE --target postgres://... [--to-time RFC3339 | --to-position N]
          [--keys-passphrase-file FILE] [--key-ring FILE] [--accept-broken-chain --reason "..."]
      Verify the file (hash, signature, chain), restore it into an empty PostgreSQL store with every event's
      recorded time, record the restore (a new epoch), rebuild the read models, and put the vault's keys back
      when a passphrase is given (the key ring into --key-ring, default DATA_DIR/secrets/master-keys.json).
      A backup whose chain does not verify is refused unless --accept-broken-chain gives a reason.
  restore-keys --from FILE --target postgres://... [--keys-passphrase-file FILE] [--key-ring FILE]
      Put a backup's vault keys in place after a restore made without them (the log is not touched).
  replay
      Rebuild every read model into fresh tables while the service runs, and swap them in when caught up (PostgreSQL).
  verify [--output text|json] [--backup FILE]
      Recompute the audit hash chain over the log and hold it to a signed chain head kept outside the database
      (the backup's manifest, or with KAFKA_BROKERS the newest checkpoint on Kafka); exit 1 and name every break.

The store is chosen as the service does: EVENTSTORE_URL, else DATABASE_URL, else DATA_DIR (default ./data).`;

async function token(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      sub: { type: 'string' },
      roles: { type: 'string', default: 'reader' },
      expires: { type: 'string', default: '90d' },
    },
  });
  if (!values.sub) throw new UsageError('token needs --sub');
  const { jwtSecret } = await loadAuthSecrets(settings().JWT_SECRET, settings().DATA_DIR);
  const roles = values.roles
    .split(',')
    .map((role) => role.trim())
    .filter(Boolean);
  const unknown = roles.filter((role) => !(ROLES as readonly string[]).includes(role));
  if (roles.length === 0 || unknown.length > 0)
    throw new UsageError(
      `--roles takes ${ROLES.join(', ')}${unknown.length > 0 ? ` (not ${unknown.join(', ')})` : ''}`,
    );
  process.stdout.write(`${await mintToken(jwtSecret, { subject: values.sub, roles }, values.expires)}\n`);
}

async function rebuild(): Promise<void> {
  const storage = await openStorage(storageSettingsOf(settings()));
  const started = performance.now();
  let lastReport = 0;
  try {
    const result = await rebuildReadModels(storage.store, storage.readModels, (events, position) => {
      if (performance.now() - lastReport < 1000) return;
      lastReport = performance.now();
      process.stderr.write(`rebuilt ${events} events (position ${position})\n`);
    });
    const seconds = (performance.now() - started) / 1000;
    process.stdout.write(
      `rebuilt read models from ${result.events} events up to position ${result.position} in ${seconds.toFixed(2)} s (${Math.round(result.events / Math.max(seconds, 0.001))} events/s)\n`,
    );
  } finally {
    await storage.close();
  }
}

/** The signed chain heads the log is held to: a backup's manifest when named, else those on Kafka (KAFKA_BROKERS). */
async function outsideEvidence(
  backupFile: string | undefined,
  key: string,
  epoch: number,
): Promise<OutsideEvidence | undefined> {
  if (backupFile) {
    const { header, manifest, chainProblems } = await verifyBackup(backupFile, key);
    const source = `backup ${backupFile}`;
    if (!manifest.chain) return { source, note: 'the backup carries no chain head (an older format)' };
    const forged = chainProblems.some((problem) => problem.includes('signature'));
    const backedUp = header.epoch ?? 0;
    if (backedUp > epoch) return { source, newerEpoch: backedUp, forged };
    if (backedUp < epoch)
      return {
        source,
        forged,
        note: `the backup is of an earlier epoch (${backedUp}) than the log (${epoch}): its positions are another log's`,
      };
    return {
      source,
      forged,
      head: { position: manifest.chain.head.position, hash: manifest.chain.head.hash, signedAt: manifest.completedAt },
    };
  }
  const brokers = brokersOf(settings().KAFKA_BROKERS);
  return brokers.length > 0 ? checkpointOnKafka(createKafka(brokers, 'configledger-cli'), key, epoch) : undefined;
}

async function verify(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: { output: { type: 'string', default: 'text' }, backup: { type: 'string' } },
  });
  if (values.output !== 'text' && values.output !== 'json') throw new UsageError('--output is text or json');
  const storageSettings = storageSettingsOf(settings());
  const key = loadChainSigningKey(settings().CHAIN_SIGNING_KEY, settings().DATA_DIR);
  const storage = await openStorage(storageSettings);
  try {
    const evidence = await outsideEvidence(values.backup, key, await readEpoch(storage.store));
    const verdict = await verifyChain(storage.store, storage.readModels, evidence);
    if (values.output === 'json') process.stdout.write(`${JSON.stringify(verdict)}\n`);
    else if (verdict.intact) {
      const checkpoint = verdict.checkpoint;
      const held = !checkpoint
        ? ''
        : checkpoint.found
          ? `; it matches the head signed at ${checkpoint.signedAt} in ${checkpoint.source}`
          : `; ${checkpoint.source} holds no signed head for this log's epoch${checkpoint.note ? ` (${checkpoint.note})` : ''}`;
      process.stdout.write(
        `audit chain intact: ${verdict.checkedEvents} events up to position ${verdict.head.position}${held}\n`,
      );
    } else {
      process.stdout.write(
        `audit chain BROKEN: ${verdict.breakCount} break(s), the first at position ${verdict.firstBreak}\n`,
      );
      for (const { position, reason } of verdict.breaks) process.stdout.write(`  position ${position}: ${reason}\n`);
      if (verdict.breakCount > verdict.breaks.length)
        process.stdout.write(`  ... and ${verdict.breakCount - verdict.breaks.length} more\n`);
    }
    if (values.output === 'text')
      for (const { position, reason } of verdict.caveats)
        process.stdout.write(`  note, position ${position}: ${reason}\n`);
    if (!verdict.intact) process.exitCode = 1;
  } finally {
    await storage.close();
  }
}

/** BACKUP_KEYS_PASSPHRASE, or the first line of --keys-passphrase-file: never a prompt, so backups run unattended. */
function keysPassphrase(file: string | undefined): string | undefined {
  const passphrase = file ? readFileSync(file, 'utf8').split('\n')[0]!.trim() : settings().BACKUP_KEYS_PASSPHRASE;
  if (passphrase !== undefined && passphrase.length < 12)
    throw new UsageError('the keys passphrase must be at least 12 characters');
  return passphrase;
}

async function backup(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: { out: { type: 'string' }, 'with-keys': { type: 'boolean' }, 'keys-passphrase-file': { type: 'string' } },
  });
  if (!values.out) throw new UsageError('backup needs --out FILE');
  const passphrase = values['with-keys'] ? keysPassphrase(values['keys-passphrase-file']) : undefined;
  if (values['with-keys'] && !passphrase)
    throw new UsageError('backup --with-keys needs BACKUP_KEYS_PASSPHRASE or --keys-passphrase-file FILE');
  const storageSettings = storageSettingsOf(settings());
  const signingKey = loadChainSigningKey(settings().CHAIN_SIGNING_KEY, settings().DATA_DIR);
  const storage = await openStorage(storageSettings);
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
      process.exitCode = 1;
    }
  } finally {
    await storage.close();
  }
}

/** Where restored keys go: the credential keys into the target database, the key ring into a file. */
const keyInstaller = (db: Database, ringFile: string) => async (keys: VaultKeys) => {
  await importCredentialKeys(db, keys.credentialKeys);
  installKeyRing(ringFile, keys.ring);
};

async function restoreKeysCommand(args: string[]): Promise<void> {
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
      signingKey: loadChainSigningKey(settings().CHAIN_SIGNING_KEY, settings().DATA_DIR),
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

async function restore(args: string[]): Promise<void> {
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
  const signingKey = loadChainSigningKey(settings().CHAIN_SIGNING_KEY, settings().DATA_DIR);
  const passphrase = keysPassphrase(values['keys-passphrase-file']);
  const ringFile = values['key-ring'] ?? keyRingFile(settings().DATA_DIR);
  const db = openPostgres(values.target);
  const store = await createSqlEventStore(db);
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

/** A progress bar on a terminal, a plain line every few seconds otherwise. */
function progressReporter(): (progress: ReplayProgress) => void {
  let lastLine = 0;
  return ({ done, total, perSecond, secondsLeft }) => {
    const rate = `${Math.round(perSecond)} events/s`;
    const counted = total === undefined ? `${done}` : `${done}/${total}`;
    const left = secondsLeft === undefined ? '' : `, ${Math.ceil(secondsLeft)} s left`;
    if (process.stderr.isTTY && total !== undefined) {
      const width = 30;
      const filled = Math.round((Math.min(done, total) / Math.max(total, 1)) * width);
      process.stderr.write(`\r[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${counted} events  ${rate}${left} `);
    } else if (performance.now() - lastLine > 2000 || (total !== undefined && done >= total)) {
      lastLine = performance.now();
      process.stderr.write(`replayed ${counted} events, ${rate}${left}\n`);
    }
  };
}

async function replay(): Promise<void> {
  const storageSettings = storageSettingsOf(settings());
  if (!storageSettings.databaseUrl)
    throw new UsageError(
      'replay needs DATABASE_URL (PostgreSQL); with the embedded store stop the service and run: projections rebuild',
    );
  const storage = await openStorage(storageSettings);
  try {
    const result = await replayReadModels(
      storage.store,
      storage.readModels,
      storageSettings.databaseUrl,
      progressReporter(),
    );
    if (process.stderr.isTTY) process.stderr.write('\n');
    process.stdout.write(
      `replayed ${result.events} events into fresh read models and swapped them in at position ${result.position} in ${result.seconds.toFixed(2)} s (${Math.round(result.events / Math.max(result.seconds, 0.001))} events/s)\n`,
    );
  } finally {
    await storage.close();
  }
}

class UsageError extends Error {}

let config: Settings | undefined;
/** Read once, when a command first needs them: `--help` works whatever the environment holds. */
const settings = (): Settings => {
  config ??= readSettings();
  return config;
};

const [command, ...rest] = process.argv.slice(2);
try {
  if (command === undefined || command === '--help' || command === '-h' || command === 'help')
    process.stdout.write(`${USAGE}\n`);
  else if (command === 'token') await token(rest);
  else if (command === 'projections' && rest[0] === 'rebuild') await rebuild();
  else if (command === 'verify') await verify(rest);
  else if (command === 'replay') await replay();
  else if (command === 'backup') await backup(rest);
  else if (command === 'restore') await restore(rest);
  else if (command === 'restore-keys') await restoreKeysCommand(rest);
  else throw new UsageError(`unknown command: ${[command, ...rest].join(' ')}`);
} catch (error) {
  const usage =
    error instanceof UsageError ||
    error instanceof InvalidSetting ||
    String((error as { code?: unknown }).code).startsWith('ERR_PARSE_ARGS');
  const message = error instanceof Error ? error.message : String(error);
  process.stderr.write(
    `${error instanceof BackupRefused ? 'refused: ' : error instanceof DataDirectoryInUse ? '' : usage ? '' : 'error: '}${message}\n`,
  );
  if (usage) process.stderr.write(`\n${USAGE}\n`);
  process.exit(usage ? 2 : 1);
}
