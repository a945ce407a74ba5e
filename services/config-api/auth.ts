import type { FastifyInstance, FastifyRequest } from 'fastify';
import { InvalidToken, type Principal, type TokenVerifier } from '#infra/auth/tokens.ts';
import { SERVICE_TOKEN_PREFIX, type ServiceTokenDirectory } from '#projections/service-tokens/directory.ts';
import type { Metrics } from '#infra/metrics/registry.ts';
import type { DomainError } from '#events/errors.ts';
import {
  invalidToken,
  lockedOut,
  readOnlyReplica,
  roleRequired,
  routeNotInPermissionTable,
  unauthorized,
} from './errors.ts';
import type { Lockout } from './lockout.ts';
import { ROLES_FOR, hasPermission, requireScope, requireUnrestricted, ruleOf } from './permissions.ts';

export interface Authenticator {
  /**
   * The principal a JWT or a service token stands for, however it was sent
   * (header, WebSocket subprotocol, connect message). A refused token counts
   * toward its address's lockout.
   */
  authenticate(token: string | undefined, address: string, kind?: 'bearer' | 'service-token'): Promise<Principal>;
  /** Throws 429 LOCKED_OUT while the address is locked out. */
  refuseIfLocked(address: string, onRetryAfter?: (seconds: number) => void): Promise<void>;
}

export interface AuthenticatorOptions {
  verifyToken: TokenVerifier;
  serviceTokens: ServiceTokenDirectory;
  /** JWT ids refused from their revocation on. */
  revokedTokens: { has(jti: string): boolean };
  lockout: Lockout;
  metrics: Metrics;
  /** Records a lockout in the log. */
  onLockout(address: string): Promise<void>;
}

export function createAuthenticator(options: AuthenticatorOptions): Authenticator {
  const { metrics, lockout } = options;

  async function principalOf(token: string, kind: 'bearer' | 'service-token'): Promise<Principal> {
    if (kind === 'service-token' || token.startsWith(SERVICE_TOKEN_PREFIX)) {
      const principal = options.serviceTokens.principalFor(token);
      if (!principal)
        throw new InvalidToken('the service token is unknown, revoked or expired', options.serviceTokens.knows(token));
      return principal;
    }
    const principal = await options.verifyToken(token);
    if (
      principal.credential?.kind === 'jwt' &&
      principal.credential.id &&
      options.revokedTokens.has(principal.credential.id)
    ) {
      throw new InvalidToken('it was revoked', true);
    }
    return principal;
  }

  return {
    async authenticate(token, address, kind = 'bearer') {
      if (!token) {
        metrics.unauthorizedAttempts.inc({ reason: 'unauthorized' });
        throw unauthorized();
      }
      try {
        return await principalOf(token, kind);
      } catch (error) {
        if (!(error instanceof InvalidToken)) throw error;
        metrics.unauthorizedAttempts.inc({ reason: error.authentic ? 'expired_or_revoked' : 'invalid_token' });
        // A guess counts toward the address's lockout; a revoked or expired token of ours is a late client, and does not.
        if (!error.authentic && (await lockout.fail(address))) await options.onLockout(address);
        throw invalidToken(error.message);
      }
    },

    async refuseIfLocked(address, onRetryAfter) {
      const lockedMs = await lockout.lockedFor(address);
      if (lockedMs <= 0) return;
      metrics.unauthorizedAttempts.inc({ reason: 'locked_out' });
      const retryAfterSeconds = Math.ceil(lockedMs / 1000);
      onRetryAfter?.(retryAfterSeconds);
      throw lockedOut(retryAfterSeconds);
    },
  };
}

function credentialOf(request: FastifyRequest): { token: string | undefined; kind: 'bearer' | 'service-token' } {
  const serviceToken = request.headers['x-service-token'];
  if (typeof serviceToken === 'string') return { token: serviceToken, kind: 'service-token' };
  const header = request.headers.authorization;
  const match = header ? /^Bearer\s+(\S+)$/i.exec(header) : null;
  return { token: match?.[1], kind: 'bearer' };
}

/**
 * Every route has an entry in the permission table (ROUTE_RULES). Anything not
 * `public` checks the address's lockout; anything but `public` and `session`
 * (the WebSocket authenticates in its own protocol) needs a principal whose
 * roles grant the permission, within the route's service scope.
 */
export function registerAuthentication(
  app: FastifyInstance,
  options: { authenticator: Authenticator; metrics: Metrics; readOnly: boolean },
): void {
  const { authenticator, metrics } = options;
  const forbid = (code: 'FORBIDDEN' | 'OUT_OF_SCOPE', error: DomainError) => {
    metrics.unauthorizedAttempts.inc({ reason: code.toLowerCase() });
    return error;
  };

  app.addHook('onRequest', async (request, reply) => {
    if (!request.routeOptions.url) return;
    const rule = ruleOf(request.method, request.routeOptions.url);
    if (!rule) throw forbid('FORBIDDEN', routeNotInPermissionTable(request.method, request.routeOptions.url));
    if (rule.permission === 'public') return;
    // The way out of a lockout answers a principal with its permission from any address; anyone else is refused as locked.
    let principal: Principal | undefined;
    if (rule.lockoutExempt) {
      const { token, kind } = credentialOf(request);
      principal = await authenticator.authenticate(token, request.ip, kind).catch(async (error: unknown) => {
        await authenticator.refuseIfLocked(request.ip, (seconds) => reply.header('retry-after', seconds));
        throw error;
      });
      if (rule.permission === 'session' || !hasPermission(principal, rule.permission))
        await authenticator.refuseIfLocked(request.ip, (seconds) => reply.header('retry-after', seconds));
    } else await authenticator.refuseIfLocked(request.ip, (seconds) => reply.header('retry-after', seconds));
    if (rule.permission === 'session') return;
    if (options.readOnly && rule.permission !== 'read' && rule.permission !== 'secret' && rule.permission !== 'audit') {
      throw readOnlyReplica();
    }
    if (!principal) {
      const { token, kind } = credentialOf(request);
      principal = await authenticator.authenticate(token, request.ip, kind);
    }
    request.principal = principal;
    if (rule.refusalRecorded) return;
    if (!hasPermission(principal, rule.permission)) throw forbid('FORBIDDEN', roleRequired(ROLES_FOR[rule.permission]));
    if (rule.scope === 'global' && request.method !== 'GET' && request.method !== 'HEAD') {
      try {
        requireUnrestricted(principal, `${request.method} ${request.routeOptions.url}`);
      } catch (error) {
        throw forbid('OUT_OF_SCOPE', error as DomainError);
      }
    }
  });

  // After validation, so the service named in the path or the body is known and well-formed.
  app.addHook('preHandler', async (request: FastifyRequest) => {
    const principal = request.principal;
    if (
      !principal ||
      !request.routeOptions.url ||
      ruleOf(request.method, request.routeOptions.url)?.scope !== 'service'
    )
      return;
    const named = [
      (request.params as { serviceId?: unknown } | undefined)?.serviceId,
      (request.body as { serviceId?: unknown } | undefined)?.serviceId,
    ];
    for (const serviceId of named) {
      if (typeof serviceId !== 'string') continue;
      try {
        requireScope(principal, serviceId);
      } catch (error) {
        throw forbid('OUT_OF_SCOPE', error as DomainError);
      }
    }
  });
}
