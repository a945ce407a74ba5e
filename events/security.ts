export const SECURITY_STREAM = 'security';
export const tokenRevocationStream = (jti: string) => `token-revocation-${jti}`;

/** An address made too many failed authentications and is refused for a while. */
export type AuthenticationLockedOut = { type: 'AuthenticationLockedOut'; data: { sourceIp: string } };

/** An admin lifted an address's lockout before it ran out. */
export type LockoutLifted = { type: 'LockoutLifted'; data: { sourceIp: string } };

/** A JWT, by its id (`jti`), is refused from now on, everywhere; its sessions end. */
export type TokenRevoked = { type: 'TokenRevoked'; data: { jti: string; revokedAt: string } };

export type SecurityEvent = AuthenticationLockedOut | LockoutLifted | TokenRevoked;
