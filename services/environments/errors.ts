import { DomainError } from '#events/errors.ts';

export const environmentNotFound = (environment: string) =>
  new DomainError('ENVIRONMENT_NOT_FOUND', 404, `environment ${environment} is not defined`, { environment });

export const environmentExists = (environment: string) =>
  new DomainError('ENVIRONMENT_EXISTS', 409, `environment ${environment} already exists`, { environment });

export const environmentBuiltIn = (environment: string) =>
  new DomainError('ENVIRONMENT_BUILT_IN', 409, `${environment} is built in and cannot be removed`, { environment });

/** An approved change whose environment no longer inherits what the change was decided on. */
export const environmentMovedOn = (environment: string) =>
  new DomainError(
    'ENVIRONMENT_MOVED_ON',
    409,
    `environment ${environment} changed since this change was decided; request it again`,
    { environment },
  );

export const inheritanceCycle = (cycle: string[]) =>
  new DomainError('INHERITANCE_CYCLE', 400, `inheritance would form a cycle: ${cycle.join(' -> ')}`, { cycle });

/** Re-parenting, removing or bringing back an environment without the admin role. */
export const inheritanceChangeNeedsAdmin = () =>
  new DomainError(
    'FORBIDDEN',
    403,
    'changing what an environment inherits, or removing one, changes every service inheriting from it: it needs the admin role',
    {
      required: ['admin'],
    },
  );
