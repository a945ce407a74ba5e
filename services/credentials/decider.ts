import type { CredentialDescription, CredentialEvent, SealedSecret } from '#events/credentials.ts';
import type { Decider } from '#services/shared/command-handler.ts';
import { credentialChangedConcurrently, credentialExists, credentialNotFound } from './errors.ts';

export interface SecretVersion {
  secret: SealedSecret;
  since: string;
}

export type CredentialState =
  | { status: 'absent' }
  | { status: 'deleted'; key: string; versions: number; serviceId?: string }
  | {
      status: 'active';
      description: CredentialDescription;
      current: SecretVersion;
      /** The version before the last rotation, readable until `graceUntil`. */
      previous?: SecretVersion & { graceUntil?: string };
      nextRotationAt?: string;
      storedAt: string;
    };

export type CredentialCommand =
  | { type: 'StoreCredential'; description: CredentialDescription; secret: SealedSecret; now: string }
  | {
      type: 'RotateCredential';
      key: string;
      rotationId: string;
      secret: SealedSecret;
      graceSeconds: number;
      generated: boolean;
      now: string;
    }
  | { type: 'DeleteCredential'; key: string; now: string };

/** The service a credential belongs, or belonged, to. */
export const serviceOfCredential = (state: CredentialState): string | undefined =>
  state.status === 'active' ? state.description.serviceId : state.status === 'deleted' ? state.serviceId : undefined;

const DAY_MS = 86_400_000;

/** Days between rotations: the credential's own policy, else the default of its sensitivity. */
export function rotationIntervalDays(description: CredentialDescription): number | undefined {
  if (description.rotationIntervalDays !== undefined) return description.rotationIntervalDays;
  return { top_secret: 30, restricted: 60, confidential: 90, internal: undefined, public: undefined }[
    description.sensitivity
  ];
}

const plusDays = (at: string, days: number | undefined) =>
  days === undefined ? undefined : new Date(Date.parse(at) + days * DAY_MS).toISOString();
const versionOf = (state: CredentialState) =>
  state.status === 'active' ? state.current.secret.version : state.status === 'deleted' ? state.versions : 0;

export function decide(command: CredentialCommand, state: CredentialState): CredentialEvent[] {
  switch (command.type) {
    case 'StoreCredential': {
      if (state.status === 'active') throw credentialExists(command.description.key);
      expectVersion(command.secret, versionOf(state) + 1);
      const nextRotationAt = plusDays(command.now, rotationIntervalDays(command.description));
      return [
        {
          type: 'CredentialStored',
          data: {
            ...command.description,
            secret: command.secret,
            storedAt: command.now,
            ...(nextRotationAt ? { nextRotationAt } : {}),
          },
        },
      ];
    }
    case 'RotateCredential': {
      if (state.status !== 'active') throw credentialNotFound(command.key);
      expectVersion(command.secret, state.current.secret.version + 1);
      const graceUntil =
        command.graceSeconds > 0
          ? new Date(Date.parse(command.now) + command.graceSeconds * 1000).toISOString()
          : undefined;
      const nextRotationAt = plusDays(command.now, rotationIntervalDays(state.description));
      return [
        {
          type: 'CredentialRotated',
          data: {
            key: command.key,
            serviceId: state.description.serviceId,
            environment: state.description.environment,
            rotationId: command.rotationId,
            secret: command.secret,
            previousVersion: state.current.secret.version,
            rotatedAt: command.now,
            generated: command.generated,
            ...(graceUntil ? { graceUntil } : {}),
            ...(nextRotationAt ? { nextRotationAt } : {}),
          },
        },
      ];
    }
    case 'DeleteCredential':
      if (state.status !== 'active') throw credentialNotFound(command.key);
      return [
        {
          type: 'CredentialDeleted',
          data: { key: command.key, deletedAt: command.now, versions: state.current.secret.version },
        },
      ];
    default: {
      const unknownCommand: never = command;
      throw new Error(`unknown command ${JSON.stringify(unknownCommand)}`);
    }
  }
}

/** The value was sealed for a version; if the credential moved on meanwhile, the caller seals again. */
function expectVersion(secret: SealedSecret, expected: number): void {
  if (secret.version !== expected) throw credentialChangedConcurrently(expected - 1);
}

export function evolve(state: CredentialState, event: CredentialEvent): CredentialState {
  switch (event.type) {
    case 'CredentialStored': {
      const { secret, storedAt, nextRotationAt, ...description } = event.data;
      return {
        status: 'active',
        description,
        current: { secret, since: storedAt },
        storedAt,
        ...(nextRotationAt ? { nextRotationAt } : {}),
      };
    }
    case 'CredentialRotated': {
      if (state.status !== 'active') return state;
      const { secret, rotatedAt, graceUntil, nextRotationAt } = event.data;
      return {
        ...state,
        current: { secret, since: rotatedAt },
        previous: { ...state.current, ...(graceUntil ? { graceUntil } : {}) },
        ...(nextRotationAt ? { nextRotationAt } : {}),
      };
    }
    case 'CredentialDeleted':
      return {
        status: 'deleted',
        key: event.data.key,
        versions: event.data.versions,
        ...(state.status === 'active' ? { serviceId: state.description.serviceId } : {}),
      };
    default: {
      const unknownEvent: never = event;
      throw new Error(`unknown event ${JSON.stringify(unknownEvent)}`);
    }
  }
}

export const credentialDecider: Decider<CredentialCommand, CredentialState, CredentialEvent> = {
  decide,
  evolve,
  initialState: { status: 'absent' },
};
