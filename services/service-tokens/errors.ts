import { DomainError } from '#events/errors.ts';

export const serviceTokenExists = (id: string) =>
  new DomainError('SERVICE_TOKEN_EXISTS', 409, `service token ${id} exists`);

export const serviceTokenNotFound = (id: string) =>
  new DomainError('SERVICE_TOKEN_NOT_FOUND', 404, `no service token ${id}`, { id });
