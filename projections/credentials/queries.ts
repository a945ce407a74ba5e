import type { SqlExecutor } from '#infra/postgres/database.ts';

const iso = (value: unknown) => (value === null || value === undefined ? null : new Date(value as string).toISOString());

export async function listCredentials(db: SqlExecutor, filter: { serviceId?: string; environment?: string }) {
  const { rows } = await db.query<Record<string, unknown>>(
    `SELECT credential_key, service_id, environment, credential_type, sensitivity, description, tags, version, expires_at, next_rotation_at,
            rotated_at, created_at, created_by
     FROM credentials WHERE status = 'active' AND ($1::text IS NULL OR service_id = $1) AND ($2::text IS NULL OR environment = $2)
     ORDER BY credential_key`,
    [filter.serviceId ?? null, filter.environment ?? null],
  );
  return rows.map((row) => ({
    key: row.credential_key,
    serviceId: row.service_id,
    environment: row.environment,
    type: row.credential_type,
    sensitivity: row.sensitivity,
    description: row.description,
    tags: row.tags,
    version: row.version,
    expiresAt: iso(row.expires_at),
    nextRotationAt: iso(row.next_rotation_at),
    rotatedAt: iso(row.rotated_at),
    createdAt: iso(row.created_at),
    createdBy: row.created_by,
  }));
}

export async function listAccess(db: SqlExecutor, key: string, limit: number) {
  const { rows } = await db.query<Record<string, unknown>>(
    `SELECT position, operation, outcome, version, actor, service_id, source_ip, user_agent, reason, accessed_at
     FROM credential_access_log WHERE credential_key = $1 ORDER BY position DESC LIMIT $2`,
    [key, limit],
  );
  return rows.map((row) => ({
    position: Number(row.position),
    operation: row.operation,
    outcome: row.outcome,
    version: row.version,
    actor: row.actor,
    serviceId: row.service_id,
    sourceIp: row.source_ip,
    userAgent: row.user_agent,
    reason: row.reason,
    at: iso(row.accessed_at),
  }));
}
