import type { ConfigStateMessage } from '#events/config-state.ts';
import type { EffectiveUpdate } from '../effective/fold.ts';

export type { ConfigStateMessage } from '#events/config-state.ts';

export const configStateKey = (serviceId: string, environment: string) => `${serviceId}/${environment}`;

/** The record for an effective update; null (a tombstone, so compaction forgets the key) when the configuration is gone. */
export function configStateOf(update: EffectiveUpdate, epoch: number): ConfigStateMessage | null {
  const { effective } = update;
  if (!effective) return null;
  return {
    serviceId: effective.serviceId,
    environment: effective.environment,
    version: effective.version,
    position: Number(effective.position),
    epoch,
    checksum: effective.checksum,
    configuration: effective.configuration,
    inheritedFrom: effective.inheritedFrom,
    own: effective.own ? { ...effective.own, position: Number(effective.own.position) } : null,
    changedKeys: update.changes.map((change) => change.path),
    updatedAt: effective.updatedAt,
    updatedBy: effective.updatedBy,
  };
}
