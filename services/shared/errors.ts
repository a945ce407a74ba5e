import { DomainError, type ValidationIssue } from '#events/errors.ts';

/** Input that breaks a rule the request schema cannot state; every context answers it the same way. */
export const validationFailed = (errors: ValidationIssue[], message = 'the configuration does not match the schema') =>
  new DomainError('VALIDATION_ERROR', 400, message, { errors });

/** A change to a configuration or to an environment that would break what inheriting environments read. */
export const inheritedValidationFailed = (
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

/**
 * The read models have not applied what the answer needs within the wait:
 * a `minPosition` the caller asked for (with the position they are at), or
 * the log's head.
 */
export const readModelBehind = (awaited: { minPosition: number; position: number } | { head: number }) =>
  'head' in awaited
    ? new DomainError('READ_MODEL_BEHIND', 503, 'the read models are still catching up with the log; retry', {
        position: awaited.head,
      })
    : new DomainError(
        'READ_MODEL_BEHIND',
        503,
        `the read model has not reached position ${awaited.minPosition} yet; retry`,
        { minPosition: awaited.minPosition, position: awaited.position },
      );

/** `?force=true` is an admin's alone. */
export const forceNeedsAdmin = () =>
  new DomainError('FORBIDDEN', 403, "forcing a change past its inheriting environments' schema needs the admin role", {
    required: ['admin'],
  });

export const invalidIfMatch = () =>
  new DomainError('INVALID_IF_MATCH', 400, 'If-Match must be a configuration version, e.g. If-Match: "3"');
