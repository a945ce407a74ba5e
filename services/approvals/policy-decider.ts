import { canonicalJson } from '#infra/json/canonical.ts';
import type { ApprovalPolicy, ApprovalPolicyEvent } from '#events/approvals.ts';
import type { Decider } from '#services/shared/command-handler.ts';
import { policyNotFound } from './errors.ts';

export type PolicyState = { status: 'absent' | 'removed' } | { status: 'active'; policy: ApprovalPolicy };
export type PolicyCommand = { type: 'DefinePolicy'; policy: ApprovalPolicy } | { type: 'RemovePolicy'; id: string };

export function decide(command: PolicyCommand, state: PolicyState): ApprovalPolicyEvent[] {
  if (command.type === 'DefinePolicy') {
    // Compared as data: a policy read back from the store has its keys in another order.
    if (state.status === 'active' && canonicalJson(state.policy) === canonicalJson(command.policy)) return [];
    return [{ type: 'ApprovalPolicyDefined', data: command.policy }];
  }
  if (state.status !== 'active') throw policyNotFound(command.id);
  return [{ type: 'ApprovalPolicyRemoved', data: { id: command.id } }];
}

export function evolve(_state: PolicyState, event: ApprovalPolicyEvent): PolicyState {
  switch (event.type) {
    case 'ApprovalPolicyDefined':
      return { status: 'active', policy: event.data };
    case 'ApprovalPolicyRemoved':
      return { status: 'removed' };
    default: {
      const unknownEvent: never = event;
      throw new Error(`unknown event ${JSON.stringify(unknownEvent)}`);
    }
  }
}

export const policyDecider: Decider<PolicyCommand, PolicyState, ApprovalPolicyEvent> = {
  decide,
  evolve,
  initialState: { status: 'absent' },
  stateInLastEvent: true,
};
