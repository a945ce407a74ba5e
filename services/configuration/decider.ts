import type {
  ConfigurationChange,
  ConfigurationEvent,
  ConfigurationOperation,
  InheritedIssue,
} from '#events/configuration.ts';
import type { JsonObject, JsonValue } from '#events/metadata.ts';
import { checksumOf } from '#infra/json/canonical.ts';
import type { Decider } from '#services/shared/command-handler.ts';
import { inheritedValidationFailed, validationFailed } from '#services/shared/errors.ts';
import {
  batchOperationFailed,
  configurationExists,
  configurationNotFound,
  keyNotFound,
  rollbackToCurrentVersion,
  versionConflict,
  versionNotFound,
} from './errors.ts';
import { DomainError } from '#events/errors.ts';
import type { Validator } from '#services/schemas/validator.ts';
import type { ValidationIssue } from '#events/errors.ts';
import { assertDepth } from '#events/documents.ts';
import { applyMergePatch, deletePath, diffDocuments, isObject, setPath } from '#events/paths.ts';

export type ConfigurationState =
  | { status: 'absent' }
  | {
      status: 'active';
      serviceId: string;
      environment: string;
      version: number;
      configuration: JsonObject;
      checksum: string;
    };

export interface BatchOperation {
  id: string;
  type: 'SET' | 'DELETE';
  key: string;
  value?: JsonValue;
}

/**
 * Judges the environment's resulting own layer by what services will read:
 * the schema's errors in its effective configuration, and in the effective
 * configuration of every environment inheriting from it.
 */
export type DocumentJudge = (own: JsonObject) => { errors: ValidationIssue[]; inherited: InheritedIssue[] };

/** A judge that validates the document alone (an environment nobody inherits from, without parents). */
export const judgeWith =
  (validate: Validator): DocumentJudge =>
  (own) => ({ errors: validate(own), inherited: [] });

interface CommandBase {
  serviceId: string;
  environment: string;
  changeReason?: string;
  expectedVersion?: number;
  judge: DocumentJudge;
  schemaVersion?: number;
  approval?: { changeRequestId: string; approvedBy: string[] };
  /** An admin's decision, with a reason, to apply the change although inheriting environments would fail their schema. */
  force?: boolean;
}

export type ConfigurationCommand = CommandBase &
  (
    | { type: 'Create'; configuration: JsonObject }
    | { type: 'Replace'; configuration: JsonObject }
    | { type: 'Patch'; patch: JsonObject }
    | { type: 'SetKey'; key: string; value: JsonValue }
    | { type: 'DeleteKey'; key: string }
    | { type: 'Batch'; operations: BatchOperation[] }
    | { type: 'Rollback'; targetVersion: number; targetConfiguration: JsonObject | undefined }
  );

export const initialState: ConfigurationState = { status: 'absent' };

export function decide(command: ConfigurationCommand, state: ConfigurationState): ConfigurationEvent[] {
  if (command.type === 'Create' && state.status === 'active')
    throw configurationExists(command.serviceId, command.environment, state.version);
  if (state.status === 'absent' && command.type !== 'Create' && command.type !== 'Replace') {
    throw configurationNotFound(command.serviceId, command.environment);
  }
  const currentVersion = state.status === 'active' ? state.version : 0;
  if (command.expectedVersion !== undefined && command.expectedVersion !== currentVersion) {
    throw versionConflict(currentVersion, command.expectedVersion);
  }
  const before = state.status === 'active' ? state.configuration : {};
  const after = nextDocument(command, before, currentVersion);
  // Before anything recursive (validation, diff, checksum) looks at it.
  assertDepth(after);

  const { errors, inherited } = command.judge(after);
  if (errors.length > 0) throw validationFailed(errors);
  if (inherited.length > 0 && !command.force) throw inheritedValidationFailed(inherited);

  const changes = diffDocuments(before, after);
  if (state.status === 'active' && changes.length === 0 && command.type !== 'Rollback') return [];

  const change: ConfigurationChange = {
    serviceId: command.serviceId,
    environment: command.environment,
    version: currentVersion + 1,
    configuration: after,
    checksum: checksumOf(after),
    changedKeys: changes.map((c) => c.path),
    changes,
    operation: operationOf(command, state),
    ...(command.changeReason ? { changeReason: command.changeReason } : {}),
    ...(command.schemaVersion !== undefined ? { validatedAgainstSchema: command.schemaVersion } : {}),
    ...(command.approval ? { approval: command.approval } : {}),
    ...(inherited.length > 0 ? { forced: { inheritedErrors: inherited } } : {}),
  };
  if (state.status === 'absent') return [{ type: 'ConfigurationCreated', data: change }];
  if (command.type === 'Rollback')
    return [{ type: 'ConfigurationRolledBack', data: { ...change, restoredVersion: command.targetVersion } }];
  return [{ type: 'ConfigurationUpdated', data: change }];
}

/** What a command makes of a document at a version (pure): the document it would write. */
export const proposedDocument = (command: ConfigurationCommand, before: JsonObject, version: number): JsonObject =>
  nextDocument(command, before, version);

function nextDocument(command: ConfigurationCommand, before: JsonObject, currentVersion: number): JsonObject {
  switch (command.type) {
    case 'Create':
    case 'Replace':
      return command.configuration;
    case 'Patch': {
      const patched = applyMergePatch(before, command.patch);
      if (!isObject(patched)) throw validationFailed([], 'a merge patch must leave an object');
      return patched;
    }
    case 'SetKey':
      return setPath(before, command.key, command.value);
    case 'DeleteKey': {
      const without = deletePath(before, command.key);
      if (!without) throw keyNotFound(command.key);
      return without;
    }
    case 'Batch':
      return applyBatch(before, command.operations);
    case 'Rollback':
      if (command.targetVersion === currentVersion) throw rollbackToCurrentVersion(currentVersion);
      if (command.targetVersion < 1 || command.targetVersion > currentVersion || !command.targetConfiguration) {
        throw versionNotFound(command.targetVersion);
      }
      return command.targetConfiguration;
    default: {
      const unknownCommand: never = command;
      throw new Error(`unknown command ${JSON.stringify(unknownCommand)}`);
    }
  }
}

function applyBatch(before: JsonObject, operations: BatchOperation[]): JsonObject {
  let document = before;
  for (const operation of operations) {
    try {
      if (operation.type === 'SET') {
        if (operation.value === undefined) throw validationFailed([], `operation ${operation.id}: SET needs a value`);
        document = setPath(document, operation.key, operation.value);
      } else {
        const without = deletePath(document, operation.key);
        if (!without) throw keyNotFound(operation.key);
        document = without;
      }
    } catch (error) {
      throw error instanceof DomainError ? batchOperationFailed(operation.id, error) : error;
    }
  }
  return document;
}

function operationOf(command: ConfigurationCommand, state: ConfigurationState): ConfigurationOperation {
  if (state.status === 'absent') return 'create';
  const operations: Record<ConfigurationCommand['type'], ConfigurationOperation> = {
    Create: 'create',
    Replace: 'replace',
    Patch: 'patch',
    SetKey: 'set',
    DeleteKey: 'delete',
    Batch: 'batch',
    Rollback: 'rollback',
  };
  return operations[command.type];
}

export function evolve(_state: ConfigurationState, event: ConfigurationEvent): ConfigurationState {
  switch (event.type) {
    case 'ConfigurationCreated':
    case 'ConfigurationUpdated':
    case 'ConfigurationRolledBack': {
      const { serviceId, environment, version, configuration, checksum } = event.data;
      return { status: 'active', serviceId, environment, version, configuration, checksum };
    }
    default: {
      const unknownEvent: never = event;
      throw new Error(`unknown event ${JSON.stringify(unknownEvent)}`);
    }
  }
}

export const configurationDecider: Decider<ConfigurationCommand, ConfigurationState, ConfigurationEvent> = {
  decide,
  evolve,
  initialState,
  stateInLastEvent: true,
};
