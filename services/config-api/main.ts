import { join } from 'node:path';
import { loadAuthSecrets, loadChainSigningKey } from '#infra/auth/tokens.ts';
import { keyProviderFromEnv } from '#infra/crypto/key-provider.ts';
import { openStorage, storageSettingsFromEnv } from '#infra/eventstore/select.ts';
import { DataDirectoryInUse } from '#infra/postgres/data-dir-lock.ts';
import { brokersFromEnv } from '#infra/kafka/topics.ts';
import { API_PREFIX, buildApp } from './app.ts';
import { loggerOptions } from './logging.ts';
import { rateLimitsFromEnv } from './rate-limits.ts';

const settings = storageSettingsFromEnv();
const port = Number(process.env.PORT ?? 8011);
const host = process.env.HOST ?? '127.0.0.1';

const storage = await openStorage(settings).catch((error: unknown) => {
  if (!(error instanceof DataDirectoryInUse)) throw error;
  process.stderr.write(`configledger: ${error.message}\n`);
  process.exit(1);
});
const secrets = await loadAuthSecrets(process.env, settings.dataDir);
const app = await buildApp({
  storage,
  jwtSecret: secrets.jwtSecret,
  chainSigningKey: loadChainSigningKey(process.env, settings.dataDir),
  keys: keyProviderFromEnv(process.env, settings.dataDir),
  kafkaBrokers: brokersFromEnv(),
  rateLimits: rateLimitsFromEnv(),
  // A region replica: REPLICATE_FROM_BROKERS names the primary region's Kafka.
  ...(process.env.REPLICATE_FROM_BROKERS
    ? {
        replicateFrom: {
          brokers: brokersFromEnv({ KAFKA_BROKERS: process.env.REPLICATE_FROM_BROKERS }),
          groupId: `configledger-replica-${process.env.REGION ?? 'replica'}`,
        },
      }
    : {}),
  ...(process.env.REDIS_URL ? { redis: { url: process.env.REDIS_URL } } : {}),
  ...(process.env.IDEMPOTENCY_KEY_TTL_HOURS
    ? { idempotencyTtlHours: Number(process.env.IDEMPOTENCY_KEY_TTL_HOURS) }
    : {}),
  logger: loggerOptions(process.env.LOG_LEVEL ?? 'info'),
});

/** Stop accepting, let requests in flight finish, close WebSockets with a reason, let projections finish their batch; bounded. */
const SHUTDOWN_BOUND_MS = Number(process.env.SHUTDOWN_TIMEOUT_MS ?? 10_000);
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

await app.listen({ port, host });
const base = `http://${host}:${port}${API_PREFIX}`;
const lines = [
  '',
  `configledger listening on ${base}  (event store: ${storage.describe})`,
  `  Kafka: ${brokersFromEnv().join(',') || 'not configured (set KAFKA_BROKERS to publish changes)'}`,
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
