import type { JsonObject } from '#events/metadata.ts';
import type { CurrentConfiguration } from '#projections/configurations/cache.ts';
import { loadCurrent } from '#projections/configurations/queries.ts';
import { type PointInTime, configurationAt } from './history.ts';
import type { Ledger } from '#services/config-api/context.ts';
import { ConfigurationNotFound, DomainError, EnvironmentNotFound } from '#services/shared/errors.ts';
import { checksumOf } from '#services/shared/canonical.ts';
import { environmentStream } from '#events/environments.ts';
import { loadState } from '#services/shared/command-handler.ts';
import { environmentDecider, initialStateFor } from '#services/environments/decider.ts';
import { deepMerge } from './paths.ts';

export interface ConfigurationView extends Omit<CurrentConfiguration, 'position'> {
  /** Log position of the newest change in this answer; resume a subscription from it. */
  position: number;
  /** The environments merged, farthest ancestor first; only when the environment inherits. */
  inheritedFrom?: string[];
  /** Top-level key -> the environment its value came from; with `explain`. */
  sources?: Record<string, string>;
  /** With `explain`: each environment of the chain, what it inherits, and who last changed that and when. */
  inheritance?: { environment: string; inheritsFrom: string[]; position: number; changedBy: string | null; changedAt: string | null }[];
  /** The instant asked for, when reading the past. */
  asOf?: string;
}

/** Waits (bounded) until the read models hold `minPosition`: the database ones, or only the in-memory ones. */
export async function waitForPosition(ledger: Ledger, minPosition: number | undefined, stage: 'seen' | 'applied' = 'applied'): Promise<void> {
  if (minPosition === undefined) return;
  const { runner } = ledger.readModels;
  if (!(await runner.waitFor(BigInt(minPosition), ledger.readYourWritesTimeoutMs, stage))) {
    throw new DomainError('READ_MODEL_BEHIND', 503, `the read model has not reached position ${minPosition} yet; retry`, {
      minPosition,
      position: Number(stage === 'seen' ? runner.seenPosition : runner.position),
    });
  }
}

/** Known to the in-memory directory, or (just defined, not yet projected) to the log itself. */
export async function requireEnvironment(ledger: Ledger, environment: string): Promise<void> {
  if (ledger.readModels.environments.get(environment)) return;
  const { state } = await loadState(ledger.store, environmentStream(environment), environmentDecider, initialStateFor(environment));
  if (state.status !== 'active') throw EnvironmentNotFound(environment);
}

/**
 * Current stored configuration of one environment (not merged). The cache
 * holds every configuration changed since the process started, current up to
 * the events seen; anything else comes from the read-model database once it
 * holds `minPosition`.
 */
export async function currentOf(ledger: Ledger, serviceId: string, environment: string, minPosition?: number): Promise<CurrentConfiguration | undefined> {
  const { cache } = ledger.readModels;
  const cached = cache.get(serviceId, environment);
  if (cached) return cached;
  await waitForPosition(ledger, minPosition, 'applied');
  const loaded = await loadCurrent(ledger.db, serviceId, environment);
  if (loaded) cache.put(loaded);
  return loaded;
}

/** The effective configuration: the deep merge along the inheritance chain, or a past version as it was stored. */
export async function readConfiguration(
  ledger: Ledger,
  serviceId: string,
  environment: string,
  options: { version?: number; asOf?: string; atPosition?: number; explain?: boolean; minPosition?: number } = {},
): Promise<ConfigurationView> {
  await waitForPosition(ledger, options.minPosition, 'seen');
  await requireEnvironment(ledger, environment);
  const at = pointInTimeOf(options);
  // The past is read from the log itself, as the environment stored it.
  if (at) return { ...(await configurationAt(ledger.store, serviceId, environment, at)), ...(options.asOf ? { asOf: options.asOf } : {}) };

  const lineage = ledger.readModels.environments.lineage(environment);
  const layers = (await Promise.all(lineage.map((env) => currentOf(ledger, serviceId, env, options.minPosition)))).filter(
    (layer): layer is CurrentConfiguration => layer !== undefined,
  );
  const own = layers.find((layer) => layer.environment === environment);
  if (layers.length === 0) throw ConfigurationNotFound(serviceId, environment);
  const explained = options.explain ? { sources: sourcesOf(layers), inheritance: inheritanceOf(ledger, lineage) } : {};
  if (lineage.length === 1 && own) return { ...viewOf(own), ...explained };

  const configuration = layers.reduce<JsonObject>((merged, layer) => deepMerge(merged, layer.configuration), {});
  const newest = layers.reduce((a, b) => (a.position > b.position ? a : b));
  return {
    serviceId,
    environment,
    version: own?.version ?? 0,
    checksum: own?.checksum ?? checksumOf({}),
    configuration,
    updatedAt: newest.updatedAt,
    updatedBy: newest.updatedBy,
    position: Number(newest.position),
    inheritedFrom: lineage.slice(0, -1),
    ...explained,
  };
}

function pointInTimeOf(options: { version?: number; asOf?: string; atPosition?: number }): PointInTime | undefined {
  const given = [options.version, options.asOf, options.atPosition].filter((value) => value !== undefined).length;
  if (given > 1) throw new DomainError('VALIDATION_ERROR', 400, 'ask for one of version, asOf and atPosition', { errors: [{ path: 'asOf', message: 'exclusive' }] });
  if (options.version !== undefined) return { version: options.version };
  if (options.asOf !== undefined) return { asOf: new Date(options.asOf) };
  if (options.atPosition !== undefined) return { atPosition: BigInt(options.atPosition) };
  return undefined;
}

const viewOf = ({ position, ...view }: CurrentConfiguration): ConfigurationView => ({ ...view, position: Number(position) });

function sourcesOf(layers: CurrentConfiguration[]): Record<string, string> {
  const sources: Record<string, string> = {};
  for (const layer of layers) for (const key of Object.keys(layer.configuration)) sources[key] = layer.environment;
  return sources;
}

/** The environment definitions an effective configuration was merged along: the changes that can move it without touching it. */
function inheritanceOf(ledger: Ledger, lineage: string[]): NonNullable<ConfigurationView['inheritance']> {
  return lineage.flatMap((id) => {
    const entry = ledger.readModels.environments.get(id);
    return entry ? [{ environment: id, inheritsFrom: entry.inheritsFrom, position: Number(entry.position), changedBy: entry.updatedBy, changedAt: entry.updatedAt }] : [];
  });
}
