import { describe, expect, it } from 'vitest';
import type { ConfigurationEvent } from '#events/configuration.ts';
import type { JsonObject } from '#events/metadata.ts';
import { checksumOf } from '#infra/json/canonical.ts';
import { acceptAll, createSchemaValidators } from '#services/schemas/validator.ts';
import { deciderSpec } from '#services/shared/decider-harness.ts';
import { configurationDecider, judgeWith } from './decider.ts';
import { deepMerge, diffDocuments } from '#events/paths.ts';

const given = deciderSpec(configurationDecider);
const base = { serviceId: 'order-router', environment: 'production', judge: judgeWith(acceptAll) };

const created = (configuration: JsonObject, version = 1): ConfigurationEvent => ({
  type: version === 1 ? 'ConfigurationCreated' : 'ConfigurationUpdated',
  data: {
    serviceId: 'order-router',
    environment: 'production',
    version,
    configuration,
    checksum: checksumOf(configuration),
    changedKeys: [],
    changes: [],
    operation: version === 1 ? 'create' : 'replace',
  },
});

describe('configuration decider', () => {
  it('creates version 1 with the checksum of the canonical JSON and every leaf as a changed key', () => {
    given()
      .when({ ...base, type: 'Create', configuration: { risk: { maxPosition: 100 }, venue: 'xnys' } })
      .then([
        {
          type: 'ConfigurationCreated',
          data: expect.objectContaining({
            version: 1,
            checksum: checksumOf({ venue: 'xnys', risk: { maxPosition: 100 } }),
            changedKeys: ['risk.maxPosition', 'venue'],
            changes: expect.arrayContaining([{ path: 'risk.maxPosition', newValue: 100 }]),
          }),
        },
      ]);
  });

  it('refuses to create a configuration that exists with CONFIGURATION_EXISTS', () => {
    given(created({ a: 1 }))
      .when({ ...base, type: 'Create', configuration: {} })
      .thenThrows('CONFIGURATION_EXISTS');
  });

  it('applies a merge patch, recording old and new values per dotted path', () => {
    given(created({ risk: { maxPosition: 100, maxOrders: 5 }, venue: 'xnys' }))
      .when({ ...base, type: 'Patch', patch: { risk: { maxPosition: 250, maxOrders: null } } })
      .then([
        {
          type: 'ConfigurationUpdated',
          data: expect.objectContaining({
            version: 2,
            configuration: { risk: { maxPosition: 250 }, venue: 'xnys' },
            changes: [
              { path: 'risk.maxOrders', oldValue: 5 },
              { path: 'risk.maxPosition', oldValue: 100, newValue: 250 },
            ],
          }),
        },
      ]);
  });

  it('rejects a stale expectedVersion with VERSION_CONFLICT carrying the current version', () => {
    const error = given(created({ a: 1 }), created({ a: 2 }, 2))
      .when({ ...base, type: 'SetKey', key: 'a', value: 3, expectedVersion: 1 })
      .thenThrows('VERSION_CONFLICT');
    expect(error.details).toMatchObject({ currentVersion: 2, expectedVersion: 1 });
  });

  it('applies a batch as one event, or nothing at all when one operation fails', () => {
    const current = created({ a: 1, b: { c: 2 } });
    given(current)
      .when({
        ...base,
        type: 'Batch',
        operations: [
          { id: '1', type: 'SET', key: 'b.d', value: 4 },
          { id: '2', type: 'DELETE', key: 'a' },
        ],
      })
      .then([
        {
          type: 'ConfigurationUpdated',
          data: expect.objectContaining({ configuration: { b: { c: 2, d: 4 } }, operation: 'batch' }),
        },
      ]);
    const error = given(current)
      .when({
        ...base,
        type: 'Batch',
        operations: [
          { id: '1', type: 'SET', key: 'x', value: 1 },
          { id: '2', type: 'DELETE', key: 'missing' },
        ],
      })
      .thenThrows('KEY_NOT_FOUND');
    expect(error.details).toMatchObject({ operationId: '2' });
  });

  it('deletes a key, and reports KEY_NOT_FOUND for one that does not exist', () => {
    const current = created({ a: { b: 1, c: 2 } });
    given(current)
      .when({ ...base, type: 'DeleteKey', key: 'a.b' })
      .then([{ type: 'ConfigurationUpdated', data: expect.objectContaining({ configuration: { a: { c: 2 } } }) }]);
    given(current)
      .when({ ...base, type: 'DeleteKey', key: 'a.z' })
      .thenThrows('KEY_NOT_FOUND');
  });

  it('refuses to set a key below a value that is not an object', () => {
    given(created({ a: 5 }))
      .when({ ...base, type: 'SetKey', key: 'a.b', value: 1 })
      .thenThrows('INVALID_KEY');
  });

  it('rolls back by recording a new version that names the version it restores', () => {
    const history = [created({ limit: 1 }), created({ limit: 2 }, 2), created({ limit: 3 }, 3)];
    given(...history)
      .when({ ...base, type: 'Rollback', targetVersion: 1, targetConfiguration: { limit: 1 } })
      .then([
        {
          type: 'ConfigurationRolledBack',
          data: expect.objectContaining({ version: 4, restoredVersion: 1, configuration: { limit: 1 } }),
        },
      ]);
    given(...history)
      .when({ ...base, type: 'Rollback', targetVersion: 4, targetConfiguration: { limit: 3 } })
      .thenThrows('VERSION_NOT_FOUND');
  });

  it('refuses to roll back to the current version with 409 ROLLBACK_TO_CURRENT_VERSION, not a false VERSION_NOT_FOUND', () => {
    given(created({ limit: 1 }), created({ limit: 2 }, 2))
      .when({ ...base, type: 'Rollback', targetVersion: 2, targetConfiguration: { limit: 2 } })
      .thenThrows('ROLLBACK_TO_CURRENT_VERSION');
  });

  it('merge-patches a document whatever its keys are called, hasOwnProperty included', () => {
    given(created({ hasOwnProperty: 1, toString: { a: 1 }, keep: { x: 1, y: 2 } }))
      .when({ ...base, type: 'Patch', patch: { keep: { y: null, z: 3 }, hasOwnProperty: null, added: { b: [1] } } })
      .then([
        {
          type: 'ConfigurationUpdated',
          data: expect.objectContaining({
            configuration: { toString: { a: 1 }, keep: { x: 1, z: 3 }, added: { b: [1] } },
          }),
        },
      ]);
  });

  it('emits nothing when a replace changes nothing', () => {
    given(created({ a: 1 }))
      .when({ ...base, type: 'Replace', configuration: { a: 1 } })
      .then([]);
  });

  it('validates the resulting document against the schema and reports every error with its path', () => {
    const validate = createSchemaValidators().compile({
      type: 'object',
      properties: {
        risk: {
          type: 'object',
          properties: { maxPosition: { type: 'integer', maximum: 1000 } },
          required: ['maxPosition'],
        },
      },
      required: ['risk', 'venue'],
    });
    const error = given()
      .when({ ...base, judge: judgeWith(validate), type: 'Create', configuration: { risk: { maxPosition: 5000 } } })
      .thenThrows('VALIDATION_ERROR');
    const paths = (error.details!.errors as { path: string }[]).map((issue) => issue.path).sort();
    expect(paths).toEqual(['risk.maxPosition', 'venue']);
  });

  it('needs a configuration for every change but create and replace', () => {
    given()
      .when({ ...base, type: 'Patch', patch: { a: 1 } })
      .thenThrows('CONFIGURATION_NOT_FOUND');
    given()
      .when({ ...base, type: 'Replace', configuration: { a: 1 } })
      .then([{ type: 'ConfigurationCreated', data: expect.objectContaining({ version: 1 }) }]);
  });
});

describe('document paths', () => {
  it('merges inherited layers deeply, the nearer layer winning', () => {
    expect(deepMerge({ a: { b: 1, c: 2 }, d: [1] }, { a: { c: 3 }, d: [2] })).toEqual({ a: { b: 1, c: 3 }, d: [2] });
  });

  it('diffs arrays as whole values and type changes at the path that changed', () => {
    expect(diffDocuments({ a: [1, 2], b: { c: 1 } }, { a: [1, 3], b: 5 })).toEqual([
      { path: 'a', oldValue: [1, 2], newValue: [1, 3] },
      { path: 'b', oldValue: { c: 1 }, newValue: 5 },
    ]);
  });
});
