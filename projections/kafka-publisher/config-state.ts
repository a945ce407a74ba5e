import type { JsonObject } from '#events/metadata.ts';
import type { RecordedEvent } from '#infra/eventstore/port.ts';
import type { SqlExecutor } from '#infra/postgres/database.ts';
import { checksumOf } from '#services/shared/canonical.ts';
import { deepMerge } from '#services/configuration/paths.ts';
import { ConfigurationCache, type CurrentConfiguration } from '../configurations/cache.ts';
import type { EnvironmentDirectory } from '../environments/directory.ts';

/** The value on `configledger.config-state.v1` for key `serviceId/environment`. */
export interface ConfigStateMessage {
  serviceId: string;
  environment: string;
  /** The environment's own version (0 when only inherited values exist). */
  version: number;
  /** Log position of the newest change folded in; consumers order updates by it. */
  position: number;
  /** SHA-256 of the canonical JSON of `configuration`. */
  checksum: string;
  /** The effective document: merged along the inheritance chain. `${SECRET:...}` references stay unresolved. */
  configuration: JsonObject;
  inheritedFrom: string[];
  changedKeys: string[];
  updatedAt: string;
  updatedBy: string;
}

export const configStateKey = (serviceId: string, environment: string) => `${serviceId}/${environment}`;

/**
 * The publisher's own fold of the configurations, as of its checkpoint, to
 * compute the effective documents an event changes (the environment's and every
 * environment inheriting from it).
 */
export class ConfigStateFold {
  private readonly documents = new ConfigurationCache();
  private readonly servicesByEnvironment = new Map<string, Set<string>>();

  constructor(private readonly environments: EnvironmentDirectory) {}

  /** Seeds the fold with every configuration as it stood at `position`, from the history read model. */
  async seed(db: SqlExecutor, position: bigint): Promise<void> {
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
      this.remember({
        serviceId: row.service_id,
        environment: row.environment,
        version: row.version,
        checksum: row.checksum,
        configuration: row.configuration_data,
        updatedAt: new Date(row.changed_at).toISOString(),
        updatedBy: row.changed_by,
        position: BigInt(row.position),
      });
    }
  }

  /** Folds a batch in and answers the effective documents it changed, one per key. */
  apply(events: RecordedEvent[]): ConfigStateMessage[] {
    const touched = new Map<string, { serviceId: string; environment: string; changedKeys: Set<string> }>();
    const touch = (serviceId: string, environment: string, changedKeys: string[]) => {
      for (const dependent of this.environments.dependentsOf(environment)) {
        const key = configStateKey(serviceId, dependent);
        const entry = touched.get(key) ?? { serviceId, environment: dependent, changedKeys: new Set<string>() };
        changedKeys.forEach((changed) => entry.changedKeys.add(changed));
        touched.set(key, entry);
      }
    };
    for (const event of events) {
      if (event.type.startsWith('Configuration')) {
        this.documents.applyEvents([event]);
        const data = event.data as { serviceId: string; environment: string; changedKeys: string[] };
        this.index(data.serviceId, data.environment);
        touch(data.serviceId, data.environment, data.changedKeys);
      } else if (event.type.startsWith('Environment')) {
        const id = String(event.data.id);
        for (const serviceId of this.allServices()) touch(serviceId, id, []);
      }
    }
    return [...touched.values()].flatMap(({ serviceId, environment, changedKeys }) => {
      const message = this.effective(serviceId, environment);
      return message ? [{ ...message, changedKeys: [...changedKeys].sort() }] : [];
    });
  }

  private effective(serviceId: string, environment: string): Omit<ConfigStateMessage, 'changedKeys'> | undefined {
    const lineage = this.environments.lineage(environment);
    const layers = lineage
      .map((env) => this.documents.get(serviceId, env))
      .filter((layer): layer is CurrentConfiguration => layer !== undefined);
    if (layers.length === 0) return undefined;
    const configuration = layers.reduce<JsonObject>((merged, layer) => deepMerge(merged, layer.configuration), {});
    const newest = layers.reduce((a, b) => (a.position > b.position ? a : b));
    return {
      serviceId,
      environment,
      version: layers.find((layer) => layer.environment === environment)?.version ?? 0,
      position: Number(newest.position),
      checksum: checksumOf(configuration),
      configuration,
      inheritedFrom: lineage.slice(0, -1),
      updatedAt: newest.updatedAt,
      updatedBy: newest.updatedBy,
    };
  }

  private remember(entry: CurrentConfiguration): void {
    this.documents.put(entry);
    this.index(entry.serviceId, entry.environment);
  }

  private index(serviceId: string, environment: string): void {
    const services = this.servicesByEnvironment.get(environment) ?? new Set<string>();
    services.add(serviceId);
    this.servicesByEnvironment.set(environment, services);
  }

  private allServices(): Set<string> {
    return new Set([...this.servicesByEnvironment.values()].flatMap((services) => [...services]));
  }
}
