import { describe, expect, it } from 'vitest';
import type { JsonObject } from '#events/metadata.ts';
import type { SchemaRegistered } from '#events/schemas.ts';
import { checksumOf } from '#infra/json/canonical.ts';
import { createSchemaValidators } from './validator.ts';
import { deciderSpec } from '#services/shared/decider-harness.ts';
import { schemaDecider } from './decider.ts';

const given = deciderSpec(schemaDecider);

const limits: JsonObject = {
  type: 'object',
  properties: { maxPosition: { type: 'integer', minimum: 0 } },
  required: ['maxPosition'],
};
const registered = (schema: JsonObject, version = 1): SchemaRegistered => ({
  type: 'SchemaRegistered',
  data: { serviceId: 'order-router', version, schema, draft: '2020-12', checksum: checksumOf(schema) },
});
const validators = createSchemaValidators();
const register = (schema: JsonObject) =>
  ({ type: 'RegisterSchema', serviceId: 'order-router', schema, problem: validators.problemOf(schema) }) as const;
const nestedDeeperThan = (levels: number): JsonObject => {
  let schema: JsonObject = { type: 'object' };
  for (let level = 0; level < levels; level++) schema = { properties: { inner: schema } };
  return schema;
};

describe('schema decider', () => {
  it('registers the first schema of a service as version 1, draft 2020-12 by default', () => {
    given()
      .when(register(limits))
      .then([registered(limits)]);
  });

  it('records the draft a schema names with $schema', () => {
    const draft07 = { $schema: 'http://json-schema.org/draft-07/schema#', ...limits };
    given()
      .when(register(draft07))
      .then([{ type: 'SchemaRegistered', data: expect.objectContaining({ version: 1, draft: 'draft-07' }) }]);
  });

  it('registers a changed schema as the next version', () => {
    const stricter = { ...limits, additionalProperties: false };
    given(registered(limits))
      .when(register(stricter))
      .then([registered(stricter, 2)]);
  });

  it('emits nothing when the schema is the one registered, whatever the order of its keys', () => {
    const reordered = { required: ['maxPosition'], properties: limits.properties!, type: 'object' };
    given(registered(limits)).when(register(reordered)).then([]);
  });

  it('refuses a schema that does not compile with INVALID_SCHEMA and the reason', () => {
    const error = given()
      .when(register({ type: 'object', properties: { venue: { type: 'venue-code' } } }))
      .thenThrows('INVALID_SCHEMA');
    expect(error.details).toEqual({ reason: expect.any(String) });
  });

  it('refuses a pattern the linear-time regex engine cannot run, a lookahead, with INVALID_SCHEMA', () => {
    given()
      .when(register({ type: 'string', pattern: '^(?=risk)' }))
      .thenThrows('INVALID_SCHEMA');
  });

  it('refuses a schema with a key that names a prototype slot with INVALID_KEY', () => {
    const hostile = JSON.parse('{"type":"object","properties":{"__proto__":{"type":"string"}}}') as JsonObject;
    given().when(register(hostile)).thenThrows('INVALID_KEY');
  });

  it('refuses a schema holding text that cannot be stored with INVALID_STRING', () => {
    given()
      .when(register({ ...limits, description: 'limits\u0000' }))
      .thenThrows('INVALID_STRING');
  });

  it('refuses a schema nested deeper than any document may be with DOCUMENT_TOO_DEEP', () => {
    given()
      .when(register(nestedDeeperThan(64)))
      .thenThrows('DOCUMENT_TOO_DEEP');
  });
});
