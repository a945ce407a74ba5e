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
          forced: data.forced ?? null,
          position: recorded.position.toString(),
          event_id: recorded.id,
        };
      });
    if (rows.length === 0) return;
    const batch = JSON.stringify(rows);
    await tx.query(
      `INSERT INTO configuration_history
         (service_id, environment, version, configuration_data, checksum, change_type, changed_keys, changes, change_reason,
          restored_version, changed_by, changed_at, correlation_id, approval, forced, position, event_id)
       SELECT service_id, environment, version, configuration_data, checksum, change_type,
              ARRAY(SELECT jsonb_array_elements_text(changed_keys)), changes, change_reason,
              restored_version, changed_by, changed_at, correlation_id, approval, forced, position, event_id
       FROM jsonb_to_recordset($1::jsonb) AS r(service_id text, environment text, version integer, configuration_data jsonb, checksum text,
         change_type text, changed_keys jsonb, changes jsonb, change_reason text, restored_version integer, changed_by text,
         changed_at timestamptz, correlation_id text, approval jsonb, forced jsonb, position bigint, event_id uuid)
       ON CONFLICT (service_id, environment, version) DO NOTHING`,
      [batch],
    );
    // The same event again (a redelivery, a rebuild over rows already there) is nothing; another event for a version
    // already held would rewrite history: the projection stops, and says where.
    const { rows: clashes } = await tx.query<{
      service_id: string;
      environment: string;
      version: number;
      position: string;
    }>(
      `SELECT r.service_id, r.environment, r.version, r.position::text AS position
       FROM jsonb_to_recordset($1::jsonb) AS r(service_id text, environment text, version integer, position bigint, event_id uuid)
       JOIN configuration_history h USING (service_id, environment, version)
       WHERE h.event_id IS NOT NULL AND h.event_id <> r.event_id
       LIMIT 1`,
      [batch],
    );
    const clash = clashes[0];
    if (clash)
      throw new Error(
        `the event at position ${clash.position} repeats version ${clash.version} of ${clash.service_id}/${clash.environment}, which another event recorded`,
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
