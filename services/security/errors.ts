import { DomainError } from '#events/errors.ts';

export const notLockedOut = (address: string) =>
  new DomainError('NOT_LOCKED_OUT', 404, `${address} is not locked out; nothing was changed`, { address });
