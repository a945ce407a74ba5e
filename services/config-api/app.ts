import { randomUUID } from 'node:crypto';
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import websocket from '@fastify/websocket';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { Storage } from '#infra/eventstore/select.ts';
import { startReadModels } from '#projections/read-models.ts';
import { observeLog } from '#services/shared/command-handler.ts';
import type { FailureStage } from '#projections/follow.ts';
import { createKafkaPublisher } from '#projections/kafka-publisher/publisher.ts';
import { checkpointOnKafka } from '#projections/audit/checkpoint.ts';
import { createKafka } from '#infra/kafka/topics.ts';
import { createReplicator } from '#services/replicator/replicator.ts';
import { configurationRoutes } from '#services/configuration/routes.ts';
import { environmentRoutes } from '#services/environments/routes.ts';
import { credentialRoutes } from '#services/credentials/routes.ts';
import { serviceTokenRoutes } from '#services/service-tokens/routes.ts';
import { approvalRoutes } from '#services/approvals/routes.ts';
import { auditRoutes } from '#services/audit/routes.ts';
import { createVault } from '#services/credentials/vault.ts';
import type { KeyProvider } from '#infra/crypto/key-provider.ts';
import { schemaRoutes } from '#services/schemas/routes.ts';
import type { Ledger, RegisteredRoute } from './context.ts';
import { errorBody, registerErrorHandling } from './error-handler.ts';
import { registerJsonBodies } from './json-body.ts';
import { registerIdempotency } from './idempotency.ts';
import { healthRoutes } from './health.ts';
import type { RateLimits } from './rate-limits.ts';
import type { LockoutSettings } from './lockout.ts';
import { type RedisSettings, frameworkErrors, registerSecurity } from './security.ts';
import { ruleOf } from './permissions.ts';
import { createMetrics } from '#infra/metrics/registry.ts';
import { withAppendTiming } from '#infra/metrics/timed-store.ts';
import { withStoreBreaker } from '#infra/resilience/store-breaker.ts';
import { withQueryBreaker } from '#infra/resilience/database-breaker.ts';
import { type GatewaySettings, createGateway } from './websocket/gateway.ts';
import { selectProtocol, webSocketToken } from './websocket/handshake.ts';

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
    bodyLimit: options.bodyLimit ?? 1024 * 1024,
    requestIdHeader: 'x-correlation-id',
    genReqId: () => randomUUID(),
    ajv: { customOptions: { removeAdditional: false, coerceTypes: 'array', useDefaults: true, allErrors: true } },
    frameworkErrors,
    // Refused while closing by the hook below, in the API's own format.
    return503OnClosing: false,
  }).withTypeProvider<TypeBoxTypeProvider>();

  // Once closing, a request that arrives on a kept-alive connection is refused with a code clients retry on, and its
  // connection closed; requests already being handled finish.
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

  // Every route the server answers, as Fastify registered it: each must have an entry in the permission table.
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

  const metrics = createMetrics();
  const db = options.storage.readModels;
  const guarded = withStoreBreaker(options.storage.store);
  const queries = withQueryBreaker(db);
  const store = withAppendTiming(guarded.store, metrics.appendDuration);
  const followerReport = (follower: string) => ({
    logger: app.log,
    onFailure: (stage: FailureStage) => metrics.followerFailures.inc({ follower, stage }),
  });
  const readModels = await startReadModels(store, db, {
    ...followerReport('read-models'),
    onSeen: (events) => observeLog(store, events),
  });
  // A replica never publishes: its log is a copy of the primary's, which already is on the topic.
  const publisher =
    options.kafkaBrokers?.length && !options.replicateFrom
      ? createKafkaPublisher({
          store,
          db,
          kafka: createKafka(options.kafkaBrokers),
          readModelsAt: (position) => readModels.runner.waitFor(position, 60_000),
          epoch: () => readModels.epoch.current,
          chainSigningKey: options.chainSigningKey,
          ...followerReport('kafka-publisher'),
        })
      : undefined;
  await publisher?.start();
  const replicator = options.replicateFrom
    ? createReplicator({
        store,
        kafka: createKafka(options.replicateFrom.brokers),
        groupId: options.replicateFrom.groupId,
        logger: app.log,
      })
    : undefined;
  await replicator?.start();
  const vault = createVault(db, options.keys);
  await vault.migrate();
  const checkpointKafka =
    options.kafkaBrokers?.length && options.chainSigningKey
      ? createKafka(options.kafkaBrokers, 'configledger-verify')
      : undefined;
  const ledger: Ledger = {
    store,
    db: queries.db,
    readModels,
    vault,
    metrics,
    dataDir: options.storage.dataDir,
    publisher,
    replicator,
    readYourWritesTimeoutMs: options.readYourWritesTimeoutMs ?? 2000,
    ...(checkpointKafka && options.chainSigningKey
      ? {
          outsideCheckpoint: () =>
            checkpointOnKafka(checkpointKafka, options.chainSigningKey!, readModels.epoch.current),
        }
      : {}),
  };
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

  registerJsonBodies(app);

  registerErrorHandling(app);
  const authenticator = await registerSecurity(app, {
    jwtSecret: options.jwtSecret,
    store,
    serviceTokens: readModels.serviceTokens,
    metrics,
    readOnly: Boolean(options.replicateFrom),
    rateLimits: options.rateLimits,
    lockout: options.lockout,
    redis: options.redis,
  });
  await registerIdempotency(app, queries.db, options.idempotencyTtlHours ?? 24);
  app.get('/metrics', { config: { rateLimit: false }, schema: { hide: true } }, async (_request, reply) =>
    reply.header('content-type', metrics.registry.contentType).send(await metrics.registry.metrics()),
  );

  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'configledger',
        version: '1.0.0',
        description:
          'Event-sourced configuration service. Every change is an event; every past state can be read back.',
      },
      components: { securitySchemes: { BearerAuth: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } } },
      security: [{ BearerAuth: [] }],
    },
  });
  // The docs page loads its own scripts and styles: it carries swagger-ui's policy instead of the API's.
  await app.register(swaggerUi, {
    routePrefix: `${API_PREFIX}/docs`,
    uiConfig: { deepLinking: true },
    staticCSP: true,
  });
  app.get(`${API_PREFIX}/openapi.json`, { schema: { hide: true } }, async () => app.swagger());

  // WebSocket clients authenticate with a JWT or a service token, like HTTP ones; a session ends with its credential.
  const gateway = createGateway({
    store,
    db,
    readModelsAt: (position) => readModels.runner.waitFor(position, 60_000),
    readModelsPosition: () => readModels.runner.position,
    epoch: () => readModels.epoch.current,
    authenticate: (token, address) => authenticator.authenticate(token, address),
    ...followerReport('websocket-gateway'),
    ...options.websocket,
  });
  readModels.serviceTokens.onRevoked((entry) =>
    gateway.endSessions(
      (principal) => principal.credential?.kind === 'service-token' && principal.credential.id === entry.id,
      'service token revoked',
    ),
  );
  await gateway.start();
  ledger.gateway = gateway;
  app.addHook('preClose', async () => gateway.stop());
  await app.register(websocket, { options: { maxPayload: 64 * 1024, handleProtocols: selectProtocol } });
  metrics.observe({
    headPosition: () => store.headPosition(),
    eventsAfter: (position) => store.eventsAfter(position),
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
      api.get(
        '/ws',
        // An upgrade refused over HTTP (locked out) ends there: its socket will never carry a session.
        { websocket: true, schema: { hide: true }, onResponse: async (request) => void request.raw.socket?.destroy() },
        (socket, request) => gateway.attach(socket, webSocketToken(request), request.ip),
      );
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
