import { type Static, Type } from '@sinclair/typebox';
import { envSchema } from 'env-schema';
import type { StorageSettings } from '#infra/eventstore/select.ts';

const text = (description: string, options: Record<string, unknown> = {}) =>
  Type.Optional(Type.String({ description, ...options }));
const whole = (description: string, minimum: number, fallback: number, maximum = 2 ** 31 - 1) =>
  Type.Integer({ description, minimum, maximum, default: fallback });

/**
 * Every setting the service and the CLI read, with its type, bounds and
 * default: read once at start (`readSettings`), nowhere else. The README's
 * settings table is rendered from this schema, and a test holds it there.
 */
export const SettingsSchema = Type.Object({
  PORT: whole('the port the API listens on', 1, 8011, 65535),
  HOST: Type.String({ description: 'the address the API listens on', minLength: 1, default: '127.0.0.1' }),
  LOG_LEVEL: Type.Unsafe<'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent'>({
    type: 'string',
    enum: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'],
    description: 'the lowest level logged: fatal, error, warn, info, debug, trace or silent',
    default: 'info',
  }),
  DATA_DIR: Type.String({
    description: 'the embedded store, and the generated secrets',
    minLength: 1,
    default: './data',
  }),
  DATABASE_URL: text('PostgreSQL for the log and the read models (otherwise the embedded store)', {
    pattern: '^postgres(ql)?://',
  }),
  EVENTSTORE_URL: text('EventStoreDB for the log (read models in DATABASE_URL, or embedded)', {
    pattern: '^(esdb|kurrentdb|kurrent)(\\+discover)?://',
  }),
  KAFKA_BROKERS: text('comma-separated host:port of the brokers to publish to', { pattern: '^[^,\\s]+(,[^,\\s]+)*$' }),
  REPLICATE_FROM_BROKERS: text("a region replica: the primary region's brokers", { pattern: '^[^,\\s]+(,[^,\\s]+)*$' }),
  REGION: Type.String({
    description: "a replica's name (its consumer group)",
    pattern: '^[a-z0-9-]{1,64}$',
    default: 'replica',
  }),
  REDIS_URL: text('Redis for rate limits and lockouts shared by every instance', { pattern: '^rediss?://' }),
  RATE_LIMIT_PER_PRINCIPAL: whole('requests a minute per principal (0: no limit)', 0, 6000),
  RATE_LIMIT_PER_ADDRESS: whole('requests a minute per source address (0: no limit)', 0, 30000),
  JWT_SECRET: text(
    'signs the JWTs (at least 32 characters; when absent the service generates one under DATA_DIR/secrets, which the CLI reads)',
    {
      minLength: 32,
    },
  ),
  CHAIN_SIGNING_KEY: text(
    "signs the audit chain's head (at least 32 characters; when absent the service generates one under DATA_DIR/secrets, which the CLI reads)",
    {
      minLength: 32,
    },
  ),
  MASTER_KEY: text('the key-encryption key, 32 bytes base64 (otherwise the key ring under DATA_DIR/secrets)', {
    pattern: '^[A-Za-z0-9+/]{43}=$',
  }),
  IDEMPOTENCY_KEY_TTL_HOURS: whole('how long an Idempotency-Key answers with its first outcome', 1, 24, 24 * 365),
  CONFIGURATION_CACHE_MB: whole(
    'MiB of configurations cached in memory; the least recently read beyond it are read from the database again',
    1,
    64,
    65536,
  ),
  SHUTDOWN_TIMEOUT_MS: whole('how long a SIGTERM may take before the process exits anyway', 1000, 10000, 600000),
  BACKUP_KEYS_PASSPHRASE: text('seals the vault keys in a backup (backup --with-keys; at least 12 characters)', {
    minLength: 12,
  }),
});

export type Settings = Static<typeof SettingsSchema>;

/** A setting the service cannot start with: names the variable and what it must be. */
export class InvalidSetting extends Error {
  override readonly name = 'InvalidSetting';
}

/** The settings from the environment, checked and with their defaults; an empty variable counts as unset. */
export function readSettings(env: NodeJS.ProcessEnv = process.env): Settings {
  const data = Object.fromEntries(
    Object.keys(SettingsSchema.properties)
      .map((name) => [name, env[name]] as const)
      .filter(([, value]) => value !== undefined && value !== ''),
  );
  try {
    return envSchema<Settings>({ schema: SettingsSchema, data, env: false, dotenv: false });
  } catch (error) {
    const problems = (
      error as { errors?: { instancePath: string; message?: string; params?: { allowedValues?: unknown[] } }[] }
    ).errors;
    const message = problems
      ? problems
          .map(
            ({ instancePath, message: what, params }) =>
              `${instancePath.slice(1)} ${what}${params?.allowedValues ? ` (${params.allowedValues.join(', ')})` : ''}`,
          )
          .join(', ')
      : (error instanceof Error ? error.message : String(error)).replace(/env\/(\w+)/g, '$1');
    throw new InvalidSetting(`invalid setting: ${message}`);
  }
}

/** A comma-separated broker list as the clients take it. */
export const brokersOf = (list: string | undefined): string[] =>
  (list ?? '')
    .split(',')
    .map((broker) => broker.trim())
    .filter(Boolean);

/** Where the log and the read models are, from the settings. */
export const storageSettingsOf = (settings: Settings): StorageSettings => ({
  eventStoreUrl: settings.EVENTSTORE_URL,
  databaseUrl: settings.DATABASE_URL,
  dataDir: settings.DATA_DIR,
});

/** The settings table of the README, from the schema. */
export function renderSettingsTable(): string {
  const rows = Object.entries(SettingsSchema.properties).map(([name, schema]) => {
    const { description, default: fallback } = schema as { description: string; default?: unknown };
    return `| \`${name}\` | ${fallback === undefined ? '' : `\`${fallback}\``} | ${description} |`;
  });
  return ['| variable | default | what it sets |', '|---|---|---|', ...rows].join('\n');
}
