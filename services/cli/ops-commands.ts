import { parseArgs } from 'node:util';
import { existingSecret, mintToken } from '#infra/auth/tokens.ts';
import { ROLES } from '#services/config-api/permissions.ts';
import { brokersOf, storageSettingsOf } from '#services/shared/settings.ts';
import { rebuildReadModels } from '#projections/rebuild.ts';
import { type OutsideEvidence, verifyChain } from '#projections/audit/chain.ts';
import { checkpointOnKafka } from '#projections/audit/checkpoint.ts';
import { createKafka } from '#infra/kafka/topics.ts';
import { readEpoch } from '#projections/log-epoch.ts';
import { type ReplayProgress, replayReadModels } from '#projections/replay.ts';
import { verifyBackup } from '#services/backup/restore.ts';
import { EXIT, UsageError, list, parse, serviceId } from './command.ts';
import { openServiceStorage, operation, settings, signingKey } from './ops-settings.ts';

/** `90d`, `12h`, `30m`, `45s`, `2w`: a whole number of a unit jose's expiry understands. */
const DURATION = /^[1-9]\d{0,5}[smhdw]$/;

async function mint(args: string[]): Promise<undefined> {
  const { values } = parse(args, {
    sub: { type: 'string' },
    roles: { type: 'string', default: 'reader' },
    services: { type: 'string' },
    expires: { type: 'string', default: '90d' },
  });
  if (!values.sub) throw new UsageError('token needs --sub NAME (who the token speaks for)');
  const roles = list(values.roles) ?? [];
  const unknown = roles.filter((role) => !(ROLES as readonly string[]).includes(role));
  if (roles.length === 0 || unknown.length > 0)
    throw new UsageError(
      `--roles takes ${ROLES.join(', ')}${unknown.length > 0 ? ` (not ${unknown.join(', ')})` : ''}`,
    );
  const services = list(values.services)?.map((id) => (id === '*' ? id : serviceId(id)));
  if (services?.length === 0) throw new UsageError('--services names at least one service (or * for all)');
  if (!DURATION.test(values.expires))
    throw new UsageError(`--expires takes a duration: 90d, 12h, 30m, 45s or 2w (not ${values.expires})`);
  const jwtSecret = existingSecret(settings().JWT_SECRET, settings().DATA_DIR, 'jwt-secret', 'JWT_SECRET');
  process.stdout.write(`${await mintToken(jwtSecret, { subject: values.sub, roles, services }, values.expires)}\n`);
}

async function rebuild(args: string[]): Promise<undefined> {
  parseArgs({ args });
  const storage = await openServiceStorage();
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

/**
 * The signed chain heads the log is held to: a backup's manifest when named,
 * else those on Kafka (KAFKA_BROKERS). The signing key is needed only then.
 */
async function outsideEvidence(backupFile: string | undefined, epoch: number): Promise<OutsideEvidence | undefined> {
  if (backupFile) {
    const { header, manifest, chainProblems } = await verifyBackup(backupFile, signingKey());
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
  return brokers.length > 0
    ? checkpointOnKafka(createKafka(brokers, 'configledger-cli'), signingKey(), epoch)
    : undefined;
}

async function verifyLog(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: { output: { type: 'string', default: 'text' }, backup: { type: 'string' } },
  });
  if (values.output !== 'text' && values.output !== 'json') throw new UsageError('--output is text or json');
  const storage = await openServiceStorage();
  try {
    const evidence = await outsideEvidence(values.backup, await readEpoch(storage.store));
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
    return verdict.intact ? EXIT.done : EXIT.failed;
  } finally {
    await storage.close();
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

async function replayLog(args: string[]): Promise<undefined> {
  parseArgs({ args });
  const storageSettings = storageSettingsOf(settings());
  if (!storageSettings.databaseUrl)
    throw new UsageError(
      'replay needs DATABASE_URL (PostgreSQL); with the embedded store stop the service and run: projections rebuild',
    );
  const storage = await openServiceStorage();
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

export const token = operation(
  `configledger token --sub NAME [--roles ROLE,...] [--services SERVICE,...] [--expires DURATION]

Mint a bearer token (JWT) signed with JWT_SECRET (or the embedded data directory's secret) and print it.
  --sub NAME          who it speaks for: the actor every change it makes is recorded under
  --roles ROLE,...    ${ROLES.join(', ')} (default reader)
  --services S,...    the services it may touch (default: all; a token whose only role is service: the one named --sub)
  --expires DURATION  how long it holds: 90d (default), 12h, 30m, 45s, 2w

configledger token revoke TOKEN|ID revokes one before it expires (over the API).`,
  mint,
);

export const projectionsRebuild = operation(
  `configledger projections rebuild

Drop every read model and rebuild it from the log. Stop the API first.`,
  rebuild,
);

export const replay = operation(
  `configledger replay

Rebuild every read model into fresh tables while the service runs, and swap them in when caught up (PostgreSQL).`,
  replayLog,
);

export const verify = operation(
  `configledger verify [--output text|json] [--backup FILE]

Recompute the audit hash chain over the log and hold it to a signed chain head kept outside the database
(the backup's manifest, or with KAFKA_BROKERS the newest checkpoint on Kafka); exit 1 and name every break.`,
  verifyLog,
);
