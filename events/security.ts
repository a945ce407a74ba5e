export const SECURITY_STREAM = 'security';

/** An address made too many failed authentications and is refused for a while. */
export type AuthenticationLockedOut = { type: 'AuthenticationLockedOut'; data: { sourceIp: string } };
