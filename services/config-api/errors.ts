import { DomainError } from '#events/errors.ts';

export const unauthorized = () =>
  new DomainError('UNAUTHORIZED', 401, 'a bearer token (Authorization: Bearer <token>) or X-Service-Token is required');

export const invalidToken = (reason: string) =>
  new DomainError('INVALID_TOKEN', 401, `the token was refused: ${reason}`);

export const lockedOut = (retryAfterSeconds: number) =>
  new DomainError('LOCKED_OUT', 429, 'too many failed authentications from this address; try again later', {
    retryAfterSeconds,
  });

export const rateLimited = (retryAfterSeconds: number, limit: number) =>
  new DomainError('RATE_LIMITED', 429, `too many requests; retry in ${retryAfterSeconds} s`, {
    retryAfterSeconds,
    limit,
  });

/** A route nobody listed in the permission table is refused, whoever asks. */
export const routeNotInPermissionTable = (method: string, url: string) =>
  new DomainError('FORBIDDEN', 403, `${method} ${url} has no entry in the permission table`);

export const roleRequired = (required: readonly string[]) =>
  new DomainError('FORBIDDEN', 403, `this needs one of the roles ${required.join(', ')}`, { required });

export const readOnlyReplica = () =>
  new DomainError('READ_ONLY_REPLICA', 403, 'this region is a read-only replica; write to the primary region');

export const outOfScope = (subject: string, serviceId: string) =>
  new DomainError('OUT_OF_SCOPE', 403, `${subject} may not act on service ${serviceId}`, { serviceId });

/** A change shared by every service, asked for by a principal limited to some. */
export const unrestrictedScopeRequired = (subject: string, what: string, services: string[]) =>
  new DomainError(
    'OUT_OF_SCOPE',
    403,
    `${what} concerns every service; ${subject} is limited to ${services.join(', ')}`,
    {
      services,
    },
  );

export const invalidIdempotencyKey = () =>
  new DomainError(
    'INVALID_IDEMPOTENCY_KEY',
    400,
    'Idempotency-Key must be 1 to 255 visible characters, quoted ("8e03978e") or bare',
    {
      header: 'Idempotency-Key',
    },
  );

export const idempotencyKeyInProgress = () =>
  new DomainError(
    'IDEMPOTENCY_KEY_IN_PROGRESS',
    409,
    'a request with this Idempotency-Key is being handled; retry shortly',
  );

export const idempotencyKeyReused = () =>
  new DomainError(
    'IDEMPOTENCY_KEY_REUSED',
    422,
    'this Idempotency-Key was used with another request body; use a new key for a new request',
  );

export const invalidJson = (reason: string) => new DomainError('INVALID_JSON', 400, `the body is not JSON: ${reason}`);
