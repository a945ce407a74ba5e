import fp from 'fastify-plugin';
import type { EventStore } from '#infra/eventstore/port.ts';
import type { Storage } from '#infra/eventstore/select.ts';
import { withAppendTiming } from '#infra/metrics/timed-store.ts';
import type { Database } from '#infra/postgres/database.ts';
import { withQueryBreaker } from '#infra/resilience/database-breaker.ts';
import { withStoreBreaker } from '#infra/resilience/store-breaker.ts';
import { type Commands, createCommands } from '#services/shared/command-handler.ts';
import { timed } from './health-registry.ts';

declare module 'fastify' {
  interface FastifyInstance {
    /** The log, behind its circuit breaker and timed. */
    eventStore: EventStore;
    /** The read-model database, behind its circuit breaker (the projections write through the raw one). */
    readModelDb: Database;
    /** The read-model database as the projections use it. */
    projectionDb: Database;
    commands: Commands;
    /** The embedded store's directory, when there is one. */
    dataDir: string | undefined;
  }
}

/** The log and the read-model database an instance works with, their breakers, and the command runner over them. */
export const storagePlugin = fp<{ storage: Storage }>(
  async (app, { storage }) => {
    const guarded = withStoreBreaker(storage.store);
    const queries = withQueryBreaker(storage.readModels);
    const store = withAppendTiming(guarded.store, app.metrics.appendDuration);
    app.decorate('eventStore', store);
    app.decorate('readModelDb', queries.db);
    app.decorate('projectionDb', storage.readModels);
    app.decorate('commands', createCommands(store));
    app.decorate('dataDir', storage.dataDir);
    app.metrics.observe({
      headPosition: () => store.headPosition(),
      eventsAfter: (position) => store.eventsAfter(position),
      storeBreaker: () => guarded.state(),
      databaseBreaker: () => queries.state(),
    });
    app.health.add({
      name: 'eventStore',
      critical: true,
      check: (head) => timed(async () => ({ kind: store.kind, headPosition: Number(await head()) })),
    });
    app.health.add({
      name: 'readModelDatabase',
      critical: true,
      check: () =>
        timed(async () => {
          await queries.db.query('SELECT 1');
          return { kind: queries.db.kind };
        }),
    });
    app.addHook('onClose', async () => {
      guarded.shutdown();
      queries.shutdown();
    });
  },
  { name: 'storage', dependencies: ['metrics', 'health-registry'] },
);
