import { type Check, eventsBehind, timed } from './plugins/health-registry.ts';
import { statfs } from 'node:fs/promises';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';

/** Thresholds of the monitoring specification. */
const READY = { accessMs: 50, cacheHitRatio: 0.8, cacheSamples: 100, projectionLag: 1000, freeDiskRatio: 0.1 };

export const healthRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { ctx } = app;

  app.get(
    '/health/ready',
    {
      schema: {
        tags: ['health'],
        security: [],
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
        head = await ctx.store.headPosition();
      });
      const access = await timed(async () => {
        await ctx.db.query('SELECT version FROM service_configurations LIMIT 1');
      });
      const { hits, misses } = ctx.readModels.cache;
      const ratio = hits + misses === 0 ? 1 : hits / (hits + misses);
      const lag = await eventsBehind(ctx.store, ctx.readModels.runner.position, head);
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
          store.status === 'up' && (lag ?? 0) <= READY.projectionLag && !ctx.readModels.runner.lastError,
          { lagEvents: lag, threshold: READY.projectionLag },
          ctx.readModels.runner.lastError ?? `${lag} events behind`,
        ),
      };
      if (app.dataDir) {
        const disk = await statfs(app.dataDir);
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
        security: [],
        summary:
          'Each dependency with its status; 503 when the event store, the read models or the projections are down (Kafka down: 200, degraded)',
      },
    },
    async (_request, reply) => {
      // Every resource plugin added its own check; the log's head is read once for all of them.
      let head: Promise<bigint> | undefined;
      const headOnce = () => {
        head ??= ctx.store.headPosition();
        return head;
      };
      const dependencies: Record<string, Check> = {};
      let healthy = true;
      let degraded = false;
      for (const contribution of app.health.contributions) {
        const result = await contribution.check(headOnce);
        dependencies[contribution.name] = result;
        if (result.status === 'down') {
          if (contribution.critical) healthy = false;
          else degraded = true;
        }
      }
      const status = !healthy ? 'unhealthy' : degraded ? 'degraded' : 'healthy';
      return reply.status(healthy ? 200 : 503).send({
        success: healthy,
        data: { status, dependencies },
        timestamp: new Date().toISOString(),
      });
    },
  );
};
