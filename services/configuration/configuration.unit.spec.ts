import { describe, expect, it } from 'vitest';
import type { ConfigurationChange, ConfigurationEvent } from '#events/configuration.ts';
import type { JsonObject } from '#events/metadata.ts';
import { checksumOf } from '#services/shared/canonical.ts';
import { DomainError } from '#services/shared/errors.ts';
import { acceptAll, compileSchema } from '#services/schemas/validator.ts';
import { type ConfigurationCommand, decide, evolve, initialState, judgeWith } from './decider.ts';
import { deepMerge, diffDocuments } from './paths.ts';

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

const given = (...events: ConfigurationEvent[]) => events.reduce(evolve, initialState);
const when = (command: ConfigurationCommand, state = initialState) => decide(command, state);
const thenData = (events: ConfigurationEvent[]): ConfigurationChange => {
  expect(events).toHaveLength(1);
  return events[0]!.data;
};
const thenError = (run: () => unknown, code: string) => {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(DomainError);
    expect((error as DomainError).code).toBe(code);
    return error as DomainError;
  }
  throw new Error(`expected ${code}`);
};

describe('configuration decider', () => {
  it('creates version 1 with the checksum of the canonical JSON and every leaf as a changed key', () => {
    const events = when({ ...base, type: 'Create', configuration: { risk: { maxPosition: 100 }, venue: 'xnys' } });
    expect(events[0]!.type).toBe('ConfigurationCreated');
    const data = thenData(events);
    expect(data.version).toBe(1);
    expect(data.checksum).toBe(checksumOf({ venue: 'xnys', risk: { maxPosition: 100 } }));
    expect(data.changedKeys).toEqual(['risk.maxPosition', 'venue']);
    expect(data.changes).toContainEqual({ path: 'risk.maxPosition', newValue: 100 });
  });

  it('refuses to create a configuration that exists with CONFIGURATION_EXISTS', () => {
    thenError(
      () => when({ ...base, type: 'Create', configuration: {} }, given(created({ a: 1 }))),
      'CONFIGURATION_EXISTS',
    );
  });

  it('applies a merge patch, recording old and new values per dotted path', () => {
    const state = given(created({ risk: { maxPosition: 100, maxOrders: 5 }, venue: 'xnys' }));
    const data = thenData(
      when({ ...base, type: 'Patch', patch: { risk: { maxPosition: 250, maxOrders: null } } }, state),
    );
    expect(data.version).toBe(2);
    expect(data.configuration).toEqual({ risk: { maxPosition: 250 }, venue: 'xnys' });
    expect(data.changes).toEqual([
      { path: 'risk.maxOrders', oldValue: 5 },
      { path: 'risk.maxPosition', oldValue: 100, newValue: 250 },
    ]);
  });

  it('rejects a stale expectedVersion with VERSION_CONFLICT carrying the current version', () => {
    const state = given(created({ a: 1 }), created({ a: 2 }, 2));
    const error = thenError(
      () => when({ ...base, type: 'SetKey', key: 'a', value: 3, expectedVersion: 1 }, state),
      'VERSION_CONFLICT',
    );
    expect(error.details).toMatchObject({ currentVersion: 2, expectedVersion: 1 });
  });

  it('applies a batch as one event, or nothing at all when one operation fails', () => {
    const state = given(created({ a: 1, b: { c: 2 } }));
    const data = thenData(
      when(
        {
          ...base,
          type: 'Batch',
          operations: [
            { id: '1', type: 'SET', key: 'b.d', value: 4 },
            { id: '2', type: 'DELETE', key: 'a' },
          ],
        },
        state,
      ),
    );
    expect(data.configuration).toEqual({ b: { c: 2, d: 4 } });
    expect(data.operation).toBe('batch');
    const error = thenError(
      () =>
        when(
          {
            ...base,
            type: 'Batch',
            operations: [
              { id: '1', type: 'SET', key: 'x', value: 1 },
              { id: '2', type: 'DELETE', key: 'missing' },
            ],
          },
          state,
        ),
      'KEY_NOT_FOUND',
    );
    expect(error.details).toMatchObject({ operationId: '2' });
  });

  it('deletes a key, and reports KEY_NOT_FOUND for one that does not exist', () => {
    const state = given(created({ a: { b: 1, c: 2 } }));
    expect(thenData(when({ ...base, type: 'DeleteKey', key: 'a.b' }, state)).configuration).toEqual({ a: { c: 2 } });
    thenError(() => when({ ...base, type: 'DeleteKey', key: 'a.z' }, state), 'KEY_NOT_FOUND');
  });

  it('refuses to set a key below a value that is not an object', () => {
    thenError(() => when({ ...base, type: 'SetKey', key: 'a.b', value: 1 }, given(created({ a: 5 }))), 'INVALID_KEY');
  });

  it('rolls back by recording a new version that names the version it restores', () => {
    const state = given(created({ limit: 1 }), created({ limit: 2 }, 2), created({ limit: 3 }, 3));
    const events = when({ ...base, type: 'Rollback', targetVersion: 1, targetConfiguration: { limit: 1 } }, state);
    expect(events[0]).toMatchObject({
      type: 'ConfigurationRolledBack',
      data: { version: 4, restoredVersion: 1, configuration: { limit: 1 } },
    });
    thenError(
      () => when({ ...base, type: 'Rollback', targetVersion: 4, targetConfiguration: { limit: 3 } }, state),
      'VERSION_NOT_FOUND',
    );
  });

  it('refuses to roll back to the current version with 409 ROLLBACK_TO_CURRENT_VERSION, not a false VERSION_NOT_FOUND', () => {
    const state = given(created({ limit: 1 }), created({ limit: 2 }, 2));
    thenError(
      () => when({ ...base, type: 'Rollback', targetVersion: 2, targetConfiguration: { limit: 2 } }, state),
      'ROLLBACK_TO_CURRENT_VERSION',
    );
  });

  it('merge-patches a document whatever its keys are called, hasOwnProperty included', () => {
    const state = given(created({ hasOwnProperty: 1, toString: { a: 1 }, keep: { x: 1, y: 2 } }));
    const [event] = when(
      { ...base, type: 'Patch', patch: { keep: { y: null, z: 3 }, hasOwnProperty: null, added: { b: [1] } } },
      state,
    );
    expect(event!.data.configuration).toEqual({ toString: { a: 1 }, keep: { x: 1, z: 3 }, added: { b: [1] } });
  });

  it('emits nothing when a replace changes nothing', () => {
    expect(when({ ...base, type: 'Replace', configuration: { a: 1 } }, given(created({ a: 1 })))).toEqual([]);
  });

  it('validates the resulting document against the schema and reports every error with its path', () => {
    const validate = compileSchema({
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
    const error = thenError(
      () =>
        when({ ...base, judge: judgeWith(validate), type: 'Create', configuration: { risk: { maxPosition: 5000 } } }),
      'VALIDATION_ERROR',
    );
    const paths = (error.details!.errors as { path: string }[]).map((issue) => issue.path).sort();
    expect(paths).toEqual(['risk.maxPosition', 'venue']);
  });

  it('needs a configuration for every change but create and replace', () => {
    thenError(() => when({ ...base, type: 'Patch', patch: { a: 1 } }), 'CONFIGURATION_NOT_FOUND');
    expect(thenData(when({ ...base, type: 'Replace', configuration: { a: 1 } })).version).toBe(1);
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
