import type { SqlExecutor } from '#infra/postgres/database.ts';

const iso = (value: unknown) =>
  value === null || value === undefined ? null : new Date(value as string).toISOString();

/** One page of credential metadata by key (after `cursor`), of the services the caller may see (undefined: all). */
export async function listCredentials(
  db: SqlExecutor,
  page: { serviceId?: string; environment?: string; services?: string[]; limit: number; cursor?: string },
) {
  const { rows } = await db.query<Record<string, unknown>>(
    `SELECT credential_key, service_id, environment, credential_type, sensitivity, description, tags, version, expires_at, next_rotation_at,
            rotated_at, created_at, created_by
     FROM credentials WHERE status = 'active' AND ($1::text IS NULL OR service_id = $1) AND ($2::text IS NULL OR environment = $2)
       AND ($3::text[] IS NULL OR service_id = ANY($3)) AND ($4::text IS NULL OR credential_key > $4)
     ORDER BY credential_key LIMIT $5`,
    [page.serviceId ?? null, page.environment ?? null, page.services ?? null, page.cursor ?? null, page.limit],
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

/** The service a credential belongs (or belonged, once deleted) to; undefined for a key never stored. */
export async function credentialServiceOf(db: SqlExecutor, key: string): Promise<string | undefined> {
  const { rows } = await db.query<{ service_id: string }>(
    'SELECT service_id FROM credentials WHERE credential_key = $1',
    [key],
  );
  return rows[0]?.service_id;
}

/** Access records of a key, newest first; with `services`, only those recorded for one of them. */
export async function listAccess(db: SqlExecutor, key: string, limit: number, services?: string[]) {
  const { rows } = await db.query<Record<string, unknown>>(
    `SELECT position, operation, outcome, version, actor, service_id, source_ip, user_agent, reason, accessed_at
     FROM credential_access_log WHERE credential_key = $1 AND ($3::text[] IS NULL OR service_id = ANY($3)) ORDER BY position DESC LIMIT $2`,
    [key, limit, services ?? null],
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
