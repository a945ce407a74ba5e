import type { InheritedIssue } from './configuration.ts';

export const environmentStream = (id: string) => `environment-${id}`;

export interface EnvironmentDefinition {
  id: string;
  name: string;
  type: 'development' | 'testing' | 'staging' | 'production' | 'custom';
  /** Parents, nearest last: the effective configuration merges parents first, then the environment's own. */
  inheritsFrom: string[];
  description?: string;
}

/** One effective configuration that an environment change altered, as it stood when the change was decided. */
export interface EffectiveChange {
  serviceId: string;
  environment: string;
  changedKeys: string[];
}

export type EnvironmentDefined = { type: 'EnvironmentDefined'; data: EnvironmentDefinition };
/** What an environment change records about its effect; `forced`: an admin applied it although these inheriting configurations fail their schema. */
export interface EnvironmentChangeEffect {
  impact?: EffectiveChange[];
  forced?: { inheritedErrors: InheritedIssue[] };
}

/** Version 2 adds `impact` and `forced`; version 1 events have neither (they were not recorded). */
export type EnvironmentUpdated = { type: 'EnvironmentUpdated'; data: EnvironmentDefinition & EnvironmentChangeEffect };
/** The environment is gone: its configurations stay in the log, its children inherit from their other parents. */
export type EnvironmentRemoved = {
  type: 'EnvironmentRemoved';
  data: { id: string; impact: EffectiveChange[]; forced?: { inheritedErrors: InheritedIssue[] } };
};

export type EnvironmentEvent = EnvironmentDefined | EnvironmentUpdated | EnvironmentRemoved;

/** The definition an event carries, without what it records about its effect. */
export const definitionOf = ({
  id,
  name,
  type,
  inheritsFrom,
  description,
}: EnvironmentDefinition): EnvironmentDefinition => ({
  id,
  name,
  type,
  inheritsFrom,
  ...(description !== undefined ? { description } : {}),
});

/** Present without any event, so every deployment starts with them; they can be redefined like any other. */
export const BUILT_IN_ENVIRONMENTS: EnvironmentDefinition[] = [
  { id: 'development', name: 'Development', type: 'development', inheritsFrom: [] },
  { id: 'testing', name: 'Testing', type: 'testing', inheritsFrom: [] },
  { id: 'staging', name: 'Staging', type: 'staging', inheritsFrom: [] },
  { id: 'production', name: 'Production', type: 'production', inheritsFrom: [] },
];
