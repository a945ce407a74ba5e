import { describe, expect, it } from 'vitest';
import type { EnvironmentDefinition } from '#events/environments.ts';
import type { DomainError } from '#services/shared/errors.ts';
import { decide, evolve, initialStateFor } from './decider.ts';

const graph = new Map([
  ['development', []],
  ['staging', []],
  ['production', []],
  ['prod_eu', ['production']],
]);
const definition = (id: string, inheritsFrom: string[] = []): EnvironmentDefinition => ({
  id,
  name: id,
  type: 'custom',
  inheritsFrom,
});
const codeOf = (run: () => unknown) => {
  try {
    run();
  } catch (error) {
    return (error as DomainError).code;
  }
  return undefined;
};

describe('environment decider', () => {
  it('defines a new environment that inherits from an existing one', () => {
    expect(
      decide(
        { type: 'Define', definition: definition('uat', ['staging']), parentsOf: graph, impact: [] },
        initialStateFor('uat'),
      ),
    ).toEqual([{ type: 'EnvironmentDefined', data: definition('uat', ['staging']) }]);
  });

  it('treats the four built-in environments as existing', () => {
    expect(
      codeOf(() =>
        decide(
          { type: 'Define', definition: definition('production'), parentsOf: graph, impact: [] },
          initialStateFor('production'),
        ),
      ),
    ).toBe('ENVIRONMENT_EXISTS');
  });

  it('refuses an unknown parent and an inheritance cycle', () => {
    expect(
      codeOf(() =>
        decide(
          { type: 'Define', definition: definition('uat', ['mars']), parentsOf: graph, impact: [] },
          initialStateFor('uat'),
        ),
      ),
    ).toBe('ENVIRONMENT_NOT_FOUND');
    const cycle = {
      type: 'Redefine' as const,
      definition: definition('production', ['prod_eu']),
      parentsOf: graph,
      impact: [],
    };
    expect(codeOf(() => decide(cycle, initialStateFor('production')))).toBe('INHERITANCE_CYCLE');
  });

  it('removes a custom environment with what it changed, never a built-in one', () => {
    const state = evolve(initialStateFor('uat'), { type: 'EnvironmentDefined', data: definition('uat', ['staging']) });
    const impact = [{ serviceId: 'desk', environment: 'uat_child', changedKeys: ['risk.max'] }];
    expect(decide({ type: 'Remove', id: 'uat', impact }, state)).toEqual([
      { type: 'EnvironmentRemoved', data: { id: 'uat', impact } },
    ]);
    expect(codeOf(() => decide({ type: 'Remove', id: 'production', impact: [] }, initialStateFor('production')))).toBe(
      'ENVIRONMENT_BUILT_IN',
    );
    const removed = evolve(state, { type: 'EnvironmentRemoved', data: { id: 'uat', impact } });
    expect(codeOf(() => decide({ type: 'Remove', id: 'uat', impact: [] }, removed))).toBe('ENVIRONMENT_NOT_FOUND');
    expect(
      decide({ type: 'Define', definition: definition('uat'), parentsOf: graph, impact: [] }, removed)[0]!.type,
    ).toBe('EnvironmentDefined');
  });

  it('applies an approved change only onto the definition it was decided on', () => {
    const state = evolve(initialStateFor('uat'), { type: 'EnvironmentDefined', data: definition('uat', ['staging']) });
    const change = {
      type: 'Redefine' as const,
      definition: definition('uat', ['production']),
      parentsOf: graph,
      impact: [],
    };
    expect(decide({ ...change, decidedOn: definition('uat', ['staging']) }, state)[0]!.type).toBe('EnvironmentUpdated');
    expect(codeOf(() => decide({ ...change, decidedOn: definition('uat', ['development']) }, state))).toBe(
      'ENVIRONMENT_MOVED_ON',
    );
  });

  it('records a redefinition only when something changed', () => {
    const state = evolve(initialStateFor('uat'), { type: 'EnvironmentDefined', data: definition('uat', ['staging']) });
    expect(
      decide({ type: 'Redefine', definition: definition('uat', ['staging']), parentsOf: graph, impact: [] }, state),
    ).toEqual([]);
    expect(
      decide({ type: 'Redefine', definition: definition('uat', []), parentsOf: graph, impact: [] }, state)[0]!.type,
    ).toBe('EnvironmentUpdated');
  });
});
