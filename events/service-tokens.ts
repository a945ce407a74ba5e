export const serviceTokenStream = (id: string) => `service-token-${id}`;

/** Only the SHA-256 of a service token is ever stored; the token itself is shown once, when issued. */
export type ServiceTokenIssued = {
  type: 'ServiceTokenIssued';
  data: {
    id: string;
    serviceId: string;
    tokenHash: string;
    description?: string;
    issuedAt: string;
    expiresAt?: string;
  };
};
export type ServiceTokenRevoked = { type: 'ServiceTokenRevoked'; data: { id: string; revokedAt: string } };
export type ServiceTokenEvent = ServiceTokenIssued | ServiceTokenRevoked;
