import { describe, it } from 'vitest';
import type { ApprovalPolicy, ApprovalPolicyEvent } from '#events/approvals.ts';
import { deciderSpec } from '#services/shared/decider-harness.ts';
import { policyDecider } from './policy-decider.ts';

const given = deciderSpec(policyDecider);

const policy: ApprovalPolicy = {
  id: 'prod-risk',
  environments: ['production'],
  keyPatterns: ['risk.*'],
  requiredApprovals: 2,
  approverRole: 'approver',
  expiresAfterHours: 24,
};
const defined = (defining = policy): ApprovalPolicyEvent => ({ type: 'ApprovalPolicyDefined', data: defining });
const removed: ApprovalPolicyEvent = { type: 'ApprovalPolicyRemoved', data: { id: 'prod-risk' } };
const define = (defining = policy) => ({ type: 'DefinePolicy', policy: defining }) as const;
const remove = { type: 'RemovePolicy', id: 'prod-risk' } as const;

describe('approval policy decider', () => {
  it('defines a new policy', () => {
    given().when(define()).then([defined()]);
  });

  it('records a redefinition that changes the policy', () => {
    const stricter = { ...policy, requiredApprovals: 3, credentialSensitivity: 'restricted' as const };
    given(defined())
      .when(define(stricter))
      .then([defined(stricter)]);
  });

  it('emits nothing when a policy is defined again as it is', () => {
    given(defined())
      .when(define({ ...policy }))
      .then([]);
  });

  it('emits nothing for the same policy read back from the store, its keys in another order', () => {
    const reordered = Object.fromEntries(Object.entries(policy).reverse()) as ApprovalPolicy;
    given(defined(reordered)).when(define()).then([]);
  });

  it('defines a removed policy again', () => {
    given(defined(), removed).when(define()).then([defined()]);
  });

  it('removes a policy in force', () => {
    given(defined()).when(remove).then([removed]);
  });

  it('refuses to remove a policy that was never defined or is already removed with POLICY_NOT_FOUND', () => {
    given().when(remove).thenThrows('POLICY_NOT_FOUND');
    given(defined(), removed).when(remove).thenThrows('POLICY_NOT_FOUND');
  });
});
