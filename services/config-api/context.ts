import type { OutsideEvidence } from '#projections/audit/chain.ts';
import type { Principal } from '#infra/auth/tokens.ts';
import type { Database } from '#infra/postgres/database.ts';
import type { EventStore } from '#infra/eventstore/port.ts';
import type { ReadModels } from '#projections/read-models.ts';
import type { KafkaPublisher } from '#projections/kafka-publisher/publisher.ts';
import type { Gateway } from './websocket/gateway.ts';
import type { Replicator } from '#services/replicator/replicator.ts';
import type { Vault } from '#services/credentials/vault.ts';
import type { Metrics } from '#infra/metrics/registry.ts';

/** What every route works with: the log, the read-model database and the in-process read side. */
export interface Ledger {
  store: EventStore;
  db: Database;
  readModels: ReadModels;
  /** Present when KAFKA_BROKERS is set. */
  publisher?: KafkaPublisher;
  vault: Vault;
  metrics: Metrics;
  /** The embedded store's directory, when there is one. */
  dataDir?: string;
  /** Present on a region replica. */
  replicator?: Replicator;
  /** WebSocket push; set once the gateway runs. */
  gateway?: Gateway;
  /** How long a read with `minPosition` may wait for the projections. */
  readYourWritesTimeoutMs: number;
  /** What the signed chain heads kept outside the database (on Kafka) say about this log. */
  outsideCheckpoint?: () => Promise<OutsideEvidence>;
}

export interface RegisteredRoute {
  method: string;
  url: string;
}

declare module 'fastify' {
  interface FastifyInstance {
    ledger: Ledger;
    routeTable: RegisteredRoute[];
  }
  interface FastifyRequest {
    principal?: Principal;
  }
}
