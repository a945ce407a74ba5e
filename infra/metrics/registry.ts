import { Counter, Registry, collectDefaultMetrics } from 'prom-client';

/** The service's Prometheus metrics, names as in the operations specification; one registry per app. */
export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  return {
    registry,
    unauthorizedAttempts: new Counter({
      name: 'configuration_unauthorized_attempts_total',
      help: 'Requests refused for missing or bad credentials, lockouts and missing permissions',
      labelNames: ['reason'] as const,
      registers: [registry],
    }),
    credentialAccess: new Counter({
      name: 'credential_access_total',
      help: 'Attempts to read a credential value, by outcome',
      labelNames: ['outcome'] as const,
      registers: [registry],
    }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
