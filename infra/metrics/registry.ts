import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** What the metrics read their values from when Prometheus scrapes. */
export interface MetricSources {
  headPosition(): Promise<bigint>;
  /** The store's count of events after a position (undefined when it cannot tell: then lag is NaN). */
  eventsAfter(position: bigint): Promise<number | undefined>;
  cache(): { hits: number; misses: number; bytes: number; size: number };
  webSocketConnections(): number;
  projection(): { position: bigint; lastAppliedAt?: Date };
  publisher(): { position: bigint; breaker: 'closed' | 'open' | 'half-open' } | undefined;
  storeBreaker(): 'closed' | 'open' | 'half-open';
  databaseBreaker(): 'closed' | 'open' | 'half-open';
  replication(): { lagEvents: number; lagSeconds: number } | undefined;
}

const BREAKER_STATE = { closed: 0, 'half-open': 1, open: 2 } as const;

/** The service's Prometheus metrics, names as in the operations specification; one registry per app. */
export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const sources: Partial<MetricSources> = {};
  const registers = [registry];
  // Positions order events, they do not count them: the store counts.
  const eventsAfter = async (position: bigint) =>
    sources.eventsAfter ? ((await sources.eventsAfter(position)) ?? Number.NaN) : 0;
  const lag = async () => (sources.projection ? eventsAfter(sources.projection().position) : 0);

  new Gauge({
    name: 'configuration_cache_hit_ratio',
    help: 'Share of configuration reads answered from the in-process cache',
    registers,
    collect() {
      const { hits, misses } = sources.cache?.() ?? { hits: 0, misses: 0 };
      this.set(hits + misses === 0 ? 1 : hits / (hits + misses));
    },
  });
  new Gauge({
    name: 'configuration_cache_bytes',
    help: 'Weight of the configurations held in the in-process cache (bounded by CONFIGURATION_CACHE_MB)',
    registers,
    collect() {
      this.set(sources.cache?.().bytes ?? 0);
    },
  });
  new Gauge({
    name: 'configuration_websocket_connections',
    help: 'Open WebSocket connections',
    registers,
    collect() {
      this.set(sources.webSocketConnections?.() ?? 0);
    },
  });
  new Gauge({
    name: 'configuration_projection_lag_events',
    help: 'Events in the log not yet in the read models',
    labelNames: ['projection'] as const,
    registers,
    async collect() {
      this.set({ projection: 'read-models' }, await lag());
    },
  });
  new Gauge({
    name: 'configuration_projection_lag_seconds',
    help: 'Age of the newest event the read models have applied, while they are behind',
    labelNames: ['projection'] as const,
    registers,
    async collect() {
      const appliedAt = sources.projection?.().lastAppliedAt;
      this.set(
        { projection: 'read-models' },
        (await lag()) > 0 && appliedAt ? (Date.now() - appliedAt.getTime()) / 1000 : 0,
      );
    },
  });
  new Gauge({
    name: 'configuration_kafka_publish_lag_events',
    help: 'Events in the log not yet acknowledged by Kafka',
    registers,
    async collect() {
      const publisher = sources.publisher?.();
      this.set(publisher ? await eventsAfter(publisher.position) : 0);
    },
  });
  new Gauge({
    name: 'configuration_replication_lag_events',
    help: 'Events on the primary region topic not yet in this replica',
    registers,
    collect() {
      this.set(sources.replication?.()?.lagEvents ?? 0);
    },
  });
  new Gauge({
    name: 'configuration_replication_lag_seconds',
    help: 'Age of the newest replicated event, while the replica is behind',
    registers,
    collect() {
      this.set(sources.replication?.()?.lagSeconds ?? 0);
    },
  });
  new Gauge({
    name: 'configuration_breaker_state',
    help: 'Circuit breaker per dependency: 0 closed, 1 half-open, 2 open',
    labelNames: ['dependency'] as const,
    registers,
    collect() {
      const publisher = sources.publisher?.();
      if (publisher) this.set({ dependency: 'kafka' }, BREAKER_STATE[publisher.breaker]);
      if (sources.storeBreaker) this.set({ dependency: 'eventStore' }, BREAKER_STATE[sources.storeBreaker()]);
      if (sources.databaseBreaker)
        this.set({ dependency: 'readModelDatabase' }, BREAKER_STATE[sources.databaseBreaker()]);
    },
  });

  return {
    registry,
    /** Connects gauges to a running part, once it exists: each part gives its own sources. */
    observe(from: Partial<MetricSources>) {
      Object.assign(sources, from);
    },
    requests: new Counter({
      name: 'configuration_requests_total',
      help: 'HTTP requests by method, route and status',
      labelNames: ['method', 'route', 'status'] as const,
      registers,
    }),
    requestDuration: new Histogram({
      name: 'configuration_request_duration_seconds',
      help: 'HTTP request duration',
      labelNames: ['method', 'route'] as const,
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers,
    }),
    appendDuration: new Histogram({
      name: 'configuration_eventstore_append_duration_seconds',
      help: 'Time to append to the event store (durable commit included)',
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
      registers,
    }),
    unauthorizedAttempts: new Counter({
      name: 'configuration_unauthorized_attempts_total',
      help: 'Requests refused for missing or bad credentials, lockouts and missing permissions',
      labelNames: ['reason'] as const,
      registers,
    }),
    followerFailures: new Counter({
      name: 'configuration_follower_failures_total',
      help: 'Failures of the followers of the log (read models, Kafka publisher, WebSocket gateway), each retried',
      labelNames: ['follower', 'stage'] as const,
      registers,
    }),
    credentialAccess: new Counter({
      name: 'credential_access_total',
      help: 'Attempts to read a credential value, by outcome',
      labelNames: ['outcome'] as const,
      registers,
    }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
