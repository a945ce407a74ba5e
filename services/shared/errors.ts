import { DomainError, type ValidationIssue } from '#events/errors.ts';

export const VersionConflict = (currentVersion: number, expectedVersion: number) =>
  new DomainError(
    'VERSION_CONFLICT',
    409,
    `expected version ${expectedVersion} but the current version is ${currentVersion}`,
    {
      currentVersion,
      expectedVersion,
    },
  );

export const ValidationFailed = (errors: ValidationIssue[], message = 'the configuration does not match the schema') =>
  new DomainError('VALIDATION_ERROR', 400, message, { errors });

export const InheritedValidationFailed = (
  issues: { environment: string; serviceId?: string; path: string; message: string }[],
) => {
  const environments = [...new Set(issues.map((issue) => issue.environment))].map((environment) => ({
    environment,
    errors: issues
      .filter((issue) => issue.environment === environment)
      .map(({ environment: _environment, ...error }) => error),
  }));
  return new DomainError(
    'INHERITED_VALIDATION_FAILED',
    400,
    `the change would make the effective configuration of ${environments.map((entry) => entry.environment).join(', ')} fail the schema; nothing was written (an admin may force it with ?force=true and a changeReason)`,
    { environments },
  );
};

export const ConfigurationNotFound = (serviceId: string, environment: string) =>
  new DomainError('CONFIGURATION_NOT_FOUND', 404, `no configuration for ${serviceId} in ${environment}`, {
    serviceId,
    environment,
  });

export const ConfigurationExists = (serviceId: string, environment: string, currentVersion: number) =>
  new DomainError('CONFIGURATION_EXISTS', 409, `a configuration for ${serviceId} in ${environment} already exists`, {
    serviceId,
    environment,
    currentVersion,
  });

export const KeyNotFound = (key: string) => new DomainError('KEY_NOT_FOUND', 404, `key ${key} does not exist`, { key });

export const VersionNotFound = (version: number) =>
  new DomainError('VERSION_NOT_FOUND', 404, `version ${version} does not exist`, { version });

export const RollbackToCurrentVersion = (version: number) =>
  new DomainError(
    'ROLLBACK_TO_CURRENT_VERSION',
    409,
    `version ${version} is the current version: there is nothing to roll back`,
    { version },
  );

export const EnvironmentNotFound = (environment: string) =>
  new DomainError('ENVIRONMENT_NOT_FOUND', 404, `environment ${environment} is not defined`, { environment });

export const SchemaNotFound = (serviceId: string) =>
  new DomainError('SCHEMA_NOT_FOUND', 404, `no schema registered for ${serviceId}`, { serviceId });
