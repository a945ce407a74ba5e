import type { JsonObject } from '#events/metadata.ts';
import type { EffectiveUpdate } from '../effective/fold.ts';

/**
 * The value on `configledger.config-state.v1` for key `serviceId/environment`:
 * the effective configuration, as HTTP answers it. Its JSON Schema is
 * `events/config-state.schema.json`.
 */
export interface ConfigStateMessage {
  serviceId: string;
  environment: string;
  /** The environment's own version (0 when it only inherits). */
  version: number;
  /** The effective position; consumers order updates by it. */
  position: number;
  /** SHA-256 of the canonical JSON of `configuration`. */
  checksum: string;
  /** The effective document: merged along the inheritance chain. `${SECRET:...}` references stay unresolved. */
  configuration: JsonObject;
  inheritedFrom: string[];
  /** The environment's own layer, when it has one. */
  own: { configuration: JsonObject; checksum: string; version: number; position: number } | null;
  /** Effective paths this update changed. */
  changedKeys: string[];
  updatedAt: string;
  updatedBy: string;
}

export const configStateKey = (serviceId: string, environment: string) => `${serviceId}/${environment}`;

/** The record for an effective update; null (a tombstone, so compaction forgets the key) when the configuration is gone. */
export function configStateOf(update: EffectiveUpdate): ConfigStateMessage | null {
  const { effective } = update;
  if (!effective) return null;
  return {
    serviceId: effective.serviceId,
    environment: effective.environment,
    version: effective.version,
    position: Number(effective.position),
    checksum: effective.checksum,
    configuration: effective.configuration,
    inheritedFrom: effective.inheritedFrom,
    own: effective.own ? { ...effective.own, position: Number(effective.own.position) } : null,
    changedKeys: update.changes.map((change) => change.path),
    updatedAt: effective.updatedAt,
    updatedBy: effective.updatedBy,
  };
}
