import type { CredentialDescription } from '#events/credentials.ts';
import type { Principal } from '#infra/auth/tokens.ts';
import { outOfScope, unrestrictedScopeRequired } from './errors.ts';

/**
 * What a route needs. `public` needs nothing; `session` is the WebSocket,
 * which authenticates in its own protocol (after the lockout check at the
 * upgrade); the rest need a principal with one of the roles in ROLES_FOR.
 */
export type Permission = 'public' | 'session' | 'read' | 'write' | 'secret' | 'approve' | 'audit' | 'admin';
export type RolePermission = Exclude<Permission, 'public' | 'session'>;

export const ROLES = ['admin', 'writer', 'approver', 'auditor', 'reader', 'service'] as const;

/**
 * What each role may do. A principal acts only within its scope of service
 * ids (`*` for all); a `service` principal's scope is its own service.
 *
 * | role     | may                                                                 |
 * |----------|---------------------------------------------------------------------|
 * | admin    | everything, including the key-encryption key and service tokens     |
 * | writer   | read and change configurations, schemas, environments, credentials |
 * | approver | read; approve or reject change requests                             |
 * | auditor  | read, including audit trails and credential access logs (no values) |
 * | reader   | read configurations and credential metadata                         |
 * | service  | read its own configurations; decrypt its own and granted credentials |
 */
export const ROLES_FOR: Record<RolePermission, readonly string[]> = {
  read: ['admin', 'writer', 'approver', 'auditor', 'reader', 'service'],
  write: ['admin', 'writer'],
  secret: ['admin', 'writer', 'service'],
  approve: ['admin', 'approver'],
  audit: ['admin', 'auditor', 'writer'],
  admin: ['admin'],
};

/**
 * How a route meets the caller's service scope:
 * - `none`: it concerns no service (health, environments, policies read);
 * - `service`: the `serviceId` in its path or body must be in scope;
 * - `global`: it changes what every service shares, so only an unrestricted (`*`) principal may;
 * - `list`: it answers only what lies within scope;
 * - `credential`, `change-request`, `service-token`: the service of the resource it names must be in scope.
 */
export type ScopeRule = 'none' | 'service' | 'global' | 'list' | 'credential' | 'change-request' | 'service-token';

export interface RouteRule {
  permission: Permission;
  scope: ScopeRule;
  /** The route decides the permission itself so that a refusal is recorded (credential reads); the hook only authenticates. */
  refusalRecorded?: true;
  /** A change through this route that needs more than its permission, and what it needs. */
  escalation?: { when: string; permission: RolePermission };
  /** The way out of a lockout: answered for a principal with the permission even from a locked address. */
  lockoutExempt?: true;
}

const rule = (permission: Permission, scope: ScopeRule = 'none', extra: Partial<RouteRule> = {}): RouteRule => ({
  permission,
  scope,
  ...extra,
});
const PUBLIC = rule('public');

/**
 * Every route the server answers, by method and path. The authentication hook
 * reads it, and a test walks Fastify's own route table against it with every
 * role, in and out of scope: a route missing here is refused, and fails that test.
 */
export const ROUTE_RULES: Record<string, RouteRule> = {
  'GET /metrics': PUBLIC,
  'GET /api/v1/docs': PUBLIC,
  'GET /api/v1/docs/': PUBLIC,
  'GET /api/v1/docs/static/index.html': PUBLIC,
  'GET /api/v1/docs/static/swagger-initializer.js': PUBLIC,
  'GET /api/v1/docs/static/*': PUBLIC,
  'GET /api/v1/docs/json': PUBLIC,
  'GET /api/v1/docs/yaml': PUBLIC,
  'GET /api/v1/openapi.json': PUBLIC,
  'GET /api/v1/health': PUBLIC,
  'GET /api/v1/health/ready': PUBLIC,
  'GET /api/v1/ws': rule('session', 'service'),

  'GET /api/v1/configurations': rule('read', 'list'),
  'GET /api/v1/configurations/:serviceId': rule('read', 'service'),
  'POST /api/v1/configurations/:serviceId': rule('write', 'service'),
  'PUT /api/v1/configurations/:serviceId': rule('write', 'service'),
  'PATCH /api/v1/configurations/:serviceId': rule('write', 'service'),
  'GET /api/v1/configurations/:serviceId/environments/:environment': rule('read', 'service'),
  'PUT /api/v1/configurations/:serviceId/environments/:environment': rule('write', 'service'),
  'GET /api/v1/configurations/:serviceId/export': rule('read', 'service'),
  'GET /api/v1/configurations/:serviceId/versions': rule('read', 'service'),
  'POST /api/v1/configurations/:serviceId/versions/:version/rollback': rule('write', 'service'),
  'POST /api/v1/configurations/:serviceId/validate': rule('read', 'service'),
  'GET /api/v1/configurations/:serviceId/diff': rule('read', 'service'),
  'POST /api/v1/configurations/:serviceId/batch': rule('write', 'service'),
  'POST /api/v1/configurations/:serviceId/promote': rule('write', 'service'),
  'POST /api/v1/configurations/:serviceId/import': rule('write', 'service'),
  'GET /api/v1/configurations/:serviceId/schema': rule('read', 'service'),
  'PUT /api/v1/configurations/:serviceId/schema': rule('write', 'service'),
  'GET /api/v1/configurations/:serviceId/:key': rule('read', 'service'),
  'PUT /api/v1/configurations/:serviceId/:key': rule('write', 'service'),
  'DELETE /api/v1/configurations/:serviceId/:key': rule('write', 'service'),

  'POST /api/v1/credentials': rule('write', 'service'),
  'GET /api/v1/credentials': rule('read', 'list'),
  'GET /api/v1/credentials/:key': rule('secret', 'credential', { refusalRecorded: true }),
  'DELETE /api/v1/credentials/:key': rule('write', 'credential'),
  'POST /api/v1/credentials/:key/rotate': rule('write', 'credential'),
  'POST /api/v1/vault/rotate-key': rule('admin', 'global'),
  'POST /api/v1/tokens/revocations': rule('admin', 'global'),
  'DELETE /api/v1/lockouts/:address': rule('admin', 'global', { lockoutExempt: true }),

  'GET /api/v1/change-requests': rule('read', 'list'),
  'GET /api/v1/change-requests/:id': rule('read', 'change-request'),
  'POST /api/v1/change-requests/:id/approve': rule('approve', 'change-request'),
  'POST /api/v1/change-requests/:id/reject': rule('approve', 'change-request'),
  'GET /api/v1/approval-policies': rule('read'),
  'PUT /api/v1/approval-policies/:id': rule('admin', 'global'),
  'DELETE /api/v1/approval-policies/:id': rule('admin', 'global'),

  'GET /api/v1/environments': rule('read'),
  'POST /api/v1/environments': rule('write', 'global'),
  'GET /api/v1/environments/:id': rule('read'),
  'PUT /api/v1/environments/:id': rule('write', 'global', {
    escalation: { when: 'it changes what an existing environment inherits', permission: 'admin' },
  }),
  'DELETE /api/v1/environments/:id': rule('admin', 'global'),

  'GET /api/v1/audit': rule('audit', 'list'),
  'GET /api/v1/audit/credentials/:key': rule('audit', 'credential'),
  'GET /api/v1/audit/verify': rule('audit'),

  'POST /api/v1/service-tokens': rule('admin', 'service'),
  'GET /api/v1/service-tokens': rule('admin', 'list'),
  'DELETE /api/v1/service-tokens/:id': rule('admin', 'service-token'),
};

/** The rule of a route; HEAD follows GET. Undefined for a route nobody listed. */
export const ruleOf = (method: string, url: string): RouteRule | undefined =>
  ROUTE_RULES[`${method === 'HEAD' ? 'GET' : method} ${url}`];

export function hasPermission(principal: Principal, permission: RolePermission): boolean {
  return principal.roles.some((role) => ROLES_FOR[permission].includes(role));
}

export const unrestricted = (principal: Principal) => principal.services.includes('*');

export function inScope(principal: Principal, serviceId: string): boolean {
  return unrestricted(principal) || principal.services.includes(serviceId);
}

/** Throws OUT_OF_SCOPE unless `serviceId` is within the principal's scope. */
export function requireScope(principal: Principal, serviceId: string): void {
  if (!inScope(principal, serviceId)) throw outOfScope(principal.subject, serviceId);
}

/** Throws OUT_OF_SCOPE unless the principal may act on every service (changes shared by all of them). */
export function requireUnrestricted(principal: Principal, what: string): void {
  if (!unrestricted(principal)) throw unrestrictedScopeRequired(principal.subject, what, principal.services);
}

/** Decrypting needs the permission and either the credential's service in scope or a grant to the caller's service. */
export function mayReadCredential(
  principal: Principal,
  credential: Pick<CredentialDescription, 'serviceId' | 'grantedTo'>,
): boolean {
  if (!hasPermission(principal, 'secret')) return false;
  if (principal.roles.includes('service') && principal.roles.length === 1) {
    return credential.serviceId === principal.subject || (credential.grantedTo ?? []).includes(principal.subject);
  }
  return inScope(principal, credential.serviceId);
}

function who(rule: RouteRule): string {
  if (rule.permission === 'public') return 'anyone';
  if (rule.permission === 'session') return 'anyone with a token, in the WebSocket protocol';
  const roles = ROLES_FOR[rule.permission].join(', ');
  const escalation = rule.escalation
    ? `; ${ROLES_FOR[rule.escalation.permission].join(', ')} when ${rule.escalation.when}`
    : '';
  return `${roles}${escalation}`;
}

/** The README's permission table, as the authentication hook reads it. */
export function renderPermissionTable(): string {
  const rows = Object.entries(ROUTE_RULES)
    .filter(([route]) => !route.includes('/docs/'))
    .map(([route, rule]) => `| \`${route.replace('/api/v1', '')}\` | ${who(rule)} | ${rule.scope} |`);
  return ['| route | who may | service scope |', '|---|---|---|', ...rows].join('\n');
}
