import { describe, it } from 'vitest';
import type { ServiceTokenEvent, ServiceTokenIssued } from '#events/service-tokens.ts';
import { deciderSpec } from '#services/shared/decider-harness.ts';
import { serviceTokenDecider } from './decider.ts';

const given = deciderSpec(serviceTokenDecider);

const token: ServiceTokenIssued['data'] = {
  id: 'token-1',
  serviceId: 'order-router',
  tokenHash: 'c2hhLTI1Ni1vZi10aGUtdG9rZW4=',
  description: 'order router in production',
  issuedAt: '2026-03-01T09:00:00.000Z',
  expiresAt: '2027-03-01T09:00:00.000Z',
};
const issued: ServiceTokenEvent = { type: 'ServiceTokenIssued', data: token };
const revoked: ServiceTokenEvent = {
  type: 'ServiceTokenRevoked',
  data: { id: 'token-1', revokedAt: '2026-03-05T09:00:00.000Z' },
};
const issue = { type: 'IssueServiceToken', token } as const;
const revoke = { type: 'RevokeServiceToken', id: 'token-1', now: '2026-03-05T09:00:00.000Z' } as const;

describe('service token decider', () => {
  it('issues a new token as the command describes it', () => {
    given().when(issue).then([issued]);
  });

  it('refuses to issue a token whose id was issued before, even once revoked, with SERVICE_TOKEN_EXISTS', () => {
    given(issued).when(issue).thenThrows('SERVICE_TOKEN_EXISTS');
    given(issued, revoked).when(issue).thenThrows('SERVICE_TOKEN_EXISTS');
  });

  it('revokes an issued token at the time on the command', () => {
    given(issued).when(revoke).then([revoked]);
  });

  it('emits nothing when the token is already revoked', () => {
    given(issued, revoked)
      .when({ ...revoke, now: '2026-03-06T09:00:00.000Z' })
      .then([]);
  });

  it('refuses to revoke a token that was never issued with SERVICE_TOKEN_NOT_FOUND', () => {
    given().when(revoke).thenThrows('SERVICE_TOKEN_NOT_FOUND');
  });
});
