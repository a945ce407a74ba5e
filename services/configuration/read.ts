import type { JsonObject } from '#events/metadata.ts';
import type { CurrentConfiguration } from '#projections/configurations/cache.ts';
import { loadCurrent } from '#projections/configurations/queries.ts';
import {
  type ChainLink,
  type EffectiveConfiguration,
  type Layer,
  effectiveConfiguration,
} from '#projections/effective/effective.ts';
import type { PointInTime } from './history.ts';
import { effectiveAt } from './effective-at.ts';
import type { AppContext } from '#services/shared/context.ts';
import { readModelBehind, validationFailed } from '#services/shared/errors.ts';
import { environmentNotFound } from '#services/environments/errors.ts';
import { configurationNotFound } from './errors.ts';
import { environmentStream } from '#events/environments.ts';
import { loadState } from '#services/shared/command-handler.ts';
import { environmentDecider, initialStateFor } from '#services/environments/decider.ts';

export interface ConfigurationView {
  serviceId: string;
  environment: string;
  /** The effective document: the layers of the inheritance chain merged in order. */
  configuration: JsonObject;
  /** SHA-256 of the canonical JSON of the effective document. */
  checksum: string;
  /** The effective position: the newest change folded in (a layer, or what an environment of the chain inherits); it only moves forward. */
  position: number;
  /** The log's epoch: a restore starts a new one, and positions restart with it. Order by (epoch, position). */
  epoch: number;
  /** The environment's own version; 0 when it only inherits. */
  version: number;
  updatedAt: string;
  updatedBy: string;
  /** The environment's own layer, when it has one. */
  own: { configuration: JsonObject; checksum: string; version: number; position: number } | null;
  /** The environments merged before this one, farthest first; only when the environment inherits. */
  inheritedFrom?: string[];
  /** Top-level key -> the environment its value came from; with `explain`. */
  sources?: Record<string, string>;
  /** With `explain`: each environment of the chain, what it inherits, and who last changed that and when. */
  inheritance?: {
    environment: string;
    inheritsFrom: string[];
    position: number;
    changedBy: string | null;
    changedAt: string | null;
  }[];
  /** The instant asked for, when reading the past. */
  asOf?: string;
}

/** Waits (bounded) until the read models hold `minPosition`: the database ones, or only the in-memory ones. */
export async function waitForPosition(
  ctx: AppContext,
  minPosition: number | undefined,
  stage: 'seen' | 'applied' = 'applied',
): Promise<void> {
  if (minPosition === undefined) return;
  const { runner } = ctx.readModels;
  if (!(await runner.waitFor(BigInt(minPosition), ctx.readYourWritesTimeoutMs, stage))) {
    throw readModelBehind({
      minPosition,
      position: Number(stage === 'seen' ? runner.seenPosition : runner.position),
    });
  }
}

/** Known to the in-memory directory, or (just defined, not yet projected) to the log itself. */
export async function requireEnvironment(ctx: AppContext, environment: string): Promise<void> {
  if (ctx.readModels.environments.get(environment)) return;
  const { state } = await loadState(
    ctx.store,
    environmentStream(environment),
    environmentDecider,
    initialStateFor(environment),
  );
  if (state.status !== 'active') throw environmentNotFound(environment);
}

/**
 * Current stored configuration of one environment (not merged). The cache
 * holds every configuration changed since the process started, current up to
 * the events seen; anything else comes from the read-model database once it
 * holds `minPosition`.
 */
export async function currentOf(
  ctx: AppContext,
  serviceId: string,
  environment: string,
  minPosition?: number,
): Promise<CurrentConfiguration | undefined> {
  const { cache } = ctx.readModels;
  const cached = cache.get(serviceId, environment);
  if (cached) return cached;
  await waitForPosition(ctx, minPosition, 'applied');
  const loaded = await loadCurrent(ctx.db, serviceId, environment);
  if (loaded) cache.put(loaded);
  return loaded;
}

/** The chain's layers of one service, from the cache or the read model. */
async function layersOf(
  ctx: AppContext,
  serviceId: string,
  chain: ChainLink[],
  minPosition?: number,
): Promise<Map<string, Layer>> {
  const layers = new Map<string, Layer>();
  for (const link of chain) {
    const layer = await currentOf(ctx, serviceId, link.environment, minPosition);
    if (layer) layers.set(link.environment, layer);
  }
  return layers;
}

/** The effective configuration now, or undefined when no environment of the chain has a layer of the service. */
export async function effectiveNow(
  ctx: AppContext,
  serviceId: string,
  environment: string,
  minPosition?: number,
): Promise<EffectiveConfiguration | undefined> {
  const chain = ctx.readModels.environments.chainOf(environment);
  const layers = await layersOf(ctx, serviceId, chain, minPosition);
  return effectiveConfiguration(serviceId, chain, (env) => layers.get(env));
}

/**
 * The effective configuration (merged along the inheritance chain, with its
 * checksum and effective position; the environment's own layer under `own`),
 * now or at a past version of the own layer, instant or log position.
 */
export async function readConfiguration(
  ctx: AppContext,
  serviceId: string,
  environment: string,
  options: { version?: number; asOf?: string; atPosition?: number; explain?: boolean; minPosition?: number } = {},
): Promise<ConfigurationView> {
  await waitForPosition(ctx, options.minPosition, 'seen');
  const at = pointInTimeOf(options);
  // The past is read from the log itself, also of an environment removed since.
  if (!at) await requireEnvironment(ctx, environment);
  const epoch = ctx.readModels.epoch.current;
  if (at)
    return {
      ...viewOf(await effectiveAt(ctx.store, serviceId, environment, at), epoch),
      ...(options.asOf ? { asOf: options.asOf } : {}),
    };
  const chain = ctx.readModels.environments.chainOf(environment);
  const layers = await layersOf(ctx, serviceId, chain, options.minPosition);
  const effective = effectiveConfiguration(serviceId, chain, (env) => layers.get(env));
  if (!effective) throw configurationNotFound(serviceId, environment);
  if (!options.explain) return viewOf(effective, epoch);
  return { ...viewOf(effective, epoch), sources: sourcesOf([...layers.values()]), inheritance: inheritanceOf(chain) };
}

function pointInTimeOf(options: { version?: number; asOf?: string; atPosition?: number }): PointInTime | undefined {
  const given = [options.version, options.asOf, options.atPosition].filter((value) => value !== undefined).length;
  if (given > 1)
    throw validationFailed([{ path: 'asOf', message: 'exclusive' }], 'ask for one of version, asOf and atPosition');
  if (options.version !== undefined) return { version: options.version };
  if (options.asOf !== undefined) return { asOf: new Date(options.asOf) };
  if (options.atPosition !== undefined) return { atPosition: BigInt(options.atPosition) };
  return undefined;
}

/** What every road answers for a configuration: the effective document, checksum and position, and the own layer under `own`. */
export function viewOf(effective: EffectiveConfiguration, epoch: number): ConfigurationView {
  const { own, layers: _layers, inheritedFrom, position, ...view } = effective;
  return {
    ...view,
    position: Number(position),
    epoch,
    own: own ? { ...own, position: Number(own.position) } : null,
    ...(inheritedFrom.length > 0 ? { inheritedFrom } : {}),
  };
}

function sourcesOf(layers: Layer[]): Record<string, string> {
  const sources: Record<string, string> = {};
  for (const layer of layers) for (const key of Object.keys(layer.configuration)) sources[key] = layer.environment;
  return sources;
}

/** The environment definitions an effective configuration was merged along: the changes that can move it without touching it. */
function inheritanceOf(chain: ChainLink[]): NonNullable<ConfigurationView['inheritance']> {
  return chain.map((link) => ({
    environment: link.environment,
    inheritsFrom: link.inheritsFrom,
    position: Number(link.position),
    changedBy: link.updatedBy,
    changedAt: link.updatedAt,
  }));
}
