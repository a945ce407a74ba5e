import fp from 'fastify-plugin';
import { type Metrics, createMetrics } from '#infra/metrics/registry.ts';

declare module 'fastify' {
  interface FastifyInstance {
    metrics: Metrics;
  }
}

/** The Prometheus registry of this app, `/metrics`, and the request counters; other plugins add their gauges' sources. */
export const metricsPlugin = fp(
  async (app) => {
    const metrics = createMetrics();
    app.decorate('metrics', metrics);
    app.addHook('onResponse', async (request, reply) => {
      const route = request.routeOptions.url ?? 'unmatched';
      metrics.requests.inc({ method: request.method, route, status: reply.statusCode });
      metrics.requestDuration.observe({ method: request.method, route }, reply.elapsedTime / 1000);
    });
    app.get('/metrics', { config: { rateLimit: false }, schema: { hide: true } }, async (_request, reply) =>
      reply.header('content-type', metrics.registry.contentType).send(await metrics.registry.metrics()),
    );
  },
  { name: 'metrics' },
);
