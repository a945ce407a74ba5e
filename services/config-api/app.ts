import { randomUUID } from 'node:crypto';
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import websocket from '@fastify/websocket';
import { InvalidToken, createTokenVerifier } from '#infra/auth/tokens.ts';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { Storage } from '#infra/eventstore/select.ts';
import { startReadModels } from '#projections/read-models.ts';
import { createKafkaPublisher } from '#projections/kafka-publisher/publisher.ts';
import { createKafka } from '#infra/kafka/topics.ts';
import { createReplicator } from '#services/replicator/replicator.ts';
import { configurationRoutes } from '#services/configuration/routes.ts';
import { environmentRoutes } from '#services/environments/routes.ts';
import { credentialRoutes } from '#services/credentials/routes.ts';
import { serviceTokenRoutes } from '#services/service-tokens/routes.ts';
import { SERVICE_TOKEN_PREFIX } from '#projections/service-tokens/directory.ts';
import { approvalRoutes } from '#services/approvals/routes.ts';
import { auditRoutes } from '#services/audit/routes.ts';
import { createVault } from '#services/credentials/vault.ts';
import type { KeyProvider } from '#infra/crypto/key-provider.ts';
import { schemaRoutes } from '#services/schemas/routes.ts';
import { registerAuthentication } from './auth.ts';
import type { Ledger } from './context.ts';
import { registerErrorHandling } from './error-handler.ts';
import { healthRoutes } from './health.ts';
import { FailedAuthentications } from './lockout.ts';
import { type RateLimits, registerRateLimits } from './rate-limits.ts';
import { createMetrics } from '#infra/metrics/registry.ts';
import { withAppendTiming } from '#infra/metrics/timed-store.ts';
import { withStoreBreaker } from '#infra/resilience/store-breaker.ts';
import { withQueryBreaker } from '#infra/resilience/database-breaker.ts';
import { recordEvents } from '#services/shared/command-handler.ts';
import { SECURITY_STREAM } from '#events/security.ts';
import { createGateway, type GatewayOptions } from './websocket/gateway.ts';

export interface AppOptions {
  storage: Storage;
  jwtSecret: string;
  logger?: FastifyServerOptions['logger'];
  /** Requests per minute per principal and per source address; 0 turns a limit off. */
  rateLimits?: RateLimits;
  /** Wraps the credentials' keys (envelope encryption). */
  keys: KeyProvider;
  /** Kafka brokers to publish to; without them nothing is published. */
  kafkaBrokers?: string[];
  /** Run as a region replica: follow the primary's events topic, serve reads, refuse writes. */
  replicateFrom?: { brokers: string[]; groupId: string };
  /** WebSocket push settings (timeouts, limits); defaults suit production. */
  websocket?: Omit<GatewayOptions, 'store' | 'verifyToken'>;
  /** Largest accepted request body, bytes. */
  bodyLimit?: number;
  readYourWritesTimeoutMs?: number;
}

export const API_PREFIX = '/api/v1';

/** Secrets never reach the logs: tokens in headers are censored wherever pino would print them. */
export const REDACTED_PATHS = ['req.headers.authorization', 'req.headers["x-service-token"]', 'headers.authorization'];

export async function buildApp(options: AppOptions): Promise<FastifyInstance> {
  const app = Fastify({
    logger: options.logger ?? false,
    bodyLimit: options.bodyLimit ?? 1024 * 1024,
    requestIdHeader: 'x-correlation-id',
    genReqId: () => randomUUID(),
    ajv: { customOptions: { removeAdditional: false, coerceTypes: 'array', useDefaults: true, allErrors: true } },
  }).withTypeProvider<TypeBoxTypeProvider>();

  const metrics = createMetrics();
  const db = options.storage.readModels;
  const guarded = withStoreBreaker(options.storage.store);
  const queries = withQueryBreaker(db);
  const store = withAppendTiming(guarded.store, metrics.appendDuration);
  const readModels = await startReadModels(store, db, app.log);
  // A replica never publishes: its log is a copy of the primary's, which already is on the topic.
  const publisher = options.kafkaBrokers?.length && !options.replicateFrom
    ? createKafkaPublisher({
        store,
        db,
        kafka: createKafka(options.kafkaBrokers),
        environments: readModels.environments,
        readModelsAt: (position) => readModels.runner.waitFor(position, 60_000),
        logger: app.log,
      })
    : undefined;
  await publisher?.start();
  const replicator = options.replicateFrom
    ? createReplicator({ store, kafka: createKafka(options.replicateFrom.brokers), groupId: options.replicateFrom.groupId, logger: app.log })
    : undefined;
  await replicator?.start();
  const vault = createVault(db, options.keys);
  await vault.migrate();
  const ledger: Ledger = { store, db: queries.db, readModels, vault, metrics, dataDir: options.storage.dataDir, publisher, replicator, readYourWritesTimeoutMs: options.readYourWritesTimeoutMs ?? 2000 };
  app.decorate('ledger', ledger);
  app.addHook('onClose', async () => {
    guarded.shutdown();
    queries.shutdown();
    await replicator?.stop();
    await publisher?.stop();
    await readModels.stop();
  });
  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unmatched';
    metrics.requests.inc({ method: request.method, route, status: reply.statusCode });
    metrics.requestDuration.observe({ method: request.method, route }, reply.elapsedTime / 1000);
  });
  app.addHook('onSend', async (request, reply) => {
    reply.header('x-correlation-id', request.id);
  });

  // An empty JSON body counts as {} (a rollback without a reason); routes that need fields say so in their schema.
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) =>
    body.length === 0 ? done(null, {}) : parseJson(request, body.toString(), done),
  );

  registerErrorHandling(app);
  const verifyToken = createTokenVerifier(options.jwtSecret);
  const failures = new FailedAuthentications();
  registerAuthentication(app, {
    verifyToken,
    serviceTokens: readModels.serviceTokens,
    readOnly: Boolean(options.replicateFrom),
    metrics,
    failures,
    onLockout: async (request) => {
      app.log.warn({ ip: request.ip }, 'address locked out after repeated failed authentication');
      await recordEvents(store, SECURITY_STREAM, [{ type: 'AuthenticationLockedOut', data: { sourceIp: request.ip } }], {
        actor: 'configledger',
        correlationId: String(request.id),
        sourceIp: request.ip,
        now: new Date(),
      });
    },
  });
  await registerRateLimits(app, options.rateLimits);
  app.get('/metrics', { config: { permission: 'public', rateLimit: false }, schema: { hide: true } }, async (_request, reply) =>
    reply.header('content-type', metrics.registry.contentType).send(await metrics.registry.metrics()),
  );

  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'configledger',
        version: '1.0.0',
        description: 'Event-sourced configuration service. Every change is an event; every past state can be read back.',
      },
      components: { securitySchemes: { BearerAuth: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } } },
      security: [{ BearerAuth: [] }],
    },
  });
  await app.register(async (docs) => {
    docs.addHook('onRoute', (route) => {
      route.config = { ...route.config, permission: 'public' };
    });
    await docs.register(swaggerUi, { routePrefix: `${API_PREFIX}/docs`, uiConfig: { deepLinking: true } });
  });
  app.get(`${API_PREFIX}/openapi.json`, { config: { permission: 'public' }, schema: { hide: true } }, async () => app.swagger());

  // WebSocket clients authenticate with a JWT or a service token, like HTTP ones.
  const gateway = createGateway({
    store,
    verifyToken: async (token) => {
      if (!token.startsWith(SERVICE_TOKEN_PREFIX)) return verifyToken(token);
      const principal = readModels.serviceTokens.principalFor(token);
      if (!principal) throw new InvalidToken('the service token is unknown, revoked or expired');
      return principal;
    },
    ...options.websocket,
  });
  await gateway.start();
  ledger.gateway = gateway;
  app.addHook('preClose', async () => gateway.stop());
  await app.register(websocket, { options: { maxPayload: 64 * 1024 } });
  metrics.observe({
    headPosition: () => store.headPosition(),
    cache: () => readModels.cache,
    webSocketConnections: () => gateway.connectionCount,
    projection: () => ({ position: readModels.runner.position, lastAppliedAt: readModels.runner.lastAppliedAt }),
    publisher: () => publisher?.status(),
    storeBreaker: () => guarded.state(),
    databaseBreaker: () => queries.state(),
    replication: () => replicator?.status(),
  });

  await app.register(
    async (api) => {
      api.get('/ws', { websocket: true, config: { permission: 'public' }, schema: { hide: true } }, (socket, request) => {
        const { token } = request.query as { token?: unknown };
        gateway.attach(socket, typeof token === 'string' ? token : undefined);
      });
      await api.register(healthRoutes);
      await api.register(configurationRoutes);
      await api.register(schemaRoutes);
      await api.register(environmentRoutes);
      await api.register(credentialRoutes);
      await api.register(serviceTokenRoutes);
      await api.register(approvalRoutes);
      await api.register(auditRoutes);
    },
    { prefix: API_PREFIX },
  );
  return app;
}
