import type { InheritedIssue, ValueChange } from '#events/configuration.ts';
import type { JsonObject } from '#events/metadata.ts';
import type { SqlExecutor } from '#infra/postgres/database.ts';
import type { CurrentConfiguration } from './cache.ts';

export interface VersionEntry {
  version: number;
  checksum: string;
  changeType: string;
  changedKeys: string[];
  changes: ValueChange[];
  changedBy: string;
  changeReason: string | null;
  restoredVersion: number | null;
  /** Who approved the change, when it went through a change request. */
  approval: { changeRequestId: string; approvedBy: string[] } | null;
  /** Set when an admin forced the change past the schema of environments inheriting from this one: what it broke. */
  forced: { inheritedErrors: InheritedIssue[] } | null;
  changedAt: string;
  position: number;
}

interface CurrentRow {
  service_id: string;
  environment: string;
  version: number;
  checksum: string;
  configuration_data: JsonObject;
  updated_at: Date | string;
  updated_by: string;
  position: string;
  [column: string]: unknown;
}

const iso = (value: Date | string) => new Date(value).toISOString();

const toCurrent = (row: CurrentRow): CurrentConfiguration => ({
  serviceId: row.service_id,
  environment: row.environment,
  version: row.version,
  checksum: row.checksum,
  configuration: row.configuration_data,
  updatedAt: iso(row.updated_at),
  updatedBy: row.updated_by,
  position: BigInt(row.position),
});

export async function loadCurrent(
  db: SqlExecutor,
  serviceId: string,
  environment: string,
): Promise<CurrentConfiguration | undefined> {
  const { rows } = await db.query<CurrentRow>(
    `SELECT service_id, environment, version, checksum, configuration_data, updated_at, updated_by, position
     FROM service_configurations WHERE service_id = $1 AND environment = $2`,
    [serviceId, environment],
  );
  return rows[0] && toCurrent(rows[0]);
}

/** Newest first; `beforeVersion` pages backwards. */
export async function listVersions(
  db: SqlExecutor,
  serviceId: string,
  environment: string,
  page: { limit: number; beforeVersion?: number },
): Promise<VersionEntry[]> {
  const { rows } = await db.query<{
    version: number;
    checksum: string;
    change_type: string;
    changed_keys: string[];
    changes: ValueChange[];
    changed_by: string;
    change_reason: string | null;
    restored_version: number | null;
    approval: { changeRequestId: string; approvedBy: string[] } | null;
    forced: VersionEntry['forced'];
    changed_at: Date | string;
    position: string;
  }>(
    `SELECT version, checksum, change_type, changed_keys, changes, changed_by, change_reason, restored_version, approval, forced, changed_at, position
     FROM configuration_history
     WHERE service_id = $1 AND environment = $2 AND ($3::integer IS NULL OR version < $3)
     ORDER BY version DESC LIMIT $4`,
    [serviceId, environment, page.beforeVersion ?? null, page.limit],
  );
  return rows.map((row) => ({
    version: row.version,
    checksum: row.checksum,
    changeType: row.change_type,
    changedKeys: row.changed_keys,
    changes: row.changes,
    changedBy: row.changed_by,
    changeReason: row.change_reason,
    restoredVersion: row.restored_version,
    approval: row.approval,
    forced: row.forced,
    changedAt: iso(row.changed_at),
    position: Number(row.position),
  }));
}

/** Services holding a configuration in any of these environments. */
export async function servicesIn(db: SqlExecutor, environments: string[]): Promise<string[]> {
  const { rows } = await db.query<{ service_id: string }>(
    'SELECT DISTINCT service_id FROM service_configurations WHERE environment = ANY($1) ORDER BY service_id',
    [environments],
  );
  return rows.map((row) => row.service_id);
}

export interface ServiceSummary {
  serviceId: string;
  environments: { environment: string; version: number; checksum: string; updatedAt: string; updatedBy: string }[];
  lastChangedAt: string;
}

/**
 * One page of the services that have a configuration, by service id: each
 * with its environments' own versions and last change. `services` limits the
 * list to a caller's scope (undefined: every service).
 */
export async function listServices(
  db: SqlExecutor,
  page: { limit: number; cursor?: string; prefix?: string; environment?: string; services?: string[] },
): Promise<ServiceSummary[]> {
  const { rows } = await db.query<{
    service_id: string;
    environment: string;
    version: number;
    checksum: string;
    updated_at: Date | string;
    updated_by: string;
  }>(
    `WITH page AS (
       SELECT DISTINCT service_id FROM service_configurations
       WHERE ($1::text IS NULL OR service_id > $1) AND ($2::text IS NULL OR starts_with(service_id, $2))
         AND ($3::text IS NULL OR environment = $3) AND ($4::text[] IS NULL OR service_id = ANY($4))
       ORDER BY service_id LIMIT $5)
     SELECT c.service_id, c.environment, c.version, c.checksum, c.updated_at, c.updated_by
     FROM service_configurations c JOIN page USING (service_id)
     WHERE ($3::text IS NULL OR c.environment = $3)
     ORDER BY c.service_id, c.environment`,
    [page.cursor ?? null, page.prefix ?? null, page.environment ?? null, page.services ?? null, page.limit],
  );
  const services = new Map<string, ServiceSummary>();
  for (const row of rows) {
    const updatedAt = iso(row.updated_at);
    const summary = services.get(row.service_id) ?? {
      serviceId: row.service_id,
      environments: [],
      lastChangedAt: updatedAt,
    };
    summary.environments.push({
      environment: row.environment,
      version: row.version,
      checksum: row.checksum,
      updatedAt,
      updatedBy: row.updated_by,
    });
    if (updatedAt > summary.lastChangedAt) summary.lastChangedAt = updatedAt;
    services.set(row.service_id, summary);
  }
  return [...services.values()];
}
