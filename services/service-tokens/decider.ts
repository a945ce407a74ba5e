import type { ServiceTokenEvent, ServiceTokenIssued } from '#events/service-tokens.ts';
import type { Decider } from '#services/shared/command-handler.ts';
import { serviceTokenExists, serviceTokenNotFound } from './errors.ts';

export type ServiceTokenState =
  | { status: 'absent' }
  | { status: 'active' | 'revoked'; token: ServiceTokenIssued['data'] };

export type ServiceTokenCommand =
  | { type: 'IssueServiceToken'; token: ServiceTokenIssued['data'] }
  | { type: 'RevokeServiceToken'; id: string; now: string };

export function decide(command: ServiceTokenCommand, state: ServiceTokenState): ServiceTokenEvent[] {
  switch (command.type) {
    case 'IssueServiceToken':
      if (state.status !== 'absent') throw serviceTokenExists(command.token.id);
      return [{ type: 'ServiceTokenIssued', data: command.token }];
    case 'RevokeServiceToken':
      if (state.status === 'absent') throw serviceTokenNotFound(command.id);
      if (state.status === 'revoked') return [];
      return [{ type: 'ServiceTokenRevoked', data: { id: command.id, revokedAt: command.now } }];
    default: {
      const unknownCommand: never = command;
      throw new Error(`unknown command ${JSON.stringify(unknownCommand)}`);
    }
  }
}

export function evolve(state: ServiceTokenState, event: ServiceTokenEvent): ServiceTokenState {
  switch (event.type) {
    case 'ServiceTokenIssued':
      return { status: 'active', token: event.data };
    case 'ServiceTokenRevoked':
      return state.status === 'absent' ? state : { status: 'revoked', token: state.token };
    default: {
      const unknownEvent: never = event;
      throw new Error(`unknown event ${JSON.stringify(unknownEvent)}`);
    }
  }
}

export const serviceTokenDecider: Decider<ServiceTokenCommand, ServiceTokenState, ServiceTokenEvent> = {
  decide,
  evolve,
  initialState: { status: 'absent' },
};
