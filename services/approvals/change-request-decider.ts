import type { ChangeRequestEvent, ChangeRequestOpened } from '#events/approvals.ts';
import type { Decider } from '#services/shared/command-handler.ts';
import {
  alreadyApproved,
  approverRoleRequired,
  changeRequestClosed,
  changeRequestExists,
  changeRequestExpired,
  changeRequestNotApproved,
  changeRequestNotFound,
  selfApproval,
} from './errors.ts';

export interface Decision {
  approver: string;
  comment?: string;
  at: string;
}

export type ChangeRequestState =
  | { status: 'absent' }
  | {
      status: 'pending' | 'rejected' | 'applied' | 'failed';
      request: ChangeRequestOpened['data'];
      approvals: Decision[];
      rejection?: Decision;
      outcome?: { version?: number; position?: number; code?: string; message?: string };
    };

export type ChangeRequestCommand =
  | { type: 'OpenChangeRequest'; request: ChangeRequestOpened['data'] }
  | {
      type: 'Decide';
      id: string;
      decision: 'approve' | 'reject';
      approver: string;
      roles: string[];
      comment?: string;
      now: string;
    }
  | {
      type: 'RecordOutcome';
      id: string;
      outcome: { applied: true; version: number; position: number } | { applied: false; code: string; message: string };
      now: string;
    };

export function decide(command: ChangeRequestCommand, state: ChangeRequestState): ChangeRequestEvent[] {
  switch (command.type) {
    case 'OpenChangeRequest':
      if (state.status !== 'absent') throw changeRequestExists(command.request.id);
      return [{ type: 'ChangeRequestOpened', data: command.request }];
    case 'Decide': {
      if (state.status === 'absent') throw changeRequestNotFound(command.id);
      if (state.status !== 'pending') throw changeRequestClosed(command.id, state.status);
      if (Date.parse(command.now) >= Date.parse(state.request.expiresAt))
        throw changeRequestExpired(command.id, state.request.expiresAt);
      if (command.approver === state.request.requestedBy) throw selfApproval();
      if (!command.roles.includes(state.request.approverRole) && !command.roles.includes('admin'))
        throw approverRoleRequired(state.request.approverRole);
      if (state.approvals.some((approval) => approval.approver === command.approver))
        throw alreadyApproved(command.approver, command.id);
      const data = {
        id: command.id,
        approver: command.approver,
        at: command.now,
        ...(command.comment ? { comment: command.comment } : {}),
      };
      return [
        command.decision === 'approve'
          ? { type: 'ChangeRequestApproved', data }
          : { type: 'ChangeRequestRejected', data },
      ];
    }
    case 'RecordOutcome':
      if (state.status === 'absent') throw changeRequestNotFound(command.id);
      if (state.status !== 'pending') throw changeRequestClosed(command.id, state.status);
      if (!quorumReached(state)) throw changeRequestNotApproved(command.id);
      return command.outcome.applied
        ? [
            {
              type: 'ChangeRequestApplied',
              data: {
                id: command.id,
                version: command.outcome.version,
                position: command.outcome.position,
                at: command.now,
              },
            },
          ]
        : [
            {
              type: 'ChangeRequestFailed',
              data: { id: command.id, code: command.outcome.code, message: command.outcome.message, at: command.now },
            },
          ];
    default: {
      const unknownCommand: never = command;
      throw new Error(`unknown command ${JSON.stringify(unknownCommand)}`);
    }
  }
}

export function evolve(state: ChangeRequestState, event: ChangeRequestEvent): ChangeRequestState {
  if (event.type === 'ChangeRequestOpened') return { status: 'pending', request: event.data, approvals: [] };
  if (state.status === 'absent') return state;
  switch (event.type) {
    case 'ChangeRequestApproved':
      return {
        ...state,
        approvals: [
          ...state.approvals,
          {
            approver: event.data.approver,
            at: event.data.at,
            ...(event.data.comment ? { comment: event.data.comment } : {}),
          },
        ],
      };
    case 'ChangeRequestRejected':
      return {
        ...state,
        status: 'rejected',
        rejection: {
          approver: event.data.approver,
          at: event.data.at,
          ...(event.data.comment ? { comment: event.data.comment } : {}),
        },
      };
    case 'ChangeRequestApplied':
      return { ...state, status: 'applied', outcome: { version: event.data.version, position: event.data.position } };
    case 'ChangeRequestFailed':
      return { ...state, status: 'failed', outcome: { code: event.data.code, message: event.data.message } };
    default: {
      const unknownEvent: never = event;
      throw new Error(`unknown event ${JSON.stringify(unknownEvent)}`);
    }
  }
}

export const quorumReached = (state: ChangeRequestState) =>
  state.status === 'pending' && state.approvals.length >= state.request.requiredApprovals;

export const changeRequestDecider: Decider<ChangeRequestCommand, ChangeRequestState, ChangeRequestEvent> = {
  decide,
  evolve,
  initialState: { status: 'absent' },
};
