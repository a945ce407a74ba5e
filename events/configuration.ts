import type { JsonObject, JsonValue } from './metadata.ts';

export const configurationStream = (serviceId: string, environment: string) => `config-${serviceId}-${environment}`;

/** One changed leaf, addressed by its dotted path. `oldValue` absent: added; `newValue` absent: removed. */
export interface ValueChange {
  path: string;
  oldValue?: JsonValue;
  newValue?: JsonValue;
}

export type ConfigurationOperation = 'create' | 'replace' | 'patch' | 'set' | 'delete' | 'batch' | 'rollback';

/** Every configuration event carries the whole document, so any single event is the state at its version. */
export interface ConfigurationChange {
  serviceId: string;
  environment: string;
  version: number;
  configuration: JsonObject;
  /** SHA-256 of the canonical JSON (RFC 8785) of `configuration`. */
  checksum: string;
  changedKeys: string[];
  changes: ValueChange[];
  operation: ConfigurationOperation;
  changeReason?: string;
  /** Version of the service's JSON Schema the document was validated against, if one was registered. */
  validatedAgainstSchema?: number;
  /** Set when the change went through approval: the change request and who approved it. */
  approval?: { changeRequestId: string; approvedBy: string[] };
  /**
   * Version 2: set when an admin forced the change although the effective
   * configuration of environments inheriting from this one fails its schema;
   * what fails, and where.
   */
  forced?: { inheritedErrors: InheritedIssue[] };
}

/** A schema error in the effective configuration of an environment that inherits the changed one. */
export interface InheritedIssue {
  environment: string;
  /** The service, when the change concerns several (an environment's re-parenting). */
  serviceId?: string;
  path: string;
  message: string;
}

export type ConfigurationCreated = { type: 'ConfigurationCreated'; data: ConfigurationChange };
export type ConfigurationUpdated = { type: 'ConfigurationUpdated'; data: ConfigurationChange };
export type ConfigurationRolledBack = {
  type: 'ConfigurationRolledBack';
  data: ConfigurationChange & { restoredVersion: number };
};

export type ConfigurationEvent = ConfigurationCreated | ConfigurationUpdated | ConfigurationRolledBack;

export const CONFIGURATION_EVENT_TYPES = [
  'ConfigurationCreated',
  'ConfigurationUpdated',
  'ConfigurationRolledBack',
] as const;
