import { DomainError } from '#events/errors.ts';

export const schemaNotFound = (serviceId: string) =>
  new DomainError('SCHEMA_NOT_FOUND', 404, `no schema registered for ${serviceId}`, { serviceId });

export const invalidSchema = (problem: string) =>
  new DomainError('INVALID_SCHEMA', 400, `the schema cannot be compiled: ${problem}`, { reason: problem });
