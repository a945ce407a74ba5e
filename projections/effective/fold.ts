import type { ValueChange } from '#events/configuration.ts';
import type { JsonObject } from '#events/metadata.ts';
import { parseEvent } from '#events/parse.ts';
import type { EventStore, RecordedEvent } from '#infra/eventstore/port.ts';
import type { SqlExecutor } from '#infra/postgres/database.ts';
import { diffDocuments } from '#events/paths.ts';
import { ConfigurationCache } from '../configurations/cache.ts';
import { EnvironmentDirectory } from '../environments/directory.ts';
import { type ParentsOf, dependentsOf, lineageOf, withoutEnvironment } from '../environments/lineage.ts';
import { type EffectiveConfiguration, effectiveConfiguration } from './effective.ts';

/** One effective configuration an event changed: what it is now (undefined: gone) and how it differs from before. */
export interface EffectiveUpdate {
  serviceId: string;
  environment: string;
  effective: EffectiveConfiguration | undefined;
  changes: ValueChange[];
  /** The event that changed it: a layer of its chain, or what an environment of its chain inherits. */
  cause: RecordedEvent;
}

/**
 * Every configuration layer and environment definition, folded from the log
 * in order, so that for each event it can say exactly which effective
 * configurations changed and how: a layer changes its environment and every
 * environment inheriting from it; a re-parenting, a new environment or a
 * removal changes the environments beneath it. Followers of the log (the
 * Kafka state topic, WebSocket pushes) each keep one at their own position.
 */
export class EffectiveFold {
  private readonly environments = new EnvironmentDirectory();
  private readonly layers = new ConfigurationCache();
  private readonly servicesByEnvironment = new Map<string, Set<string>>();

  /** Starts at `position`: the environments from the log itself, the layers from the history read model (which must hold `position`). */
  async seed(store: EventStore, db: SqlExecutor, position: bigint): Promise<void> {
    if (position === 0n) return;
    for await (const event of store.readAll({ toPosition: position, filter: { streamPrefixes: ['environment-'] } }))
      this.environments.applyEvents([event]);
    const { rows } = await db.query<{
      service_id: string;
      environment: string;
      version: number;
      checksum: string;
      configuration_data: JsonObject;
      changed_at: Date | string;
      changed_by: string;
      position: string;
    }>(
      `SELECT DISTINCT ON (service_id, environment) service_id, environment, version, checksum, configuration_data, changed_at, changed_by, position
       FROM configuration_history WHERE position <= $1 ORDER BY service_id, environment, version DESC`,
      [position.toString()],
    );
    for (const row of rows) {
      this.layers.put({
        serviceId: row.service_id,
        environment: row.environment,
        version: row.version,
        checksum: row.checksum,
        configuration: row.configuration_data,
        updatedAt: new Date(row.changed_at).toISOString(),
        updatedBy: row.changed_by,
        position: BigInt(row.position),
      });
      this.index(row.service_id, row.environment);
    }
  }

  /** Folds one event in and answers every effective configuration it changed. */
  apply(recorded: RecordedEvent): EffectiveUpdate[] {
    const event = parseEvent(recorded);
    let serviceIds: Iterable<string>;
    let environments: string[];
    if (
      event.type === 'ConfigurationCreated' ||
      event.type === 'ConfigurationUpdated' ||
      event.type === 'ConfigurationRolledBack'
    ) {
      serviceIds = [event.data.serviceId];
      environments = this.environments.dependentsOf(event.data.environment);
    } else if (
      event.type === 'EnvironmentDefined' ||
      event.type === 'EnvironmentUpdated' ||
      event.type === 'EnvironmentRemoved'
    ) {
      const id = event.data.id;
      const before = this.environments.parentsOf();
      const after: ParentsOf =
        event.type === 'EnvironmentRemoved'
          ? withoutEnvironment(before, id)
          : new Map(before).set(id, event.data.inheritsFrom);
      // Who depends on an environment is decided by the others' parents, which this event does not change.
      environments = [...new Set([...dependentsOf(id, before), ...(event.type === 'EnvironmentRemoved' ? [] : [id])])];
      const involved = new Set(
        environments.flatMap((environment) => [...lineageOf(environment, before), ...lineageOf(environment, after)]),
      );
      serviceIds = new Set(
        [...involved].flatMap((environment) => [...(this.servicesByEnvironment.get(environment) ?? [])]),
      );
    } else {
      return [];
    }
    const pairs = [...serviceIds].flatMap((serviceId) =>
      environments.map((environment) => ({ serviceId, environment })),
    );
    const before = pairs.map(({ serviceId, environment }) => this.effective(serviceId, environment));
    this.layers.applyEvents([recorded]);
    this.environments.applyEvents([recorded]);
    if ('serviceId' in event.data && 'environment' in event.data)
      this.index(event.data.serviceId, event.data.environment);
    return pairs.flatMap(({ serviceId, environment }, index) => {
      const previous = before[index];
      const effective = this.effective(serviceId, environment);
      if (previous?.position === effective?.position && previous?.checksum === effective?.checksum) return [];
      const changes = diffDocuments(previous?.configuration ?? {}, effective?.configuration ?? {});
      return [{ serviceId, environment, effective, changes, cause: recorded }];
    });
  }

  /** The effective configuration at the fold's position. */
  effective(serviceId: string, environment: string): EffectiveConfiguration | undefined {
    return effectiveConfiguration(serviceId, this.environments.chainOf(environment), (env) =>
      this.layers.get(serviceId, env),
    );
  }

  private index(serviceId: string, environment: string): void {
    const services = this.servicesByEnvironment.get(environment) ?? new Set<string>();
    services.add(serviceId);
    this.servicesByEnvironment.set(environment, services);
  }
}
