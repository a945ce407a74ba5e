import fp from 'fastify-plugin';
import type { FailureStage } from '#projections/follow.ts';
import { type ReadModels, startReadModels } from '#projections/read-models.ts';
import { type Check, eventsBehind } from './health-registry.ts';

/** More events than this between the log head and the read models makes the service unhealthy. */
const MAX_PROJECTION_LAG = 10_000;

declare module 'fastify' {
  interface FastifyInstance {
    readModels: ReadModels;
  }
}

/** The projections into the read-model database and the in-process read side, following the log from their checkpoint. */
export const readModelsPlugin = fp<{ cacheMaxBytes?: number }>(
  async (app, options) => {
    const store = app.eventStore;
    const readModels = await startReadModels(store, app.projectionDb, {
      cacheMaxBytes: options.cacheMaxBytes,
      logger: app.log,
      onFailure: (stage: FailureStage) => app.metrics.followerFailures.inc({ follower: 'read-models', stage }),
      onSeen: (events) => app.commands.observe(events),
    });
    app.decorate('readModels', readModels);
    app.metrics.observe({
      cache: () => readModels.cache,
      projection: () => ({ position: readModels.runner.position, lastAppliedAt: readModels.runner.lastAppliedAt }),
    });
    app.health.add({
      name: 'projections',
      critical: true,
      async check(head): Promise<Check> {
        const { runner } = readModels;
        const lag = await head().then(
          (position) => eventsBehind(store, runner.position, position),
          () => undefined,
        );
        return {
          status: lag !== undefined && (lag ?? 0) <= MAX_PROJECTION_LAG && !runner.lastError ? 'up' : 'down',
          latencyMs: 0,
          position: Number(runner.position),
          ...(lag !== undefined ? { lagEvents: lag } : {}),
          ...(runner.lastError ? { error: runner.lastError } : {}),
        };
      },
    });
    app.addHook('onClose', async () => readModels.stop());
  },
  { name: 'read-models', dependencies: ['storage'] },
);
