import type { SqlExecutor } from '#infra/postgres/database.ts';

/**
 * One page of change requests, newest opened first, by status and the services
 * the caller may see (undefined: all). The cursor is the last row's opening
 * time and id, which never change, so a page boundary never moves.
 */
export async function listChangeRequests(
  db: SqlExecutor,
  page: { status?: string; services?: string[]; limit: number; cursor?: string },
): Promise<{ items: Record<string, unknown>[]; nextCursor: string | null }> {
  const [after, afterId] = page.cursor ? decodeCursor(page.cursor) : [null, null];
  const { rows } = await db.query<Record<string, unknown> & { cursor: string }>(
    `SELECT id, status, service_id AS "serviceId", environment, changed_keys AS "changedKeys", requested_by AS "requestedBy", reason,
            required_approvals AS "requiredApprovals", approvals, opened_at AS "openedAt", expires_at AS "expiresAt", outcome,
            to_char(opened_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') || '_' || id AS cursor
     FROM change_requests WHERE ($1::text IS NULL OR status = $1) AND ($2::text[] IS NULL OR service_id = ANY($2))
       AND ($3::timestamptz IS NULL OR (opened_at, id) < ($3::timestamptz, $4::text))
     ORDER BY opened_at DESC, id DESC LIMIT $5`,
    [page.status ?? null, page.services ?? null, after, afterId, page.limit],
  );
  const items = rows.map(({ cursor: _cursor, ...row }) => row);
  return { items, nextCursor: rows.length === page.limit ? rows[rows.length - 1]!.cursor : null };
}

/** `<opened at>_<id>`; anything else is refused by the route's pattern before it gets here. */
function decodeCursor(cursor: string): [string, string] {
  const split = cursor.indexOf('_');
  return [cursor.slice(0, split), cursor.slice(split + 1)];
}
