import { parseArgs } from 'node:util';
import { loadAuthSecrets, mintToken } from '#infra/auth/tokens.ts';
import { openStorage, storageSettingsFromEnv } from '#infra/eventstore/select.ts';
import { rebuildReadModels } from '#projections/rebuild.ts';
import { verifyChain } from '#projections/audit/chain.ts';

const USAGE = `configledger <command>

  token --sub NAME --roles admin,writer,reader [--expires 90d]
      Mint a bearer token signed with JWT_SECRET (or the embedded data directory's secret).
  projections rebuild
      Drop every read model and rebuild it from the log. Stop the API first.
  verify
      Recompute the audit hash chain over the log; exit 1 and name the first broken position if it breaks.

The store is chosen as the service does: EVENTSTORE_URL, else DATABASE_URL, else DATA_DIR (default ./data).`;

async function token(args: string[]): Promise<void> {
  const { values } = parseArgs({ args, options: { sub: { type: 'string' }, roles: { type: 'string', default: 'reader' }, expires: { type: 'string', default: '90d' } } });
  if (!values.sub) throw new UsageError('token needs --sub');
  const { jwtSecret } = await loadAuthSecrets(process.env, storageSettingsFromEnv().dataDir);
  const roles = values.roles.split(',').map((role) => role.trim()).filter(Boolean);
  process.stdout.write(`${await mintToken(jwtSecret, { subject: values.sub, roles }, values.expires)}\n`);
}

async function rebuild(): Promise<void> {
  const storage = await openStorage(storageSettingsFromEnv());
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

async function verify(): Promise<void> {
  const storage = await openStorage(storageSettingsFromEnv());
  try {
    const verdict = await verifyChain(storage.store, storage.readModels);
    if (verdict.intact) process.stdout.write(`audit chain intact: ${verdict.checkedEvents} events up to position ${verdict.lastPosition}\n`);
    else {
      process.stdout.write(`audit chain BROKEN at position ${verdict.brokenAt}: ${verdict.reason} (${verdict.checkedEvents} events verified before it)\n`);
      process.exitCode = 1;
    }
  } finally {
    await storage.close();
  }
}

class UsageError extends Error {}

const [command, ...rest] = process.argv.slice(2);
try {
  if (command === 'token') await token(rest);
  else if (command === 'projections' && rest[0] === 'rebuild') await rebuild();
  else if (command === 'verify') await verify();
  else throw new UsageError(command ? `unknown command: ${[command, ...rest].join(' ')}` : 'no command given');
} catch (error) {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
  if (error instanceof UsageError) process.stderr.write(`\n${USAGE}\n`);
  process.exit(error instanceof UsageError ? 2 : 1);
}
