import type { SqlExecutor } from '#infra/postgres/database.ts';

export interface AuditFilter {
  serviceId?: string;
  environment?: string;
  actor?: string;
  eventType?: string;
  since?: string;
  until?: string;
  order: 'newest' | 'oldest';
  /** Exclusive: entries after it, in the order asked for. */
  cursor?: number;
  limit: number;
  /** Only entries about these services (their own or ones an environment change affected); undefined for every service. */
  services?: string[];
}

/** One page of the audit trail, by log position. */
export async function queryAudit(db: SqlExecutor, filter: AuditFilter): Promise<Record<string, unknown>[]> {
  const newest = filter.order === 'newest';
  const { rows } = await db.query<Record<string, unknown> & { position: string }>(
    `SELECT position, event_id AS "eventId", event_type AS "eventType", stream_name AS "streamName", service_id AS "serviceId",
            environment, actor, correlation_id AS "correlationId", reason, source_ip AS "sourceIp", user_agent AS "userAgent", summary, occurred_at AS "occurredAt"
     FROM audit_log
     WHERE ($1::text IS NULL OR service_id = $1 OR $1 = ANY(affected_services)) AND ($2::text IS NULL OR environment = $2) AND ($3::text IS NULL OR actor = $3)
       AND ($4::text IS NULL OR event_type = $4) AND ($5::timestamptz IS NULL OR occurred_at >= $5) AND ($6::timestamptz IS NULL OR occurred_at < $6)
       AND ($7::bigint IS NULL OR position ${newest ? '<' : '>'} $7)
       AND ($8::text[] IS NULL OR service_id = ANY($8) OR affected_services && $8)
     ORDER BY position ${newest ? 'DESC' : 'ASC'} LIMIT $9`,
    [
      filter.serviceId ?? null,
      filter.environment ?? null,
      filter.actor ?? null,
      filter.eventType ?? null,
      filter.since ?? null,
      filter.until ?? null,
      filter.cursor ?? null,
      filter.services ?? null,
      filter.limit,
    ],
  );
  return rows.map((row) => ({ ...row, position: Number(row.position) }));
}
