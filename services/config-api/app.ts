import { randomUUID } from 'node:crypto';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify, { type FastifyInstance, type FastifyServerOptions, LogController } from 'fastify';
import type { KeyProvider } from '#infra/crypto/key-provider.ts';
import type { Storage } from '#infra/eventstore/select.ts';
import { approvalRoutes } from '#services/approvals/routes.ts';
import { auditRoutes } from '#services/audit/routes.ts';
import { configurationRoutes } from '#services/configuration/routes.ts';
import { credentialRoutes } from '#services/credentials/routes.ts';
import { environmentRoutes } from '#services/environments/routes.ts';
import { schemaRoutes } from '#services/schemas/routes.ts';
import { securityRoutes } from '#services/security/routes.ts';
import { serviceTokenRoutes } from '#services/service-tokens/routes.ts';
import type { RegisteredRoute } from './context.ts';
import { errorBody, registerErrorHandling } from './error-handler.ts';
import { healthRoutes } from './health.ts';
import { registerIdempotency } from './idempotency.ts';
import { registerJsonBodies } from './json-body.ts';
import { registerRequestLog } from './logging.ts';
import type { LockoutSettings } from './lockout.ts';
import { registerOpenApi } from './openapi.ts';
import { ruleOf } from './permissions.ts';
import { approvalsPlugin } from './plugins/approvals.ts';
import { contextPlugin } from './plugins/context.ts';
import { gatewayPlugin } from './plugins/gateway.ts';
import { healthRegistry } from './plugins/health-registry.ts';
import { kafkaPlugin } from './plugins/kafka.ts';
import { metricsPlugin } from './plugins/metrics.ts';
import { readModelsPlugin } from './plugins/read-models.ts';
import { replicatorPlugin } from './plugins/replicator.ts';
import { storagePlugin } from './plugins/storage.ts';
import { vaultPlugin } from './plugins/vault.ts';
import type { RateLimits } from './rate-limits.ts';
import { type RedisSettings, frameworkErrors, registerSecurity } from './security.ts';
import type { GatewaySettings } from './websocket/gateway.ts';

export interface AppOptions {
  storage: Storage;
  jwtSecret: string;
  /** Signs the audit chain's head for the checkpoint topic (with Kafka) and checks what it reads there. */
  chainSigningKey?: string;
  logger?: FastifyServerOptions['logger'];
  /** Requests per minute per principal and per source address; 0 turns a limit off. */
  rateLimits?: RateLimits;
  /** Failed authentications that lock an address out, and for how long. */
  lockout?: LockoutSettings;
  /** Shares rate limits and lockouts between instances. */
  redis?: RedisSettings;
  /** How long the answer to a write with an Idempotency-Key is kept for its repeats (default 24). */
  idempotencyTtlHours?: number;
  /** The weight of the configurations cached in memory (default 64 MiB). */
  cacheMaxBytes?: number;
  /** Wraps the credentials' keys (envelope encryption). */
  keys: KeyProvider;
  /** Kafka brokers to publish to; without them nothing is published. */
  kafkaBrokers?: string[];
  /** Run as a region replica: follow the primary's events topic, serve reads, refuse writes. */
  replicateFrom?: { brokers: string[]; groupId: string };
  /** WebSocket push settings (timeouts, limits); defaults suit production. */
  websocket?: GatewaySettings;
  /** Largest accepted request body, bytes. */
  bodyLimit?: number;
  readYourWritesTimeoutMs?: number;
}

export const API_PREFIX = '/api/v1';

export async function buildApp(options: AppOptions): Promise<FastifyInstance> {
  const app = Fastify({
    logger: options.logger ?? false,
    // One line per answered request instead (registerRequestLog), health probes at debug.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: options.bodyLimit ?? 1024 * 1024,
    requestIdHeader: 'x-correlation-id',
    genReqId: () => randomUUID(),
    ajv: { customOptions: { removeAdditional: false, coerceTypes: 'array', useDefaults: true, allErrors: true } },
    frameworkErrors,
    // Refused while closing by the hook below, in the API's own format.
    return503OnClosing: false,
  }).withTypeProvider<TypeBoxTypeProvider>();

  registerRequestLog(app);
  refuseWhileClosing(app);
  keepRouteTable(app);

  await app.register(metricsPlugin);
  await app.register(healthRegistry);
  await app.register(storagePlugin, { storage: options.storage });
  await app.register(readModelsPlugin, { cacheMaxBytes: options.cacheMaxBytes });
  await app.register(vaultPlugin, { keys: options.keys });
  // A replica never publishes: its log is a copy of the primary's, which already is on the topic.
  await app.register(kafkaPlugin, {
    brokers: options.kafkaBrokers ?? [],
    chainSigningKey: options.chainSigningKey,
    publish: !options.replicateFrom,
  });
  await app.register(replicatorPlugin, { from: options.replicateFrom });
  await app.register(contextPlugin, { readYourWritesTimeoutMs: options.readYourWritesTimeoutMs ?? 2000 });
  await app.register(approvalsPlugin, { enabled: !options.replicateFrom });

  app.addHook('onSend', async (request, reply) => {
    reply.header('x-correlation-id', request.id);
  });
  registerJsonBodies(app);
  registerErrorHandling(app);
  const authenticator = await registerSecurity(app, {
    jwtSecret: options.jwtSecret,
    store: app.eventStore,
    serviceTokens: app.readModels.serviceTokens,
    revokedTokens: app.readModels.revokedTokens,
    metrics: app.metrics,
    readOnly: Boolean(options.replicateFrom),
    rateLimits: options.rateLimits,
    lockout: options.lockout,
    redis: options.redis,
  });
  await registerIdempotency(app, app.readModelDb, options.idempotencyTtlHours ?? 24);
  await registerOpenApi(app, API_PREFIX);
  await app.register(gatewayPlugin, { authenticator, settings: options.websocket, prefix: API_PREFIX });

  await app.register(
    async (api) => {
      await api.register(healthRoutes);
      await api.register(configurationRoutes);
      await api.register(schemaRoutes);
      await api.register(environmentRoutes);
      await api.register(credentialRoutes);
      await api.register(serviceTokenRoutes);
      await api.register(approvalRoutes);
      await api.register(auditRoutes);
      await api.register(securityRoutes, { lockout: authenticator.lockout });
    },
    { prefix: API_PREFIX },
  );
  return app;
}

/** Once closing, a request that arrives on a kept-alive connection is refused with a code clients retry on, and its connection closed; requests already being handled finish. */
function refuseWhileClosing(app: FastifyInstance): void {
  let closing = false;
  app.addHook('preClose', async () => {
    closing = true;
  });
  app.addHook('onRequest', async (_request, reply) => {
    if (!closing) return;
    return reply
      .status(503)
      .header('connection', 'close')
      .header('retry-after', 1)
      .send(
        errorBody(
          'SHUTTING_DOWN',
          'this instance is shutting down and did not handle the request: retry (with the same Idempotency-Key)',
        ),
      );
  });
}

/** Every route the server answers, as Fastify registered it: each must have an entry in the permission table. */
function keepRouteTable(app: FastifyInstance): void {
  const routeTable: RegisteredRoute[] = [];
  app.addHook('onRoute', (route) => {
    for (const method of [route.method].flat()) routeTable.push({ method, url: route.url });
  });
  app.decorate('routeTable', routeTable);
  app.addHook('onReady', async () => {
    const missing = routeTable
      .filter((route) => !ruleOf(route.method, route.url))
      .map((route) => `${route.method} ${route.url}`);
    if (missing.length > 0)
      throw new Error(
        `routes without an entry in the permission table (services/config-api/permissions.ts): ${missing.join(', ')}`,
      );
  });
}
