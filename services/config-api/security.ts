import { once } from 'node:events';
import helmet from '@fastify/helmet';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import securityHeaders from 'helmet';
import { errorBody } from './error-handler.ts';
import { Redis } from 'ioredis';
import { SECURITY_STREAM } from '#events/security.ts';
import { createTokenVerifier } from '#infra/auth/tokens.ts';
import type { EventStore } from '#infra/eventstore/port.ts';
import type { Metrics } from '#infra/metrics/registry.ts';
import type { ServiceTokenDirectory } from '#projections/service-tokens/directory.ts';
import { recordEvents } from '#services/shared/command-handler.ts';
import { type Authenticator, createAuthenticator, registerAuthentication } from './auth.ts';
import { DEFAULT_LOCKOUT, type Lockout, type LockoutSettings, createLockout } from './lockout.ts';
import { type RateLimits, registerRateLimits } from './rate-limits.ts';

export interface RedisSettings {
  url: string;
  /** Key prefix, to keep deployments (or tests) apart. */
  namespace?: string;
}

export interface SecurityOptions {
  jwtSecret: string;
  store: EventStore;
  serviceTokens: ServiceTokenDirectory;
  revokedTokens: { has(jti: string): boolean };
  metrics: Metrics;
  readOnly: boolean;
  rateLimits?: RateLimits;
  lockout?: LockoutSettings;
  /** Shares rate limits and lockouts between instances. */
  redis?: RedisSettings;
}

/**
 * An API answers JSON only: nothing in it may be framed, sniffed, or run as a
 * page. The interactive docs set their own, wider policy for their assets.
 */
const HEADERS = {
  contentSecurityPolicy: {
    useDefaults: false,
    directives: { defaultSrc: ["'none'"], frameAncestors: ["'none'"], baseUri: ["'none'"], formAction: ["'none'"] },
  },
  frameguard: { action: 'deny' as const },
  referrerPolicy: { policy: 'no-referrer' as const },
  crossOriginResourcePolicy: { policy: 'same-origin' as const },
};

const setSecurityHeaders = securityHeaders(HEADERS);

/** Fastify's own refusals (a URL it cannot decode) come before any hook: the API's envelope and security headers all the same. */
export function frameworkErrors(error: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
  setSecurityHeaders(request.raw, reply.raw, () => undefined);
  const code = error.code === 'FST_ERR_BAD_URL' ? 'BAD_URL' : 'BAD_REQUEST';
  void reply.status(400).send(errorBody(code, error.message));
}

/**
 * Security headers, authentication (JWT or service token), the permission
 * table with service scopes, rate limits and the lockout of addresses that
 * keep failing to authenticate — shared through Redis when there is one.
 */
export async function registerSecurity(
  app: FastifyInstance,
  options: SecurityOptions,
): Promise<Authenticator & { lockout: Lockout }> {
  await app.register(helmet, HEADERS);
  const redis = options.redis ? await connectRedis(app, options.redis) : undefined;
  const lockout = createLockout(options.lockout ?? DEFAULT_LOCKOUT, redis);
  const authenticator = createAuthenticator({
    verifyToken: createTokenVerifier(options.jwtSecret),
    serviceTokens: options.serviceTokens,
    revokedTokens: options.revokedTokens,
    lockout,
    metrics: options.metrics,
    onLockout: async (address) => {
      app.log.warn({ address }, 'address locked out after repeated failed authentication');
      await recordEvents(
        options.store,
        SECURITY_STREAM,
        [{ type: 'AuthenticationLockedOut', data: { sourceIp: address } }],
        {
          actor: 'configledger',
          correlationId: `lockout-${address}`,
          sourceIp: address,
          now: new Date(),
        },
      );
    },
  });
  registerAuthentication(app, { authenticator, metrics: options.metrics, readOnly: options.readOnly });
  await registerRateLimits(app, options.rateLimits, redis);
  return { ...authenticator, lockout };
}

/** Connects, waiting briefly for Redis at start; one log line when it goes down and one when it is back. */
async function connectRedis(app: FastifyInstance, settings: RedisSettings) {
  // No offline queue: a Redis that does not answer fails the call at once, and the limiters fall back.
  const client = new Redis(settings.url, { maxRetriesPerRequest: 1, enableOfflineQueue: false });
  let state: 'starting' | 'up' | 'down' = 'starting';
  client.on('ready', () => {
    state = 'up';
    app.log.info({ redis: settings.url }, 'redis connected: rate limits and lockouts are shared');
  });
  client.on('error', (error) => {
    if (state !== 'down')
      app.log.warn({ err: error.message }, 'redis unavailable: this instance counts on its own until it returns');
    state = 'down';
  });
  app.addHook('onClose', async () => void client.disconnect());
  await Promise.race([once(client, 'ready'), new Promise((resolve) => setTimeout(resolve, 2000).unref())]);
  return { client, namespace: settings.namespace ?? 'configledger-' };
}
