import type { FastifyInstance, FastifyRequest } from 'fastify';
import { InvalidToken, type Principal, type TokenVerifier } from '#infra/auth/tokens.ts';
import type { ServiceTokenDirectory } from '#projections/service-tokens/directory.ts';
import type { Metrics } from '#infra/metrics/registry.ts';
import type { FailedAuthentications } from './lockout.ts';
import { DomainError } from '#services/shared/errors.ts';
import { ROLES_FOR, hasPermission, inScope } from './permissions.ts';


/**
 * Every route declares `config.permission`; anything not marked `public`
 * needs a valid bearer token whose roles grant that permission.
 */
export interface AuthenticationOptions {
  verifyToken: TokenVerifier;
  serviceTokens: ServiceTokenDirectory;
  readOnly: boolean;
  metrics: Metrics;
  failures: FailedAuthentications;
  /** Records a lockout in the log. */
  onLockout(request: FastifyRequest): Promise<void>;
}

async function authenticate(request: FastifyRequest, options: AuthenticationOptions): Promise<Principal> {
  const serviceToken = request.headers['x-service-token'];
  if (typeof serviceToken === 'string') {
    const principal = options.serviceTokens.principalFor(serviceToken);
    if (!principal) throw new DomainError('INVALID_TOKEN', 401, 'the service token is unknown, revoked or expired');
    return principal;
  }
  const header = request.headers.authorization;
  const match = header ? /^Bearer\s+(\S+)$/i.exec(header) : null;
  if (!match) throw new DomainError('UNAUTHORIZED', 401, 'a bearer token (Authorization: Bearer <token>) or X-Service-Token is required');
  try {
    return await options.verifyToken(match[1]!);
  } catch (error) {
    if (error instanceof InvalidToken) throw new DomainError('INVALID_TOKEN', 401, `the token was refused: ${error.message}`);
    throw error;
  }
}

export function registerAuthentication(app: FastifyInstance, options: AuthenticationOptions): void {
  app.addHook('onRequest', async (request, reply) => {
    const permission = request.routeOptions.config.permission ?? 'write';
    if (permission === 'public' || !request.routeOptions.url) return;
    if (permission === 'write' && options.readOnly) {
      throw new DomainError('READ_ONLY_REPLICA', 403, 'this region is a read-only replica; write to the primary region');
    }
    const lockedMs = options.failures.lockedFor(request.ip);
    if (lockedMs > 0) {
      options.metrics.unauthorizedAttempts.inc({ reason: 'locked_out' });
      reply.header('retry-after', Math.ceil(lockedMs / 1000));
      throw new DomainError('LOCKED_OUT', 429, 'too many failed authentications from this address; try again later', { retryAfterSeconds: Math.ceil(lockedMs / 1000) });
    }
    try {
      request.principal = await authenticate(request, options);
      options.failures.succeed(request.ip);
    } catch (error) {
      if (error instanceof DomainError) {
        options.metrics.unauthorizedAttempts.inc({ reason: error.code.toLowerCase() });
        if (options.failures.fail(request.ip)) await options.onLockout(request);
      }
      throw error;
    }
    if (!hasPermission(request.principal, permission)) {
      options.metrics.unauthorizedAttempts.inc({ reason: 'forbidden' });
      const required = ROLES_FOR[permission];
      throw new DomainError('FORBIDDEN', 403, `this needs one of the roles ${required.join(', ')}`, { required });
    }
  });

  // After validation, so the service named in the path or the body is known and well-formed.
  app.addHook('preHandler', async (request: FastifyRequest) => {
    const principal = request.principal;
    if (!principal) return;
    const named = [(request.params as { serviceId?: unknown } | undefined)?.serviceId, (request.body as { serviceId?: unknown } | undefined)?.serviceId];
    for (const serviceId of named) {
      if (typeof serviceId === 'string' && !inScope(principal, serviceId)) {
        options.metrics.unauthorizedAttempts.inc({ reason: 'out_of_scope' });
        throw new DomainError('OUT_OF_SCOPE', 403, `${principal.subject} may not act on service ${serviceId}`, { serviceId });
      }
    }
  });
}
