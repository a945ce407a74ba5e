import { describe, expect, it } from 'vitest';
import type { EnvironmentDefinition } from '#events/environments.ts';
import { DomainError } from '#services/shared/errors.ts';
import { decide, evolve, initialStateFor } from './decider.ts';

const graph = new Map([
  ['development', []],
  ['staging', []],
  ['production', []],
  ['prod_eu', ['production']],
]);
const definition = (id: string, inheritsFrom: string[] = []): EnvironmentDefinition => ({ id, name: id, type: 'custom', inheritsFrom });
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
    expect(decide({ type: 'Define', definition: definition('uat', ['staging']), parentsOf: graph }, initialStateFor('uat'))).toEqual([
      { type: 'EnvironmentDefined', data: definition('uat', ['staging']) },
    ]);
  });

  it('treats the four built-in environments as existing', () => {
    expect(codeOf(() => decide({ type: 'Define', definition: definition('production'), parentsOf: graph }, initialStateFor('production')))).toBe('ENVIRONMENT_EXISTS');
  });

  it('refuses an unknown parent and an inheritance cycle', () => {
    expect(codeOf(() => decide({ type: 'Define', definition: definition('uat', ['mars']), parentsOf: graph }, initialStateFor('uat')))).toBe('ENVIRONMENT_NOT_FOUND');
    const cycle = { type: 'Redefine' as const, definition: definition('production', ['prod_eu']), parentsOf: graph };
    expect(codeOf(() => decide(cycle, initialStateFor('production')))).toBe('INHERITANCE_CYCLE');
  });

  it('records a redefinition only when something changed', () => {
    const state = evolve(initialStateFor('uat'), { type: 'EnvironmentDefined', data: definition('uat', ['staging']) });
    expect(decide({ type: 'Redefine', definition: definition('uat', ['staging']), parentsOf: graph }, state)).toEqual([]);
    expect(decide({ type: 'Redefine', definition: definition('uat', []), parentsOf: graph }, state)[0]!.type).toBe('EnvironmentUpdated');
  });
});
