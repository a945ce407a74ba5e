import { DomainError } from '#events/errors.ts';

export const versionConflict = (currentVersion: number, expectedVersion: number) =>
  new DomainError(
    'VERSION_CONFLICT',
    409,
    `expected version ${expectedVersion} but the current version is ${currentVersion}`,
    {
      currentVersion,
      expectedVersion,
    },
  );

export const configurationNotFound = (serviceId: string, environment: string) =>
  new DomainError('CONFIGURATION_NOT_FOUND', 404, `no configuration for ${serviceId} in ${environment}`, {
    serviceId,
    environment,
  });

export const configurationExists = (serviceId: string, environment: string, currentVersion: number) =>
  new DomainError('CONFIGURATION_EXISTS', 409, `a configuration for ${serviceId} in ${environment} already exists`, {
    serviceId,
    environment,
    currentVersion,
  });

export const keyNotFound = (key: string) => new DomainError('KEY_NOT_FOUND', 404, `key ${key} does not exist`, { key });

export const versionNotFound = (version: number) =>
  new DomainError('VERSION_NOT_FOUND', 404, `version ${version} does not exist`, { version });

export const rollbackToCurrentVersion = (version: number) =>
  new DomainError(
    'ROLLBACK_TO_CURRENT_VERSION',
    409,
    `version ${version} is the current version: there is nothing to roll back`,
    { version },
  );

/** A point in time before the configuration existed in that environment. */
export const noConfigurationAtThatTime = (serviceId: string, environment: string, when: string) =>
  new DomainError(
    'NO_CONFIGURATION_AT_THAT_TIME',
    404,
    `${serviceId} had no configuration in ${environment} at ${when}`,
    {
      serviceId,
      environment,
    },
  );

/** One operation of a batch failed: the batch is refused whole, with the operation's own code and status. */
export const batchOperationFailed = (operationId: string, cause: DomainError) =>
  new DomainError(
    cause.code,
    cause.statusCode,
    `batch operation ${operationId} failed, nothing was applied: ${cause.message}`,
    {
      ...cause.details,
      operationId,
    },
  );

/** An export whose effective document was edited: import writes each environment's own layer, so the edit would be lost. */
export const exportEdited = (environment: string) =>
  new DomainError(
    'EXPORT_EDITED',
    400,
    `environments.${environment}.configuration was edited (its checksum no longer matches), but import writes each environment's own layer: edit environments.${environment}.own.configuration instead`,
    { environment },
  );
