import type { ConfigurationEvent } from '#events/configuration.ts';
import { CONFIGURATION_EVENT_TYPES } from '#events/configuration.ts';
import type { JsonObject } from '#events/metadata.ts';
import type { RecordedEvent } from '#infra/eventstore/port.ts';
import { parseEvent } from '#events/parse.ts';
import { LRUCache } from 'lru-cache';
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

/** What an entry weighs in memory, roughly: its document as UTF-16 text plus the fields around it. */
const weightOf = (entry: CurrentConfiguration) => 2 * JSON.stringify(entry.configuration).length + 256;

/**
 * Current configurations in process memory, kept current by the projection
 * runner from the events themselves. An entry only ever moves to a higher
 * version, so a slow database read can never put back an older document.
 *
 * With `maxBytes`, the documents are held in a least-recently-used cache of
 * that weight; what falls out is read from the read model again on its next
 * read. The newest version seen of every configuration stays known (a few
 * dozen bytes each), so an evicted entry cannot come back older than it was.
 */
export class ConfigurationCache {
  private readonly newest = new Map<string, number>();
  private readonly entries: Map<string, CurrentConfiguration> | LRUCache<string, CurrentConfiguration>;
  hits = 0;
  misses = 0;

  constructor(maxBytes?: number) {
    this.entries =
      maxBytes === undefined
        ? new Map()
        : new LRUCache<string, CurrentConfiguration>({ maxSize: maxBytes, sizeCalculation: weightOf });
  }

  get(serviceId: string, environment: string): CurrentConfiguration | undefined {
    const entry = this.entries.get(keyOf(serviceId, environment));
    if (entry) this.hits++;
    else this.misses++;
    return entry;
  }

  put(entry: CurrentConfiguration): void {
    const key = keyOf(entry.serviceId, entry.environment);
    const newest = this.newest.get(key);
    if (newest !== undefined && newest > entry.version) return;
    if (newest === entry.version && this.entries.has(key)) return;
    this.newest.set(key, entry.version);
    this.entries.set(key, entry);
  }

  /** Entries held now (with a bound, fewer than the configurations known). */
  get size(): number {
    return this.entries.size;
  }

  /** The weight of what is held (0 without a bound: nothing is weighed). */
  get bytes(): number {
    return this.entries instanceof LRUCache ? this.entries.calculatedSize : 0;
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
