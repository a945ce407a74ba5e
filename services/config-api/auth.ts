import type { FastifyInstance, FastifyRequest } from 'fastify';
import { InvalidToken, type TokenVerifier } from '#infra/auth/tokens.ts';
import { DomainError } from '#services/shared/errors.ts';
import { ROLES_FOR, hasPermission, inScope } from './permissions.ts';

export { hasPermission };

/**
 * Every route declares `config.permission`; anything not marked `public`
 * needs a valid bearer token whose roles grant that permission.
 */
export function registerAuthentication(app: FastifyInstance, verifyToken: TokenVerifier, mode: { readOnly: boolean }): void {
  app.addHook('onRequest', async (request: FastifyRequest) => {
    const permission = request.routeOptions.config.permission ?? 'write';
    if (permission === 'public' || !request.routeOptions.url) return;
    if (permission === 'write' && mode.readOnly) {
      throw new DomainError('READ_ONLY_REPLICA', 403, 'this region is a read-only replica; write to the primary region');
    }
    const header = request.headers.authorization;
    const match = header ? /^Bearer\s+(\S+)$/i.exec(header) : null;
    if (!match) throw new DomainError('UNAUTHORIZED', 401, 'a bearer token is required (Authorization: Bearer <token>)');
    try {
      request.principal = await verifyToken(match[1]!);
    } catch (error) {
      if (error instanceof InvalidToken) throw new DomainError('INVALID_TOKEN', 401, `the token was refused: ${error.message}`);
      throw error;
    }
    if (!hasPermission(request.principal, permission)) {
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
        throw new DomainError('OUT_OF_SCOPE', 403, `${principal.subject} may not act on service ${serviceId}`, { serviceId });
      }
    }
  });
}
