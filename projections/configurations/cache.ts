import type { ConfigurationEvent } from '#events/configuration.ts';
import { CONFIGURATION_EVENT_TYPES } from '#events/configuration.ts';
import type { JsonObject } from '#events/metadata.ts';
import type { RecordedEvent } from '#infra/eventstore/port.ts';
import { parseEvent } from '#events/parse.ts';
import { actorOf, occurredAt } from '../projection.ts';

export interface CurrentConfiguration {
  serviceId: string;
  environment: string;
  version: number;
  checksum: string;
  configuration: JsonObject;
  updatedAt: string;
  updatedBy: string;
  position: bigint;
}

const types = new Set<string>(CONFIGURATION_EVENT_TYPES);
const keyOf = (serviceId: string, environment: string) => `${serviceId}\u0000${environment}`;

/**
 * Current configurations in process memory, kept current by the projection
 * runner from the events themselves. An entry only ever moves to a higher
 * version, so a slow database read can never put back an older document.
 */
export class ConfigurationCache {
  private readonly entries = new Map<string, CurrentConfiguration>();
  hits = 0;
  misses = 0;

  get(serviceId: string, environment: string): CurrentConfiguration | undefined {
    const entry = this.entries.get(keyOf(serviceId, environment));
    if (entry) this.hits++;
    else this.misses++;
    return entry;
  }

  put(entry: CurrentConfiguration): void {
    const key = keyOf(entry.serviceId, entry.environment);
    const existing = this.entries.get(key);
    if (!existing || existing.version < entry.version) this.entries.set(key, entry);
  }

  get size(): number {
    return this.entries.size;
  }

  applyEvents(events: RecordedEvent[]): void {
    for (const recorded of events) {
      if (!types.has(recorded.type)) continue;
      const { data } = parseEvent<ConfigurationEvent>(recorded);
      this.put({
        serviceId: data.serviceId,
        environment: data.environment,
        version: data.version,
        checksum: data.checksum,
        configuration: data.configuration,
        updatedAt: occurredAt(recorded),
        updatedBy: actorOf(recorded),
        position: recorded.position,
      });
    }
  }
}
