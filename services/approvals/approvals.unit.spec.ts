import { describe, expect, it } from 'vitest';
import type { ChangeRequestEvent, ChangeRequestOpened } from '#events/approvals.ts';
import { deciderSpec } from '#services/shared/decider-harness.ts';
import { changeRequestDecider, quorumReached } from './change-request-decider.ts';
import { keyMatches } from '#projections/approvals/policies.ts';

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
const given = deciderSpec(changeRequestDecider);
const approve = (approver: string, now = '2026-11-25T12:00:00.000Z', roles = ['approver']) =>
  ({ type: 'Decide', id: 'cr-1', decision: 'approve', approver, roles, now }) as const;
const approvedBy = (approver: string): ChangeRequestEvent => ({
  type: 'ChangeRequestApproved',
  data: { id: 'cr-1', approver, at: '2026-11-25T12:00:00.000Z' },
});
const rejectedBy = (approver: string): ChangeRequestEvent => ({
  type: 'ChangeRequestRejected',
  data: { id: 'cr-1', approver, at: '2026-11-25T12:00:00.000Z' },
});

describe('change request decider', () => {
  it('records an approval and reaches the quorum at the required count', () => {
    const approvedOnce = given(opened)
      .when(approve('ann'))
      .then([approvedBy('ann')]);
    expect(quorumReached(approvedOnce)).toBe(false);
    const approvedTwice = given(opened, approvedBy('ann'))
      .when(approve('bob'))
      .then([approvedBy('bob')]);
    expect(quorumReached(approvedTwice)).toBe(true);
  });

  it('refuses self-approval, a second approval by the same approver, a missing role and an expired request', () => {
    given(opened).when(approve('rae')).thenThrows('SELF_APPROVAL');
    given(opened, approvedBy('ann')).when(approve('ann')).thenThrows('ALREADY_APPROVED');
    given(opened)
      .when(approve('carl', undefined, ['reader']))
      .thenThrows('FORBIDDEN');
    given(opened).when(approve('ann', '2026-11-26T10:00:00.000Z')).thenThrows('CHANGE_REQUEST_EXPIRED');
  });

  it('records an outcome only once, and only for a request that reached its quorum', () => {
    const outcome = {
      type: 'RecordOutcome',
      id: 'cr-1',
      outcome: { applied: true, version: 4, position: 40 },
      now: '2026-11-25T13:00:00.000Z',
    } as const;
    const applied: ChangeRequestEvent = {
      type: 'ChangeRequestApplied',
      data: { id: 'cr-1', version: 4, position: 40, at: '2026-11-25T13:00:00.000Z' },
    };
    given(opened, approvedBy('ann'), approvedBy('bob')).when(outcome).then([applied]);
    given(opened, approvedBy('ann')).when(outcome).thenThrows('CHANGE_REQUEST_NOT_APPROVED');
    given(opened, approvedBy('ann'), approvedBy('bob'), applied).when(outcome).thenThrows('CHANGE_REQUEST_CLOSED');
    given().when(outcome).thenThrows('CHANGE_REQUEST_NOT_FOUND');
  });

  it('takes no decision on a closed request', () => {
    const rejected = given(opened)
      .when({ ...approve('ann'), decision: 'reject' })
      .then([rejectedBy('ann')]);
    expect(rejected.status).toBe('rejected');
    given(opened, rejectedBy('ann')).when(approve('bob')).thenThrows('CHANGE_REQUEST_CLOSED');
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
