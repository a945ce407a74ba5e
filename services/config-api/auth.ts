import type { FastifyInstance, FastifyRequest } from 'fastify';
import { InvalidToken, createTokenVerifier } from '#infra/auth/tokens.ts';
import { DomainError } from '#services/shared/errors.ts';
import type { Permission } from './context.ts';

const ROLES_FOR: Record<Exclude<Permission, 'public'>, string[]> = {
  read: ['admin', 'writer', 'reader'],
  write: ['admin', 'writer'],
};

/**
 * Every route declares `config.permission`; anything not marked `public`
 * needs a valid bearer token whose roles grant that permission.
 */
export function registerAuthentication(app: FastifyInstance, jwtSecret: string): void {
  const verifyToken = createTokenVerifier(jwtSecret);
  app.addHook('onRequest', async (request: FastifyRequest) => {
    const permission = request.routeOptions.config.permission ?? 'write';
    if (permission === 'public' || !request.routeOptions.url) return;
    const header = request.headers.authorization;
    const match = header ? /^Bearer\s+(\S+)$/i.exec(header) : null;
    if (!match) throw new DomainError('UNAUTHORIZED', 401, 'a bearer token is required (Authorization: Bearer <token>)');
    try {
      request.principal = await verifyToken(match[1]!);
    } catch (error) {
      if (error instanceof InvalidToken) throw new DomainError('INVALID_TOKEN', 401, `the token was refused: ${error.message}`);
      throw error;
    }
    const allowed = ROLES_FOR[permission];
    if (!request.principal.roles.some((role) => allowed.includes(role))) {
      throw new DomainError('FORBIDDEN', 403, `this needs one of the roles ${allowed.join(', ')}`, { required: allowed });
    }
  });
}
