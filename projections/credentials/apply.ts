import type { CredentialAccessed, CredentialEvent } from '#events/credentials.ts';
import type { RecordedEvent } from '#infra/eventstore/port.ts';
import type { SqlExecutor } from '#infra/postgres/database.ts';
import { parseEvent } from '#events/parse.ts';
import { type Projection, actorOf, metadataOf, occurredAt } from '../projection.ts';

const CREDENTIAL_TYPES = new Set(['CredentialStored', 'CredentialRotated', 'CredentialDeleted', 'CredentialAccessed']);

/** Credential metadata (never a value) and the access log: every store, read, denial, rotation and deletion. */
export const credentialsProjection: Projection = {
  name: 'credentials',
  async apply(tx, events) {
    for (const recorded of events) if (CREDENTIAL_TYPES.has(recorded.type)) await applyOne(tx, recorded);
  },
};

async function applyOne(tx: SqlExecutor, recorded: RecordedEvent): Promise<void> {
  const event = parseEvent<CredentialEvent | CredentialAccessed>(recorded);
  const position = recorded.position.toString();
  const at = occurredAt(recorded);
  switch (event.type) {
    case 'CredentialStored': {
      const d = event.data;
      await tx.query(
        `INSERT INTO credentials (credential_key, service_id, environment, credential_type, sensitivity, description, tags, version, status,
           expires_at, next_rotation_at, rotated_at, created_at, created_by, deleted_at, position)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'active', $9, $10, NULL, $11, $12, NULL, $13)
         ON CONFLICT (credential_key) DO UPDATE SET service_id = EXCLUDED.service_id, environment = EXCLUDED.environment,
           credential_type = EXCLUDED.credential_type, sensitivity = EXCLUDED.sensitivity, description = EXCLUDED.description,
           tags = EXCLUDED.tags, version = EXCLUDED.version, status = 'active', expires_at = EXCLUDED.expires_at,
           next_rotation_at = EXCLUDED.next_rotation_at, rotated_at = NULL, created_at = EXCLUDED.created_at,
           created_by = EXCLUDED.created_by, deleted_at = NULL, position = EXCLUDED.position
         WHERE credentials.position < EXCLUDED.position`,
        [
          d.key,
          d.serviceId,
          d.environment,
          d.type,
          d.sensitivity,
          d.description ?? null,
          JSON.stringify(d.tags),
          d.secret.version,
          d.expiresAt ?? null,
          d.nextRotationAt ?? null,
          at,
          actorOf(recorded),
          position,
        ],
      );
      return logAccess(tx, recorded, d.key, 'store', 'granted', d.secret.version, { serviceId: d.serviceId });
    }
    case 'CredentialRotated': {
      const d = event.data;
      await tx.query(
        `UPDATE credentials SET version = $2, rotated_at = $3, next_rotation_at = $4, position = $5 WHERE credential_key = $1 AND position < $5`,
        [d.key, d.secret.version, d.rotatedAt, d.nextRotationAt ?? null, position],
      );
      return logAccess(tx, recorded, d.key, 'rotate', 'granted', d.secret.version);
    }
    case 'CredentialDeleted': {
      await tx.query(
        `UPDATE credentials SET status = 'deleted', deleted_at = $2, position = $3 WHERE credential_key = $1 AND position < $3`,
        [event.data.key, event.data.deletedAt, position],
      );
      return logAccess(tx, recorded, event.data.key, 'delete', 'granted', event.data.versions);
    }
    case 'CredentialAccessed':
      return logAccess(
        tx,
        recorded,
        event.data.key,
        event.data.operation,
        event.data.outcome,
        event.data.version,
        event.data,
      );
    default: {
      const unknownEvent: never = event;
      throw new Error(`unknown event ${JSON.stringify(unknownEvent)}`);
    }
  }
}

async function logAccess(
  tx: SqlExecutor,
  recorded: RecordedEvent,
  key: string,
  operation: string,
  outcome: string,
  version: number | undefined,
  context: { serviceId?: string; userAgent?: string; reason?: string } = {},
): Promise<void> {
  const metadata = metadataOf(recorded);
  await tx.query(
    `INSERT INTO credential_access_log (position, credential_key, operation, outcome, version, actor, service_id, source_ip, user_agent, reason, accessed_at)
     VALUES ($1, $2, $3, $4, $5, $6, COALESCE($7, (SELECT service_id FROM credentials WHERE credential_key = $2)), $8, $9, $10, $11)
     ON CONFLICT DO NOTHING`,
    [
      recorded.position.toString(),
      key,
      operation,
      outcome,
      version ?? null,
      actorOf(recorded),
      context.serviceId ?? null,
      metadata.sourceIp ?? null,
      context.userAgent ?? metadata.userAgent ?? null,
      context.reason ?? metadata.reason ?? null,
      occurredAt(recorded),
    ],
  );
}
