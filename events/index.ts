import type { ConfigurationEvent } from './configuration.ts';
import type { EnvironmentEvent } from './environments.ts';
import type { SchemaEvent } from './schemas.ts';
import type { CredentialAccessed, CredentialEvent, KeyEncryptionKeyRotated } from './credentials.ts';
import type { ServiceTokenEvent } from './service-tokens.ts';
import type { SecurityEvent } from './security.ts';
import type { ApprovalPolicyEvent, ChangeRequestEvent } from './approvals.ts';
import type { LogRestored } from './log.ts';

export type DomainEvent =
  | ConfigurationEvent
  | SchemaEvent
  | EnvironmentEvent
  | CredentialEvent
  | CredentialAccessed
  | KeyEncryptionKeyRotated
  | ServiceTokenEvent
  | SecurityEvent
  | ApprovalPolicyEvent
  | ChangeRequestEvent
  | LogRestored;
export type DomainEventType = DomainEvent['type'];

/** The current data-shape version of each event type; bump it with an upcaster when a shape changes. */
export const EVENT_SCHEMA_VERSIONS: Record<DomainEventType, number> = {
  ConfigurationCreated: 2,
  ConfigurationUpdated: 2,
  ConfigurationRolledBack: 2,
  SchemaRegistered: 1,
  EnvironmentDefined: 1,
  EnvironmentUpdated: 2,
  EnvironmentRemoved: 1,
  CredentialStored: 1,
  CredentialRotated: 1,
  CredentialDeleted: 1,
  CredentialAccessed: 1,
  KeyEncryptionKeyRotated: 1,
  ServiceTokenIssued: 1,
  ServiceTokenRevoked: 1,
  AuthenticationLockedOut: 1,
  LockoutLifted: 1,
  TokenRevoked: 1,
  ApprovalPolicyDefined: 1,
  ApprovalPolicyRemoved: 1,
  ChangeRequestOpened: 1,
  ChangeRequestApproved: 1,
  ChangeRequestRejected: 1,
  ChangeRequestApplied: 1,
  ChangeRequestFailed: 1,
  LogRestored: 1,
};
