import { join } from 'node:path';
import { loadAuthSecrets, loadChainSigningKey } from '#infra/auth/tokens.ts';
import { keyProviderOf } from '#infra/crypto/key-provider.ts';
import { openStorage } from '#infra/eventstore/select.ts';
import {
  InvalidSetting,
  type Settings,
  brokersOf,
  readSettings,
  storageSettingsOf,
} from '#services/shared/settings.ts';
import { API_PREFIX, buildApp } from './app.ts';
import { loggerOptions } from './logging.ts';
import { explainStartFailure } from './start-errors.ts';

/** A person at a terminal reads this: the reason, never a stack trace. */
function refuseToStart(message: string): never {
  process.stderr.write(`configledger: ${message}\n`);
  process.exit(2);
}

let settings: Settings;
try {
  settings = readSettings();
} catch (error) {
  if (!(error instanceof InvalidSetting)) throw error;
  refuseToStart(error.message);
}
const storageSettings = storageSettingsOf(settings);
/** A failure a person can fix (a missing database, a port in use) is said in a sentence, with the command; anything else is a bug. */
const startFailed = (error: unknown): never => {
  const explained = explainStartFailure(error, {
    databaseUrl: settings.DATABASE_URL,
    port: settings.PORT,
    dataDir: settings.DATA_DIR,
  });
  if (!explained) throw error;
  process.stderr.write(`configledger: ${explained}\n`);
  process.exit(1);
};
const storage = await openStorage(storageSettings).catch(startFailed);
const secrets = await loadAuthSecrets(settings.JWT_SECRET, settings.DATA_DIR);
const kafkaBrokers = brokersOf(settings.KAFKA_BROKERS);
const app = await buildApp({
  storage,
  jwtSecret: secrets.jwtSecret,
  chainSigningKey: loadChainSigningKey(settings.CHAIN_SIGNING_KEY, settings.DATA_DIR),
  keys: keyProviderOf(settings.MASTER_KEY, settings.DATA_DIR),
  kafkaBrokers,
  rateLimits: {
    perPrincipalPerMinute: settings.RATE_LIMIT_PER_PRINCIPAL,
    perAddressPerMinute: settings.RATE_LIMIT_PER_ADDRESS,
  },
  // A region replica: REPLICATE_FROM_BROKERS names the primary region's Kafka.
  ...(settings.REPLICATE_FROM_BROKERS
    ? {
        replicateFrom: {
          brokers: brokersOf(settings.REPLICATE_FROM_BROKERS),
          groupId: `configledger-replica-${settings.REGION}`,
        },
      }
    : {}),
  ...(settings.REDIS_URL ? { redis: { url: settings.REDIS_URL } } : {}),
  idempotencyTtlHours: settings.IDEMPOTENCY_KEY_TTL_HOURS,
  cacheMaxBytes: settings.CONFIGURATION_CACHE_MB * 2 ** 20,
  logger: loggerOptions(settings.LOG_LEVEL),
}).catch(startFailed);

/** Stop accepting, let requests in flight finish, close WebSockets with a reason, let projections finish their batch; bounded. */
const SHUTDOWN_BOUND_MS = settings.SHUTDOWN_TIMEOUT_MS;
let closing = false;
const shutdown = async (signal: string) => {
  if (closing) return;
  closing = true;
  app.log.info({ signal }, 'shutting down');
  setTimeout(() => {
    app.log.error({ boundMs: SHUTDOWN_BOUND_MS }, 'shutdown exceeded its bound; exiting');
    process.exit(1);
  }, SHUTDOWN_BOUND_MS).unref();
  await app.close();
  await storage.close();
  process.exit(0);
};
process.on('SIGTERM', () => void shutdown('SIGTERM'));
process.on('SIGINT', () => void shutdown('SIGINT'));

await app.listen({ port: settings.PORT, host: settings.HOST }).catch(startFailed);
const base = `http://${settings.HOST}:${settings.PORT}${API_PREFIX}`;
const lines = [
  '',
  `configledger listening on ${base}  (event store: ${storage.describe})`,
  `  Kafka: ${kafkaBrokers.join(',') || 'not configured (set KAFKA_BROKERS to publish changes)'}`,
  `  API docs:  ${base}/docs     health: ${base}/health`,
];
const tokenFile = secrets.secretsDir && join(secrets.secretsDir, 'admin-token');
// Shown once, to a person at a terminal; output that goes to a file or a log collector names the file instead.
if (secrets.createdAdminToken && process.stdout.isTTY) {
  lines.push(
    '',
    '  First start: an admin token was created (shown once; also kept, mode 0600, in',
    `  ${tokenFile}):`,
    '',
    `  export CONFIGLEDGER_TOKEN=${secrets.createdAdminToken}`,
  );
} else if (secrets.secretsDir) {
  lines.push(
    '',
    `  Authenticate with the admin token kept (mode 0600) in ${tokenFile}:`,
    `  export CONFIGLEDGER_TOKEN=$(cat ${tokenFile})`,
  );
} else {
  lines.push(
    '',
    '  Tokens are HS256 JWTs signed with JWT_SECRET; mint one with: npm run token -- --sub alice --roles writer',
  );
}
lines.push(`  curl -H "Authorization: Bearer $CONFIGLEDGER_TOKEN" ${base}/environments`, '');
process.stdout.write(`${lines.join('\n')}\n`);
