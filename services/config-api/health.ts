import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';

/** More events than this between the log head and the read models makes the service unhealthy. */
const MAX_PROJECTION_LAG = 10_000;

type Check = { status: 'up' | 'down'; latencyMs: number; error?: string } & Record<string, unknown>;

async function timed(probe: () => Promise<Record<string, unknown> | void>): Promise<Check> {
  const started = performance.now();
  try {
    const extra = (await probe()) ?? {};
    return { status: 'up', latencyMs: Math.round((performance.now() - started) * 100) / 100, ...extra };
  } catch (error) {
    return { status: 'down', latencyMs: Math.round(performance.now() - started), error: error instanceof Error ? error.message : String(error) };
  }
}

export const healthRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { ledger } = app;
  app.get('/health', { config: { permission: 'public' }, schema: { tags: ['health'], summary: 'Each dependency with its status; 503 when the event store, the read models or the projections are down (Kafka down: 200, degraded)' } }, async (_request, reply) => {
    let head = 0n;
    const eventStore = await timed(async () => {
      head = await ledger.store.headPosition();
      return { kind: ledger.store.kind, headPosition: Number(head) };
    });
    const readModelDatabase = await timed(async () => {
      await ledger.db.query('SELECT 1');
      return { kind: ledger.db.kind };
    });
    const { runner } = ledger.readModels;
    const lag = eventStore.status === 'up' ? Number(head - runner.position) : undefined;
    const projections: Check = {
      status: lag !== undefined && lag <= MAX_PROJECTION_LAG && !runner.lastError ? 'up' : 'down',
      latencyMs: 0,
      position: Number(runner.position),
      ...(lag !== undefined ? { lagEvents: lag } : {}),
      ...(runner.lastError ? { error: runner.lastError } : {}),
    };
    const critical = { eventStore, readModelDatabase, projections };
    const publisher = ledger.publisher?.status();
    // Kafka feeds subscribers, not the API: while it is away the service answers and the backlog waits.
    const kafka: Check | undefined = publisher && {
      status: publisher.connected && publisher.breaker === 'closed' && !publisher.lastError ? 'up' : 'down',
      latencyMs: 0,
      breaker: publisher.breaker,
      position: Number(publisher.position),
      ...(eventStore.status === 'up' ? { lagEvents: Number(head - publisher.position) } : {}),
      ...(publisher.lastError ? { error: publisher.lastError } : {}),
    };
    const replicated = ledger.replicator?.status();
    const replication: Check | undefined = replicated && {
      status: replicated.lastError ? 'down' : 'up',
      latencyMs: 0,
      lagEvents: replicated.lagEvents,
      lagSeconds: Math.round(replicated.lagSeconds * 1000) / 1000,
      appliedEvents: replicated.appliedEvents,
      duplicatesSkipped: replicated.duplicatesSkipped,
      ...(replicated.lastError ? { error: replicated.lastError } : {}),
    };
    const healthy = Object.values(critical).every((check) => check.status === 'up');
    const degraded = kafka?.status === 'down' || replication?.status === 'down';
    const status = !healthy ? 'unhealthy' : degraded ? 'degraded' : 'healthy';
    return reply.status(healthy ? 200 : 503).send({
      success: healthy,
      data: { status, dependencies: { ...critical, ...(kafka ? { kafka } : {}), ...(replication ? { replication } : {}) } },
      timestamp: new Date().toISOString(),
    });
  });
};
