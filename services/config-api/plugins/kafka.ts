import fp from 'fastify-plugin';
import { createKafka } from '#infra/kafka/topics.ts';
import type { OutsideEvidence } from '#projections/audit/chain.ts';
import { checkpointOnKafka } from '#projections/audit/checkpoint.ts';
import type { FailureStage } from '#projections/follow.ts';
import { type KafkaPublisher, createKafkaPublisher } from '#projections/kafka-publisher/publisher.ts';
import { eventsBehind } from './health-registry.ts';

declare module 'fastify' {
  interface FastifyInstance {
    /** Present when the instance publishes to Kafka. */
    publisher: KafkaPublisher | undefined;
    /** What the signed chain heads kept on Kafka say about this log; present with Kafka and a signing key. */
    chainCheckpoints: (() => Promise<OutsideEvidence>) | undefined;
  }
}

/**
 * Publishing to Kafka (every event, each effective configuration, the signed
 * chain head) from a checkpoint of its own. Kafka feeds subscribers, not the
 * API: while it is away the service answers, `/health` says degraded, and the
 * backlog waits.
 */
export const kafkaPlugin = fp<{ brokers: string[]; chainSigningKey?: string; publish: boolean }>(
  async (app, { brokers, chainSigningKey, publish }) => {
    if (brokers.length === 0) {
      app.decorate('publisher', undefined);
      app.decorate('chainCheckpoints', undefined);
      return;
    }
    const store = app.eventStore;
    const readModels = app.readModels;
    const publisher = publish
      ? createKafkaPublisher({
          store,
          db: app.projectionDb,
          kafka: createKafka(brokers),
          readModelsAt: (position) => readModels.runner.waitFor(position, 60_000),
          epoch: () => readModels.epoch.current,
          chainSigningKey,
          logger: app.log,
          onFailure: (stage: FailureStage) => app.metrics.followerFailures.inc({ follower: 'kafka-publisher', stage }),
        })
      : undefined;
    await publisher?.start();
    app.decorate('publisher', publisher);
    const verifier = chainSigningKey ? createKafka(brokers, 'configledger-verify') : undefined;
    app.decorate(
      'chainCheckpoints',
      verifier && chainSigningKey
        ? () => checkpointOnKafka(verifier, chainSigningKey, readModels.epoch.current)
        : undefined,
    );
    if (!publisher) return;
    app.metrics.observe({ publisher: () => publisher.status() });
    app.health.add({
      name: 'kafka',
      critical: false,
      async check(head) {
        const status = publisher.status();
        const lag = await head().then(
          (position) => eventsBehind(store, status.position, position),
          () => undefined,
        );
        return {
          status: status.reachable && status.breaker === 'closed' && !status.lastError ? 'up' : 'down',
          latencyMs: 0,
          breaker: status.breaker,
          ...(status.unreachable ? { unreachable: status.unreachable } : {}),
          position: Number(status.position),
          ...(lag !== undefined ? { lagEvents: lag } : {}),
          ...(status.lastError ? { error: status.lastError } : {}),
        };
      },
    });
    app.addHook('onClose', async () => publisher.stop());
  },
  { name: 'kafka', dependencies: ['read-models'] },
);
