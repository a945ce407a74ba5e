import type { EventStore } from '#infra/eventstore/port.ts';
import { statfs } from 'node:fs/promises';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';

/** More events than this between the log head and the read models makes the service unhealthy. */
const MAX_PROJECTION_LAG = 10_000;

type Check = { status: 'up' | 'down'; latencyMs: number; error?: string } & Record<string, unknown>;

// biome-ignore lint/suspicious/noConfusingVoidType: a probe may have nothing to add.
async function timed(probe: () => Promise<Record<string, unknown> | void>): Promise<Check> {
  const started = performance.now();
  try {
    const extra = (await probe()) ?? {};
    return { status: 'up', latencyMs: Math.round((performance.now() - started) * 100) / 100, ...extra };
  } catch (error) {
    return {
      status: 'down',
      latencyMs: Math.round(performance.now() - started),
      error: error instanceof Error ? error.message : String(error),
    };
  }
}

/** Events between a follower's position and the head, as the store counts them (null when it cannot tell cheaply). */
async function eventsBehind(store: EventStore, position: bigint, head: bigint): Promise<number | null> {
  if (position >= head) return 0;
  return (await store.eventsAfter(position, head).catch(() => undefined)) ?? null;
}

/** Thresholds of the monitoring specification. */
const READY = { accessMs: 50, cacheHitRatio: 0.8, cacheSamples: 100, projectionLag: 1000, freeDiskRatio: 0.1 };

export const healthRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { ledger } = app;

  app.get(
    '/health/ready',
    {
      schema: {
        tags: ['health'],
        summary: 'Readiness: 503 with the reasons when a dependency is down or a threshold is passed',
      },
    },
    async (_request, reply) => {
      const reasons: string[] = [];
      const check = (name: string, ok: boolean, detail: Record<string, unknown>, why: string) => {
        if (!ok) reasons.push(`${name}: ${why}`);
        return { status: ok ? 'up' : 'down', ...detail };
      };
      let head = 0n;
      const store = await timed(async () => {
        head = await ledger.store.headPosition();
      });
      const access = await timed(async () => {
        await ledger.db.query('SELECT version FROM service_configurations LIMIT 1');
      });
      const { hits, misses } = ledger.readModels.cache;
      const ratio = hits + misses === 0 ? 1 : hits / (hits + misses);
      const lag = await eventsBehind(ledger.store, ledger.readModels.runner.position, head);
      const dependencies: Record<string, unknown> = {
        eventStore: check('eventStore', store.status === 'up', { latencyMs: store.latencyMs }, store.error ?? 'down'),
        configurationAccess: check(
          'configurationAccess',
          access.status === 'up' && access.latencyMs < READY.accessMs,
          { latencyMs: access.latencyMs, thresholdMs: READY.accessMs },
          access.error ?? `read took ${access.latencyMs} ms`,
        ),
        cacheHitRatio: check(
          'cacheHitRatio',
          hits + misses < READY.cacheSamples || ratio >= READY.cacheHitRatio,
          { ratio: Math.round(ratio * 1000) / 1000, threshold: READY.cacheHitRatio, reads: hits + misses },
          `hit ratio ${ratio.toFixed(2)}`,
        ),
        projections: check(
          'projections',
          store.status === 'up' && (lag ?? 0) <= READY.projectionLag && !ledger.readModels.runner.lastError,
          { lagEvents: lag, threshold: READY.projectionLag },
          ledger.readModels.runner.lastError ?? `${lag} events behind`,
        ),
      };
      if (ledger.dataDir) {
        const disk = await statfs(ledger.dataDir);
        const free = disk.bavail / disk.blocks;
        dependencies.disk = check(
          'disk',
          free >= READY.freeDiskRatio,
          { freeRatio: Math.round(free * 1000) / 1000, threshold: READY.freeDiskRatio },
          `only ${(free * 100).toFixed(1)}% free`,
        );
      }
      const ready = reasons.length === 0;
      return reply.status(ready ? 200 : 503).send({
        success: ready,
        data: { status: ready ? 'ready' : 'not ready', reasons, dependencies },
        timestamp: new Date().toISOString(),
      });
    },
  );

  app.get(
    '/health',
    {
      schema: {
        tags: ['health'],
        summary:
          'Each dependency with its status; 503 when the event store, the read models or the projections are down (Kafka down: 200, degraded)',
      },
    },
    async (_request, reply) => {
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
      const lag = eventStore.status === 'up' ? await eventsBehind(ledger.store, runner.position, head) : undefined;
      const projections: Check = {
        status: lag !== undefined && (lag ?? 0) <= MAX_PROJECTION_LAG && !runner.lastError ? 'up' : 'down',
        latencyMs: 0,
        position: Number(runner.position),
        ...(lag !== undefined ? { lagEvents: lag } : {}),
        ...(runner.lastError ? { error: runner.lastError } : {}),
      };
      const critical = { eventStore, readModelDatabase, projections };
      const publisher = ledger.publisher?.status();
      // Kafka feeds subscribers, not the API: while it is away the service answers and the backlog waits.
      const kafka: Check | undefined = publisher && {
        status: publisher.reachable && publisher.breaker === 'closed' && !publisher.lastError ? 'up' : 'down',
        latencyMs: 0,
        breaker: publisher.breaker,
        ...(publisher.unreachable ? { unreachable: publisher.unreachable } : {}),
        position: Number(publisher.position),
        ...(eventStore.status === 'up'
          ? { lagEvents: await eventsBehind(ledger.store, publisher.position, head) }
          : {}),
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
        data: {
          status,
          dependencies: { ...critical, ...(kafka ? { kafka } : {}), ...(replication ? { replication } : {}) },
        },
        timestamp: new Date().toISOString(),
      });
    },
  );
};
