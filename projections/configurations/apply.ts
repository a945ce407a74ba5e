import type { ConfigurationEvent } from '#events/configuration.ts';
import { CONFIGURATION_EVENT_TYPES } from '#events/configuration.ts';
import { asDomainEvent } from '#services/shared/command-handler.ts';
import { type Projection, actorOf, metadataOf, occurredAt } from '../projection.ts';

const types = new Set<string>(CONFIGURATION_EVENT_TYPES);

export const configurationsProjection: Projection = {
  name: 'configurations',
  async apply(tx, recorded) {
    if (!types.has(recorded.type)) return;
    const event = asDomainEvent<ConfigurationEvent>(recorded);
    const data = event.data;
    const actor = actorOf(recorded);
    const at = occurredAt(recorded);
    await tx.query(
      `INSERT INTO service_configurations
         (service_id, environment, version, configuration_data, checksum, created_at, created_by, updated_at, updated_by, position)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $6, $7, $8)
       ON CONFLICT (service_id, environment) DO UPDATE SET
         version = EXCLUDED.version, configuration_data = EXCLUDED.configuration_data, checksum = EXCLUDED.checksum,
         updated_at = EXCLUDED.updated_at, updated_by = EXCLUDED.updated_by, position = EXCLUDED.position
       WHERE service_configurations.version < EXCLUDED.version`,
      [data.serviceId, data.environment, data.version, JSON.stringify(data.configuration), data.checksum, at, actor, recorded.position.toString()],
    );
    await tx.query(
      `INSERT INTO configuration_history
         (service_id, environment, version, configuration_data, checksum, change_type, changed_keys, changes, change_reason,
          restored_version, changed_by, changed_at, correlation_id, position)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
       ON CONFLICT DO NOTHING`,
      [
        data.serviceId,
        data.environment,
        data.version,
        JSON.stringify(data.configuration),
        data.checksum,
        data.operation,
        data.changedKeys,
        JSON.stringify(data.changes),
        data.changeReason ?? null,
        event.type === 'ConfigurationRolledBack' ? event.data.restoredVersion : null,
        actor,
        at,
        metadataOf(recorded).correlationId ?? null,
        recorded.position.toString(),
      ],
    );
  },
};
