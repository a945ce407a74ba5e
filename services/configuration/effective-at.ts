import { type ConfigurationChange, configurationStream } from '#events/configuration.ts';
import { type EnvironmentEvent, definitionOf, environmentStream } from '#events/environments.ts';
import type { EventStore, RecordedEvent } from '#infra/eventstore/port.ts';
import {
  type ChainLink,
  type EffectiveConfiguration,
  type Layer,
  effectiveConfiguration,
} from '#projections/effective/effective.ts';
import { lineageOf } from '#projections/environments/lineage.ts';
import { actorOf, occurredAt } from '#projections/projection.ts';
import { parseEvent } from '#events/parse.ts';
import { BUILT_IN_ENVIRONMENTS } from '#events/environments.ts';
import { configurationNotFound, noConfigurationAtThatTime, versionNotFound } from './errors.ts';
import { type PointInTime, eventAt, lastEventBefore } from './history.ts';

type Bound = (event: RecordedEvent) => boolean;

/** What an environment stream says at a point: its parents, what changed them last, and when it was removed. */
interface DefinitionAt {
  inheritsFrom: string[];
  inheritance: { position: bigint; changedAt: string | null; changedBy: string | null };
  removals: RecordedEvent[];
  active: boolean;
}

async function definitionAt(store: EventStore, id: string, bound: Bound): Promise<DefinitionAt | undefined> {
  const builtIn = BUILT_IN_ENVIRONMENTS.find((environment) => environment.id === id);
  let current: DefinitionAt | undefined = builtIn && {
    inheritsFrom: builtIn.inheritsFrom,
    inheritance: { position: 0n, changedAt: null, changedBy: null },
    removals: [],
    active: true,
  };
  for await (const recorded of store.readStream(environmentStream(id))) {
    if (!bound(recorded)) break;
    const event = parseEvent<EnvironmentEvent>(recorded);
    const change = { position: recorded.position, changedAt: occurredAt(recorded), changedBy: actorOf(recorded) };
    if (event.type === 'EnvironmentRemoved') {
      current = {
        ...(current ?? { inheritsFrom: [], inheritance: change }),
        removals: [...(current?.removals ?? []), recorded],
        active: false,
      };
      continue;
    }
    const { inheritsFrom } = definitionOf(event.data);
    const rewired = !current?.active || current.inheritsFrom.join('\u0000') !== inheritsFrom.join('\u0000');
    current = {
      inheritsFrom,
      inheritance: rewired ? change : current!.inheritance,
      removals: current?.removals ?? [],
      active: true,
    };
  }
  return current;
}

/**
 * The inheritance chain as it stood at a point, as the live directory would
 * have had it then: a parent removed after the child's definition is no longer
 * its parent (even if defined again later), and the removal is what changed
 * the child's inheritance.
 */
async function chainAt(store: EventStore, environment: string, bound: Bound): Promise<ChainLink[]> {
  const definitions = new Map<string, DefinitionAt | undefined>();
  const pending = [environment];
  while (pending.length > 0) {
    const id = pending.pop()!;
    if (definitions.has(id)) continue;
    const definition = await definitionAt(store, id, bound);
    definitions.set(id, definition);
    if (definition?.active) pending.push(...definition.inheritsFrom);
  }
  if (!definitions.get(environment)?.active) return [];
  const links = new Map<string, ChainLink>();
  for (const [id, definition] of definitions) {
    if (!definition?.active) continue;
    let { position, changedAt: updatedAt, changedBy: updatedBy } = definition.inheritance;
    const parents = definition.inheritsFrom.filter((parent) => {
      const removal = definitions
        .get(parent)
        ?.removals.find((candidate) => candidate.position > definition.inheritance.position);
      if (removal && removal.position > position)
        ({ position, updatedAt, updatedBy } = {
          position: removal.position,
          updatedAt: occurredAt(removal),
          updatedBy: actorOf(removal),
        });
      return definitions.get(parent)?.active === true && !removal;
    });
    links.set(id, { environment: id, inheritsFrom: parents, position, updatedAt, updatedBy });
  }
  const parentsOf = new Map([...links].map(([id, link]) => [id, link.inheritsFrom]));
  return lineageOf(environment, parentsOf).map((id) => links.get(id)!);
}

const layerOf = (event: RecordedEvent): Layer => {
  const data = event.data as unknown as ConfigurationChange;
  return {
    environment: data.environment,
    configuration: data.configuration,
    version: data.version,
    checksum: data.checksum,
    position: event.position,
    updatedAt: occurredAt(event),
    updatedBy: actorOf(event),
  };
};

/** The point as a bound on events: a version of the environment's own layer stands for that version's position. */
async function boundOf(
  store: EventStore,
  serviceId: string,
  environment: string,
  at: PointInTime,
): Promise<{ bound: Bound; describe: string }> {
  if ('version' in at) {
    const stream = configurationStream(serviceId, environment);
    const event = at.version >= 1 ? await eventAt(store, stream, BigInt(at.version - 1)) : undefined;
    if (!event) {
      if (!(await eventAt(store, stream, 0n))) throw configurationNotFound(serviceId, environment);
      throw versionNotFound(at.version);
    }
    return { bound: (candidate) => candidate.position <= event.position, describe: `version ${at.version}` };
  }
  if ('asOf' in at) return { bound: (event) => event.recordedAt <= at.asOf, describe: at.asOf.toISOString() };
  return { bound: (event) => event.position <= at.atPosition, describe: `position ${at.atPosition}` };
}

/** The effective configuration as it was at a version of the own layer, an instant or a log position, from the log itself. */
export async function effectiveAt(
  store: EventStore,
  serviceId: string,
  environment: string,
  at: PointInTime,
): Promise<EffectiveConfiguration> {
  const { bound, describe } = await boundOf(store, serviceId, environment, at);
  const chain = await chainAt(store, environment, bound);
  const layers = new Map<string, Layer>();
  for (const link of chain) {
    const event = await lastEventBefore(store, configurationStream(serviceId, link.environment), bound);
    if (event) layers.set(link.environment, layerOf(event));
  }
  const effective = effectiveConfiguration(serviceId, chain, (env) => layers.get(env));
  if (!effective) throw noConfigurationAtThatTime(serviceId, environment, describe);
  return effective;
}
