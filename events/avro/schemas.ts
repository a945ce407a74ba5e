import type { DomainEventType } from '#events/index.ts';

/**
 * Avro schemas of the events published to `configledger.events.v1`, one per
 * event type and data-shape version (the `schemaVersion` header). Arbitrary
 * JSON (configuration documents, changed values, JSON Schemas) travels as JSON
 * text in string fields. A shipped schema never changes: a new shape is a new
 * version here plus an upcaster in codec.ts.
 */
const optional = (type: string) => ({ type: ['null', type], default: null });

const metadata = {
  type: 'record',
  name: 'EventMetadata',
  namespace: 'configledger',
  fields: [
    { name: 'actor', type: 'string' },
    { name: 'correlationId', type: 'string' },
    { name: 'causationId', ...optional('string') },
    { name: 'reason', ...optional('string') },
    { name: 'sourceIp', ...optional('string') },
    { name: 'schemaVersion', type: 'int' },
    { name: 'occurredAt', type: 'string' },
  ],
};

const envelope = (name: string, data: object) => ({
  type: 'record',
  name,
  namespace: 'configledger.events',
  fields: [
    { name: 'eventId', type: 'string' },
    { name: 'eventType', type: 'string' },
    { name: 'streamName', type: 'string' },
    { name: 'revision', type: 'long' },
    { name: 'position', type: 'long' },
    { name: 'recordedAt', type: 'string' },
    { name: 'metadata', type: metadata },
    { name: 'data', type: data },
  ],
});

const configurationChange = (name: string, extraFields: object[] = []) => ({
  type: 'record',
  name,
  namespace: 'configledger.data',
  fields: [
    { name: 'serviceId', type: 'string' },
    { name: 'environment', type: 'string' },
    { name: 'version', type: 'int' },
    { name: 'configurationJson', type: 'string' },
    { name: 'checksum', type: 'string' },
    { name: 'changedKeys', type: { type: 'array', items: 'string' } },
    {
      name: 'changes',
      type: {
        type: 'array',
        items: {
          type: 'record',
          name: `${name}ValueChange`,
          fields: [
            { name: 'path', type: 'string' },
            { name: 'oldValueJson', ...optional('string') },
            { name: 'newValueJson', ...optional('string') },
          ],
        },
      },
    },
    { name: 'operation', type: 'string' },
    { name: 'changeReason', ...optional('string') },
    { name: 'validatedAgainstSchema', ...optional('int') },
    { name: 'restoredVersion', ...optional('int') },
    { name: 'approvalJson', ...optional('string') },
    ...extraFields,
  ],
});
/** Version 2: `forced`, as JSON text, when an admin forced a change past its inheriting environments' schema. */
const FORCED = [{ name: 'forcedJson', ...optional('string') }];

const environmentDefinition = (name: string, extraFields: object[] = []) => ({
  type: 'record',
  name,
  namespace: 'configledger.data',
  fields: [
    { name: 'id', type: 'string' },
    { name: 'name', type: 'string' },
    { name: 'type', type: 'string' },
    { name: 'inheritsFrom', type: { type: 'array', items: 'string' } },
    { name: 'description', ...optional('string') },
    ...extraFields,
  ],
});

/** Credential and vault events: their data (ciphertext and wrapped keys only) as JSON text. */
const jsonData = (name: string) => ({
  type: 'record',
  name,
  namespace: 'configledger.data',
  fields: [{ name: 'dataJson', type: 'string' }],
});

// Checked by avsc when first used (Type.forSchema), so plain objects suffice here.
export const AVRO_SCHEMAS: Record<DomainEventType, Record<number, object>> = {
  ConfigurationCreated: {
    1: envelope('ConfigurationCreatedV1', configurationChange('ConfigurationCreatedDataV1')),
    2: envelope('ConfigurationCreatedV2', configurationChange('ConfigurationCreatedDataV2', FORCED)),
  },
  ConfigurationUpdated: {
    1: envelope('ConfigurationUpdatedV1', configurationChange('ConfigurationUpdatedDataV1')),
    2: envelope('ConfigurationUpdatedV2', configurationChange('ConfigurationUpdatedDataV2', FORCED)),
  },
  ConfigurationRolledBack: {
    1: envelope('ConfigurationRolledBackV1', configurationChange('ConfigurationRolledBackDataV1')),
    2: envelope('ConfigurationRolledBackV2', configurationChange('ConfigurationRolledBackDataV2', FORCED)),
  },
  SchemaRegistered: {
    1: envelope('SchemaRegisteredV1', {
      type: 'record',
      name: 'SchemaRegisteredDataV1',
      namespace: 'configledger.data',
      fields: [
        { name: 'serviceId', type: 'string' },
        { name: 'version', type: 'int' },
        { name: 'schemaJson', type: 'string' },
        { name: 'draft', type: 'string' },
        { name: 'checksum', type: 'string' },
      ],
    }),
  },
  EnvironmentDefined: { 1: envelope('EnvironmentDefinedV1', environmentDefinition('EnvironmentDefinedDataV1')) },
  EnvironmentUpdated: {
    1: envelope('EnvironmentUpdatedV1', environmentDefinition('EnvironmentUpdatedDataV1')),
    // The effective configurations it changed, as JSON text: [{serviceId, environment, changedKeys}].
    2: envelope(
      'EnvironmentUpdatedV2',
      environmentDefinition('EnvironmentUpdatedDataV2', [{ name: 'impactJson', ...optional('string') }, ...FORCED]),
    ),
  },
  EnvironmentRemoved: { 1: envelope('EnvironmentRemovedV1', jsonData('EnvironmentRemovedDataV1')) },
  CredentialStored: { 1: envelope('CredentialStoredV1', jsonData('CredentialStoredDataV1')) },
  CredentialRotated: { 1: envelope('CredentialRotatedV1', jsonData('CredentialRotatedDataV1')) },
  CredentialDeleted: { 1: envelope('CredentialDeletedV1', jsonData('CredentialDeletedDataV1')) },
  CredentialAccessed: { 1: envelope('CredentialAccessedV1', jsonData('CredentialAccessedDataV1')) },
  KeyEncryptionKeyRotated: { 1: envelope('KeyEncryptionKeyRotatedV1', jsonData('KeyEncryptionKeyRotatedDataV1')) },
  ServiceTokenIssued: { 1: envelope('ServiceTokenIssuedV1', jsonData('ServiceTokenIssuedDataV1')) },
  ServiceTokenRevoked: { 1: envelope('ServiceTokenRevokedV1', jsonData('ServiceTokenRevokedDataV1')) },
  AuthenticationLockedOut: { 1: envelope('AuthenticationLockedOutV1', jsonData('AuthenticationLockedOutDataV1')) },
  LockoutLifted: { 1: envelope('LockoutLiftedV1', jsonData('LockoutLiftedDataV1')) },
  TokenRevoked: { 1: envelope('TokenRevokedV1', jsonData('TokenRevokedDataV1')) },
  ApprovalPolicyDefined: { 1: envelope('ApprovalPolicyDefinedV1', jsonData('ApprovalPolicyDefinedDataV1')) },
  ApprovalPolicyRemoved: { 1: envelope('ApprovalPolicyRemovedV1', jsonData('ApprovalPolicyRemovedDataV1')) },
  ChangeRequestOpened: { 1: envelope('ChangeRequestOpenedV1', jsonData('ChangeRequestOpenedDataV1')) },
  ChangeRequestApproved: { 1: envelope('ChangeRequestApprovedV1', jsonData('ChangeRequestApprovedDataV1')) },
  ChangeRequestRejected: { 1: envelope('ChangeRequestRejectedV1', jsonData('ChangeRequestRejectedDataV1')) },
  ChangeRequestApplied: { 1: envelope('ChangeRequestAppliedV1', jsonData('ChangeRequestAppliedDataV1')) },
  ChangeRequestFailed: { 1: envelope('ChangeRequestFailedV1', jsonData('ChangeRequestFailedDataV1')) },
  LogRestored: { 1: envelope('LogRestoredV1', jsonData('LogRestoredDataV1')) },
};
