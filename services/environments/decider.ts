import { BUILT_IN_ENVIRONMENTS } from '#events/environments.ts';
import { isDeepStrictEqual } from 'node:util';
import type { InheritedIssue } from '#events/configuration.ts';
import {
  type EffectiveChange,
  type EnvironmentDefinition,
  type EnvironmentEvent,
  definitionOf,
} from '#events/environments.ts';
import type { Decider } from '#services/shared/command-handler.ts';
import {
  environmentBuiltIn,
  environmentExists,
  environmentMovedOn,
  environmentNotFound,
  inheritanceCycle,
} from './errors.ts';

export type EnvironmentState =
  | { status: 'absent' }
  | { status: 'removed' }
  | { status: 'active'; definition: EnvironmentDefinition };

export const initialStateFor = (id: string): EnvironmentState => {
  const builtIn = BUILT_IN_ENVIRONMENTS.find((environment) => environment.id === id);
  return builtIn ? { status: 'active', definition: builtIn } : { status: 'absent' };
};

interface Governed {
  /** What the change does to effective configurations; recorded with it. */
  impact: EffectiveChange[];
  /** Set when applying an approved change: the definition it was decided on (null: none). */
  decidedOn?: EnvironmentDefinition | null;
  /** An admin applied it although these inheriting configurations fail their schema. */
  forced?: { inheritedErrors: InheritedIssue[] };
}

export type EnvironmentCommand =
  | ({
      type: 'Define' | 'Redefine';
      definition: EnvironmentDefinition;
      /** The inheritance graph of every other environment, to refuse unknown parents and cycles. */
      parentsOf: Map<string, string[]>;
    } & Governed)
  | ({ type: 'Remove'; id: string } & Governed);

export function decide(command: EnvironmentCommand, state: EnvironmentState): EnvironmentEvent[] {
  // An approved change holds only if what the environment inherits is still what it was decided on; a rename does not matter.
  if (command.decidedOn !== undefined) {
    const current = state.status === 'active' ? state.definition.inheritsFrom : null;
    if (!isDeepStrictEqual(current, command.decidedOn?.inheritsFrom ?? null))
      throw environmentMovedOn(command.type === 'Remove' ? command.id : command.definition.id);
  }
  if (command.type === 'Remove') {
    if (state.status !== 'active') throw environmentNotFound(command.id);
    if (BUILT_IN_ENVIRONMENTS.some((builtIn) => builtIn.id === command.id)) throw environmentBuiltIn(command.id);
    return [
      {
        type: 'EnvironmentRemoved',
        data: { id: command.id, impact: command.impact, ...(command.forced ? { forced: command.forced } : {}) },
      },
    ];
  }
  const { definition } = command;
  if (command.type === 'Define' && state.status === 'active') throw environmentExists(definition.id);
  for (const parent of definition.inheritsFrom) {
    if (parent !== definition.id && !command.parentsOf.has(parent)) throw environmentNotFound(parent);
  }
  const cycle = findCycle(definition.id, new Map(command.parentsOf).set(definition.id, definition.inheritsFrom));
  if (cycle) throw inheritanceCycle(cycle);
  if (state.status !== 'active') return [{ type: 'EnvironmentDefined', data: definition }];
  if (isDeepStrictEqual(state.definition, definition)) return [];
  return [
    {
      type: 'EnvironmentUpdated',
      data: { ...definition, impact: command.impact, ...(command.forced ? { forced: command.forced } : {}) },
    },
  ];
}

function findCycle(start: string, parentsOf: Map<string, string[]>): string[] | undefined {
  const walk = (id: string, path: string[]): string[] | undefined => {
    if (path.includes(id)) return [...path, id];
    for (const parent of parentsOf.get(id) ?? []) {
      const cycle = walk(parent, [...path, id]);
      if (cycle) return cycle;
    }
    return undefined;
  };
  return walk(start, []);
}

export function evolve(_state: EnvironmentState, event: EnvironmentEvent): EnvironmentState {
  switch (event.type) {
    case 'EnvironmentDefined':
    case 'EnvironmentUpdated':
      return { status: 'active', definition: definitionOf(event.data) };
    case 'EnvironmentRemoved':
      return { status: 'removed' };
    default: {
      const unknownEvent: never = event;
      throw new Error(`unknown event ${JSON.stringify(unknownEvent)}`);
    }
  }
}

export const environmentDecider: Decider<EnvironmentCommand, EnvironmentState, EnvironmentEvent> = {
  decide,
  evolve,
  initialState: { status: 'absent' },
  stateInLastEvent: true,
};
