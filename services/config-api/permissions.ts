import type { CredentialDescription } from '#events/credentials.ts';
import type { Principal } from '#infra/auth/tokens.ts';
import type { Permission } from './context.ts';

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
export const ROLES_FOR: Record<Exclude<Permission, 'public'>, string[]> = {
  read: ['admin', 'writer', 'approver', 'auditor', 'reader', 'service'],
  write: ['admin', 'writer'],
  secret: ['admin', 'writer', 'service'],
  approve: ['admin', 'approver'],
  audit: ['admin', 'auditor', 'writer'],
  admin: ['admin'],
};

export function hasPermission(principal: Principal, permission: Exclude<Permission, 'public'>): boolean {
  return principal.roles.some((role) => ROLES_FOR[permission].includes(role));
}

export function inScope(principal: Principal, serviceId: string): boolean {
  return principal.services.includes('*') || principal.services.includes(serviceId);
}

/** Decrypting needs the permission and either the credential's service in scope or a grant to the caller's service. */
export function mayReadCredential(principal: Principal, credential: Pick<CredentialDescription, 'serviceId' | 'grantedTo'>): boolean {
  if (!hasPermission(principal, 'secret')) return false;
  if (principal.roles.includes('service') && principal.roles.length === 1) {
    return credential.serviceId === principal.subject || (credential.grantedTo ?? []).includes(principal.subject);
  }
  return inScope(principal, credential.serviceId);
}
