import { describe, expect, it } from 'vitest';
import type { ChangeRequestOpened } from '#events/approvals.ts';
import type { DomainError } from '#services/shared/errors.ts';
import { decide, evolve, quorumReached, type ChangeRequestState } from './change-request-decider.ts';
import { keyMatches } from './policies.ts';

const opened: ChangeRequestOpened = {
  type: 'ChangeRequestOpened',
  data: {
    id: 'cr-1',
    change: {
      kind: 'configuration',
      serviceId: 'risk-engine',
      environment: 'production',
      command: {},
      baseVersion: 3,
      changedKeys: ['risk.limit'],
    },
    requestedBy: 'rae',
    policyIds: ['prod-risk'],
    requiredApprovals: 2,
    approverRole: 'approver',
    openedAt: '2026-11-25T10:00:00.000Z',
    expiresAt: '2026-11-26T10:00:00.000Z',
  },
};
const given = (...events: Parameters<typeof evolve>[1][]) =>
  events.reduce<ChangeRequestState>(evolve, { status: 'absent' });
const approve = (approver: string, now = '2026-11-25T12:00:00.000Z', roles = ['approver']) =>
  ({ type: 'Decide', id: 'cr-1', decision: 'approve', approver, roles, now }) as const;
const codeOf = (run: () => unknown) => {
  try {
    run();
  } catch (error) {
    return (error as DomainError).code;
  }
  return 'none';
};

describe('change request decider', () => {
  it('records an approval and reaches the quorum at the required count', () => {
    const first = decide(approve('ann'), given(opened));
    expect(first[0]).toMatchObject({ type: 'ChangeRequestApproved', data: { approver: 'ann' } });
    const one = given(opened, ...first);
    expect(quorumReached(one)).toBe(false);
    expect(quorumReached(given(opened, ...first, ...decide(approve('bob'), one)))).toBe(true);
  });

  it('refuses self-approval, a second approval by the same approver, a missing role and an expired request', () => {
    expect(codeOf(() => decide(approve('rae'), given(opened)))).toBe('SELF_APPROVAL');
    const once = given(opened, ...decide(approve('ann'), given(opened)));
    expect(codeOf(() => decide(approve('ann'), once))).toBe('ALREADY_APPROVED');
    expect(codeOf(() => decide(approve('carl', undefined, ['reader']), given(opened)))).toBe('FORBIDDEN');
    expect(codeOf(() => decide(approve('ann', '2026-11-26T10:00:00.000Z'), given(opened)))).toBe(
      'CHANGE_REQUEST_EXPIRED',
    );
  });

  it('takes no decision on a closed request', () => {
    const rejected = given(opened, ...decide({ ...approve('ann'), decision: 'reject' }, given(opened)));
    expect(rejected.status).toBe('rejected');
    expect(codeOf(() => decide(approve('bob'), rejected))).toBe('CHANGE_REQUEST_CLOSED');
  });
});

describe('approval policy key patterns', () => {
  it('match a whole subtree, an exact key, or everything', () => {
    expect(keyMatches('risk.*', 'risk.limits.max')).toBe(true);
    expect(keyMatches('risk.*', 'risk')).toBe(true);
    expect(keyMatches('risk.*', 'riskier')).toBe(false);
    expect(keyMatches('venue', 'venue')).toBe(true);
    expect(keyMatches('venue', 'venue.primary')).toBe(false);
    expect(keyMatches('*', 'anything.at.all')).toBe(true);
  });
});
