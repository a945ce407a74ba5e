import type { SqlExecutor } from '#infra/postgres/database.ts';
import type { RecordedEvent } from '#infra/eventstore/port.ts';
import type { SchemaEvent } from '#events/schemas.ts';
import { parseEvent } from '#events/parse.ts';
import { type Projection, actorOf, occurredAt } from '../projection.ts';

export const schemasProjection: Projection = {
  name: 'schemas',
  async apply(tx, events) {
    for (const recorded of events) await applyOne(tx, recorded);
  },
};

async function applyOne(tx: SqlExecutor, recorded: RecordedEvent): Promise<void> {
  if (recorded.type !== 'SchemaRegistered') return;
  const { data } = parseEvent<SchemaEvent>(recorded);
  await tx.query(
    `INSERT INTO configuration_schemas (service_id, schema_version, schema_definition, draft, checksum, created_at, created_by, position)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING`,
    [
      data.serviceId,
      data.version,
      JSON.stringify(data.schema),
      data.draft,
      data.checksum,
      occurredAt(recorded),
      actorOf(recorded),
      recorded.position.toString(),
    ],
  );
}
