import type { FastifyInstance, FastifyRequest } from 'fastify';
import { InvalidToken, type Principal, type TokenVerifier } from '#infra/auth/tokens.ts';
import { DomainError } from '#services/shared/errors.ts';
import type { Permission } from './context.ts';

const ROLES_FOR: Record<Exclude<Permission, 'public'>, string[]> = {
  read: ['admin', 'writer', 'reader'],
  write: ['admin', 'writer'],
  /** Decrypting a credential's value. */
  secret: ['admin', 'writer'],
  admin: ['admin'],
};

export function hasPermission(principal: Principal, permission: Exclude<Permission, 'public'>): boolean {
  return principal.roles.some((role) => ROLES_FOR[permission].includes(role));
}

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
}
