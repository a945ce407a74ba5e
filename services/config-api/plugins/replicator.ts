import fp from 'fastify-plugin';
import { createKafka } from '#infra/kafka/topics.ts';
import { type Replicator, createReplicator } from '#services/replicator/replicator.ts';

declare module 'fastify' {
  interface FastifyInstance {
    /** Present on a region replica. */
    replicator: Replicator | undefined;
  }
}

/** A region replica: every event of the primary's topic appended to this instance's own log. */
export const replicatorPlugin = fp<{ from?: { brokers: string[]; groupId: string } }>(
  async (app, { from }) => {
    if (!from) {
      app.decorate('replicator', undefined);
      return;
    }
    const { brokers, groupId } = from;
    const replicator = createReplicator({
      store: app.eventStore,
      kafka: createKafka(brokers),
      groupId,
      logger: app.log,
    });
    await replicator.start();
    app.decorate('replicator', replicator);
    app.metrics.observe({ replication: () => replicator.status() });
    app.health.add({
      name: 'replication',
      critical: false,
      async check() {
        const status = replicator.status();
        return {
          status: status.lastError ? 'down' : 'up',
          latencyMs: 0,
          lagEvents: status.lagEvents,
          lagSeconds: Math.round(status.lagSeconds * 1000) / 1000,
          appliedEvents: status.appliedEvents,
          duplicatesSkipped: status.duplicatesSkipped,
          ...(status.lastError ? { error: status.lastError } : {}),
        };
      },
    });
    app.addHook('onClose', async () => replicator.stop());
  },
  { name: 'replicator', dependencies: ['storage'] },
);
