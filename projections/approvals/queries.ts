import type { SqlExecutor } from '#infra/postgres/database.ts';

/** Change requests, newest first (at most 500), by status and the services the caller may see (undefined: all). */
export async function listChangeRequests(
  db: SqlExecutor,
  filter: { status?: string; services?: string[] },
): Promise<Record<string, unknown>[]> {
  const { rows } = await db.query(
    `SELECT id, status, service_id AS "serviceId", environment, changed_keys AS "changedKeys", requested_by AS "requestedBy", reason,
            required_approvals AS "requiredApprovals", approvals, opened_at AS "openedAt", expires_at AS "expiresAt", outcome
     FROM change_requests WHERE ($1::text IS NULL OR status = $1) AND ($2::text[] IS NULL OR service_id = ANY($2))
     ORDER BY position DESC LIMIT 500`,
    [filter.status ?? null, filter.services ?? null],
  );
  return rows;
}
