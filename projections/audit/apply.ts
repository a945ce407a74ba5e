import { type Projection, actorOf, metadataOf, occurredAt } from '../projection.ts';

/** Every event, with who, why and a short summary; the values themselves stay in the log. */
export const auditProjection: Projection = {
  name: 'audit',
  async apply(tx, recorded) {
    const metadata = metadataOf(recorded);
    const data = recorded.data;
    const text = (value: unknown) => (typeof value === 'string' ? value : null);
    const summary = {
      ...(data.version !== undefined ? { version: data.version } : {}),
      ...(Array.isArray(data.changedKeys) ? { changedKeys: data.changedKeys } : {}),
      ...(data.restoredVersion !== undefined ? { restoredVersion: data.restoredVersion } : {}),
      ...(data.changeReason !== undefined ? { changeReason: data.changeReason } : {}),
    };
    await tx.query(
      `INSERT INTO audit_log (position, event_id, event_type, stream_name, service_id, environment, actor, correlation_id, reason, source_ip, summary, occurred_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) ON CONFLICT DO NOTHING`,
      [
        recorded.position.toString(),
        recorded.id,
        recorded.type,
        recorded.streamName,
        text(data.serviceId),
        text(data.environment) ?? (recorded.type.startsWith('Environment') ? text(data.id) : null),
        actorOf(recorded),
        metadata.correlationId ?? null,
        metadata.reason ?? text(data.changeReason),
        metadata.sourceIp ?? null,
        JSON.stringify(summary),
        occurredAt(recorded),
      ],
    );
  },
};
