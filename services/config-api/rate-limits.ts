import rateLimit from '@fastify/rate-limit';
import type { Redis } from 'ioredis';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { rateLimited } from './errors.ts';

export interface RateLimits {
  perPrincipalPerMinute: number;
  perAddressPerMinute: number;
}

/**
 * Two limits, answered with 429 RATE_LIMITED and Retry-After: per source
 * address before authentication, per principal after it. Health and metrics
 * are exempt. With Redis the counts are shared by every instance; without,
 * each instance counts alone.
 */
export async function registerRateLimits(
  app: FastifyInstance,
  limits: RateLimits | undefined,
  redis?: { client: Redis; namespace: string },
): Promise<void> {
  if (!limits || (limits.perAddressPerMinute <= 0 && limits.perPrincipalPerMinute <= 0)) return;
  // A Redis that does not answer must not stop the service: the request goes through uncounted.
  await app.register(rateLimit, {
    global: false,
    ...(redis ? { redis: redis.client, nameSpace: `${redis.namespace}rate-`, skipOnError: true } : {}),
  });
  const exempt = (url: string | undefined) => !url || url.endsWith('/health') || url === '/metrics';

  const limiter = (max: number, keyOf: (request: FastifyRequest) => string) => {
    const check = app.createRateLimit({ max, timeWindow: 60_000, keyGenerator: keyOf });
    return async (request: FastifyRequest, reply: FastifyReply) => {
      if (exempt(request.routeOptions.url)) return;
      const state = await check(request);
      if (state.isAllowed || !state.isExceeded) return;
      reply.header('retry-after', state.ttlInSeconds);
      throw rateLimited(state.ttlInSeconds, max);
    };
  };
  if (limits.perAddressPerMinute > 0)
    app.addHook(
      'onRequest',
      limiter(limits.perAddressPerMinute, (request) => `ip:${request.ip}`),
    );
  if (limits.perPrincipalPerMinute > 0) {
    app.addHook(
      'preHandler',
      limiter(limits.perPrincipalPerMinute, (request) => `principal:${request.principal?.subject ?? request.ip}`),
    );
  }
}
