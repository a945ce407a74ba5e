import { describe, it } from 'vitest';
import type { EnvironmentDefinition, EnvironmentEvent } from '#events/environments.ts';
import { deciderSpec } from '#services/shared/decider-harness.ts';
import { type EnvironmentCommand, environmentDecider, initialStateFor } from './decider.ts';

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
/** An environment's stream starts from its built-in definition, when it has one. */
const givenEnvironment = (id: string, ...events: EnvironmentEvent[]) =>
  deciderSpec(environmentDecider, initialStateFor(id))(...events);
const defined = (id: string, inheritsFrom: string[] = []): EnvironmentEvent => ({
  type: 'EnvironmentDefined',
  data: definition(id, inheritsFrom),
});
const define = (id: string, inheritsFrom: string[] = []): EnvironmentCommand => ({
  type: 'Define',
  definition: definition(id, inheritsFrom),
  parentsOf: graph,
  impact: [],
});
const redefine = (id: string, inheritsFrom: string[] = []): EnvironmentCommand => ({
  type: 'Redefine',
  definition: definition(id, inheritsFrom),
  parentsOf: graph,
  impact: [],
});

describe('environment decider', () => {
  it('defines a new environment that inherits from an existing one', () => {
    givenEnvironment('uat')
      .when(define('uat', ['staging']))
      .then([defined('uat', ['staging'])]);
  });

  it('treats the four built-in environments as existing', () => {
    givenEnvironment('production').when(define('production')).thenThrows('ENVIRONMENT_EXISTS');
  });

  it('refuses an unknown parent and an inheritance cycle', () => {
    givenEnvironment('uat')
      .when(define('uat', ['mars']))
      .thenThrows('ENVIRONMENT_NOT_FOUND');
    givenEnvironment('production')
      .when(redefine('production', ['prod_eu']))
      .thenThrows('INHERITANCE_CYCLE');
  });

  it('removes a custom environment with what it changed, never a built-in one', () => {
    const impact = [{ serviceId: 'desk', environment: 'uat_child', changedKeys: ['risk.max'] }];
    const removed: EnvironmentEvent = { type: 'EnvironmentRemoved', data: { id: 'uat', impact } };
    givenEnvironment('uat', defined('uat', ['staging']))
      .when({ type: 'Remove', id: 'uat', impact })
      .then([removed]);
    givenEnvironment('production')
      .when({ type: 'Remove', id: 'production', impact: [] })
      .thenThrows('ENVIRONMENT_BUILT_IN');
    givenEnvironment('uat', defined('uat', ['staging']), removed)
      .when({ type: 'Remove', id: 'uat', impact: [] })
      .thenThrows('ENVIRONMENT_NOT_FOUND');
    givenEnvironment('uat', defined('uat', ['staging']), removed)
      .when(define('uat'))
      .then([defined('uat')]);
  });

  it('applies an approved change only onto the definition it was decided on', () => {
    const change = redefine('uat', ['production']);
    givenEnvironment('uat', defined('uat', ['staging']))
      .when({ ...change, decidedOn: definition('uat', ['staging']) })
      .then([{ type: 'EnvironmentUpdated', data: { ...definition('uat', ['production']), impact: [] } }]);
    givenEnvironment('uat', defined('uat', ['staging']))
      .when({ ...change, decidedOn: definition('uat', ['development']) })
      .thenThrows('ENVIRONMENT_MOVED_ON');
  });

  it('records a redefinition only when something changed', () => {
    givenEnvironment('uat', defined('uat', ['staging']))
      .when(redefine('uat', ['staging']))
      .then([]);
    givenEnvironment('uat', defined('uat', ['staging']))
      .when(redefine('uat', []))
      .then([{ type: 'EnvironmentUpdated', data: { ...definition('uat', []), impact: [] } }]);
  });
});
