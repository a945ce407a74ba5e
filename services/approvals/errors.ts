import { DomainError } from '#events/errors.ts';

export const changeRequestNotFound = (id: string, message = `no change request ${id}`) =>
  new DomainError('CHANGE_REQUEST_NOT_FOUND', 404, message, { id });

export const changeRequestExists = (id: string) =>
  new DomainError('CHANGE_REQUEST_EXISTS', 409, `change request ${id} exists`);

/** A decision on a change request that was already rejected, applied or failed. */
export const changeRequestClosed = (id: string, status: string) =>
  new DomainError('CHANGE_REQUEST_CLOSED', 409, `change request ${id} is ${status}`, { status });

export const changeRequestExpired = (id: string, expiresAt: string) =>
  new DomainError('CHANGE_REQUEST_EXPIRED', 409, `change request ${id} expired at ${expiresAt}`, { expiresAt });

export const selfApproval = () =>
  new DomainError('SELF_APPROVAL', 403, 'the requester of a change cannot decide on it');

/** The decider has neither the change request's approver role nor admin. */
export const approverRoleRequired = (approverRole: string) =>
  new DomainError('FORBIDDEN', 403, `deciding on this change needs the role ${approverRole}`, {
    required: [approverRole],
  });

export const alreadyApproved = (approver: string, id: string) =>
  new DomainError('ALREADY_APPROVED', 409, `${approver} already approved change request ${id}`);

export const policyNotFound = (id: string) =>
  new DomainError('POLICY_NOT_FOUND', 404, `no approval policy ${id}`, { id });

/**
 * An approved change whose target moved on since it was decided: a configuration
 * answers CONFIGURATION_MOVED_ON, anything else CREDENTIAL_MOVED_ON.
 */
/** An approved configuration change whose own paths were changed by someone else since it was decided. */
export const changedPathsConflict = (changeRequestId: string, baseVersion: number, conflicts: string[]) =>
  new DomainError(
    'CONFIGURATION_MOVED_ON',
    409,
    `since version ${baseVersion}, ${conflicts.join(', ')} changed: the approved change would overwrite it; request the change again`,
    { changeRequestId, baseVersion, conflicts },
  );

/** An approved configuration change that no longer passes validation on what the configuration (or its schema) is now. */
export const noLongerValid = (changeRequestId: string, baseVersion: number, paths: string[], cause: DomainError) =>
  new DomainError(
    'CONFIGURATION_MOVED_ON',
    409,
    `since version ${baseVersion}, the configuration or its schema changed so that ${paths.join(', ')} as approved no longer passes validation (${cause.message}); request the change again`,
    { changeRequestId, baseVersion, paths, ...cause.details },
  );

export const changeMovedOn = (changeRequestId: string, kind: string, baseVersion: number, cause: DomainError) =>
  new DomainError(
    kind === 'configuration' ? 'CONFIGURATION_MOVED_ON' : 'CREDENTIAL_MOVED_ON',
    409,
    `the ${kind} moved on since version ${baseVersion}; request the change again`,
    { changeRequestId, ...cause.details },
  );

/** An approved change that failed when applied: the cause's code, status and message, naming the change request. */
export const approvedChangeFailed = (changeRequestId: string, cause: DomainError) =>
  new DomainError(cause.code, cause.statusCode, cause.message, { changeRequestId, ...cause.details });

/** An approved change that failed as recorded in the log (by this instance or another). */
export const recordedFailure = (changeRequestId: string, code: string, message: string) =>
  new DomainError(code, 409, message, { changeRequestId });

/** An outcome for a change request that has not reached its quorum. */
export const changeRequestNotApproved = (id: string) =>
  new DomainError('CHANGE_REQUEST_NOT_APPROVED', 409, `change request ${id} has not reached its quorum`, { id });
