import type { RecordedEvent } from '#infra/eventstore/port.ts';
import { type Projection, actorOf, metadataOf, occurredAt } from '../projection.ts';

const text = (value: unknown) => (typeof value === 'string' ? value : null);

/** An environment change names the services whose effective configuration it changed, so their audit shows it. */
const affectedServices = (data: Record<string, unknown>): string[] | null =>
  Array.isArray(data.impact)
    ? [...new Set(data.impact.map((change: { serviceId: string }) => change.serviceId))]
    : null;

/** The change a change request carries, for rows of its opening; later decisions name only the request (looked up by id). */
const changeOf = (data: Record<string, unknown>) =>
  typeof data.change === 'object' && data.change !== null ? (data.change as Record<string, unknown>) : {};

function auditRow(recorded: RecordedEvent) {
  const metadata = metadataOf(recorded);
  const data = recorded.data;
  const change = changeOf(data);
  return {
    position: recorded.position.toString(),
    event_id: recorded.id,
    event_type: recorded.type,
    stream_name: recorded.streamName,
    service_id: text(data.serviceId) ?? text(change.serviceId),
    change_request_id: recorded.type.startsWith('ChangeRequest') ? text(data.id) : null,
    credential_key: recorded.type.startsWith('Credential') ? text(data.key) : null,
    affected_services: affectedServices(data),
    environment:
      text(data.environment) ??
      text(change.environment) ??
      (recorded.type.startsWith('Environment') ? text(data.id) : null),
    actor: actorOf(recorded),
    correlation_id: metadata.correlationId ?? null,
    reason: metadata.reason ?? text(data.changeReason),
    source_ip: metadata.sourceIp ?? null,
    user_agent: metadata.userAgent ?? text(data.userAgent),
    summary: {
      ...(data.version !== undefined ? { version: data.version } : {}),
      ...(Array.isArray(data.changedKeys) ? { changedKeys: data.changedKeys } : {}),
      ...(data.restoredVersion !== undefined ? { restoredVersion: data.restoredVersion } : {}),
      ...(Array.isArray(data.inheritsFrom) ? { inheritsFrom: data.inheritsFrom } : {}),
      ...(Array.isArray(data.impact) ? { changedConfigurations: data.impact.length } : {}),
      ...(data.forced ? { forced: true } : {}),
      // The address a lockout or its lifting is about (the request's own address is sourceIp).
      ...(recorded.type === 'AuthenticationLockedOut' || recorded.type === 'LockoutLifted'
        ? { address: data.sourceIp }
        : {}),
    },
    occurred_at: occurredAt(recorded),
  };
}

/** Every event, with who, why and a short summary; the values themselves stay in the log. */
export const auditProjection: Projection = {
  name: 'audit',
  async apply(tx, events) {
    await tx.query(
      `INSERT INTO audit_log (position, event_id, event_type, stream_name, service_id, affected_services, environment, actor, correlation_id, reason, source_ip,
         user_agent, summary, occurred_at)
       SELECT r.position, r.event_id, r.event_type, r.stream_name,
              COALESCE(r.service_id, (SELECT c.service_id FROM change_requests c WHERE c.id::text = r.change_request_id),
                (SELECT k.service_id FROM credentials k WHERE k.credential_key = r.credential_key)),
              r.affected_services,
              COALESCE(r.environment, (SELECT c.environment FROM change_requests c WHERE c.id::text = r.change_request_id),
                (SELECT k.environment FROM credentials k WHERE k.credential_key = r.credential_key)),
              r.actor, r.correlation_id, r.reason, r.source_ip, r.user_agent, r.summary, r.occurred_at
       FROM jsonb_to_recordset($1::jsonb) AS r(position bigint, event_id uuid, event_type text, stream_name text, service_id text, change_request_id text,
         credential_key text,
         affected_services text[], environment text, actor text, correlation_id text, reason text, source_ip text, user_agent text, summary jsonb,
         occurred_at timestamptz)
       ON CONFLICT DO NOTHING`,
      [JSON.stringify(events.map(auditRow))],
    );
  },
};
