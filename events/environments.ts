export const environmentStream = (id: string) => `environment-${id}`;

export interface EnvironmentDefinition {
  id: string;
  name: string;
  type: 'development' | 'testing' | 'staging' | 'production' | 'custom';
  /** Parents, nearest last: the effective configuration merges parents first, then the environment's own. */
  inheritsFrom: string[];
  description?: string;
}

export type EnvironmentDefined = { type: 'EnvironmentDefined'; data: EnvironmentDefinition };
export type EnvironmentUpdated = { type: 'EnvironmentUpdated'; data: EnvironmentDefinition };

export type EnvironmentEvent = EnvironmentDefined | EnvironmentUpdated;
