import type { ConfigurationEvent } from '#events/configuration.ts';
import { CONFIGURATION_EVENT_TYPES } from '#events/configuration.ts';
import { parseEvent } from '#events/parse.ts';
import { type Projection, actorOf, metadataOf, occurredAt } from '../projection.ts';

const types = new Set<string>(CONFIGURATION_EVENT_TYPES);

/** Current configuration per (service, environment) and one history row per version. */
export const configurationsProjection: Projection = {
  name: 'configurations',
  async apply(tx, events) {
    const rows = events
      .filter((recorded) => types.has(recorded.type))
      .map((recorded) => {
        const event = parseEvent<ConfigurationEvent>(recorded);
        const { data } = event;
        return {
          service_id: data.serviceId,
          environment: data.environment,
          version: data.version,
          configuration_data: data.configuration,
          checksum: data.checksum,
          change_type: data.operation,
          changed_keys: data.changedKeys,
          changes: data.changes,
          change_reason: data.changeReason ?? null,
          restored_version: event.type === 'ConfigurationRolledBack' ? event.data.restoredVersion : null,
          changed_by: actorOf(recorded),
          changed_at: occurredAt(recorded),
          correlation_id: metadataOf(recorded).correlationId ?? null,
          approval: data.approval ?? null,
          position: recorded.position.toString(),
        };
      });
    if (rows.length === 0) return;
    const batch = JSON.stringify(rows);
    await tx.query(
      `INSERT INTO configuration_history
         (service_id, environment, version, configuration_data, checksum, change_type, changed_keys, changes, change_reason,
          restored_version, changed_by, changed_at, correlation_id, approval, position)
       SELECT service_id, environment, version, configuration_data, checksum, change_type,
              ARRAY(SELECT jsonb_array_elements_text(changed_keys)), changes, change_reason,
              restored_version, changed_by, changed_at, correlation_id, approval, position
       FROM jsonb_to_recordset($1::jsonb) AS r(service_id text, environment text, version integer, configuration_data jsonb, checksum text,
         change_type text, changed_keys jsonb, changes jsonb, change_reason text, restored_version integer, changed_by text,
         changed_at timestamptz, correlation_id text, approval jsonb, position bigint)
       ON CONFLICT DO NOTHING`,
      [batch],
    );
    // The newest version per configuration wins; `created_*` come from the oldest in the batch and only count for a new row.
    await tx.query(
      `INSERT INTO service_configurations
         (service_id, environment, version, configuration_data, checksum, created_at, created_by, updated_at, updated_by, position)
       SELECT DISTINCT ON (service_id, environment)
              service_id, environment, version, configuration_data, checksum,
              first_value(changed_at) OVER w, first_value(changed_by) OVER w, changed_at, changed_by, position
       FROM jsonb_to_recordset($1::jsonb) AS r(service_id text, environment text, version integer, configuration_data jsonb, checksum text,
         changed_by text, changed_at timestamptz, position bigint)
       WINDOW w AS (PARTITION BY service_id, environment ORDER BY version)
       ORDER BY service_id, environment, version DESC
       ON CONFLICT (service_id, environment) DO UPDATE SET
         version = EXCLUDED.version, configuration_data = EXCLUDED.configuration_data, checksum = EXCLUDED.checksum,
         updated_at = EXCLUDED.updated_at, updated_by = EXCLUDED.updated_by, position = EXCLUDED.position
       WHERE service_configurations.version < EXCLUDED.version`,
      [batch],
    );
  },
};
