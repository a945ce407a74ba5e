import type { SqlExecutor } from '#infra/postgres/database.ts';
import type { RecordedEvent } from '#infra/eventstore/port.ts';
import type { EnvironmentEvent } from '#events/environments.ts';
import { asDomainEvent } from '#services/shared/command-handler.ts';
import { type Projection, actorOf, occurredAt } from '../projection.ts';

export const environmentsProjection: Projection = {
  name: 'environments',
  async apply(tx, events) {
    for (const recorded of events) await applyOne(tx, recorded);
  },
};

async function applyOne(tx: SqlExecutor, recorded: RecordedEvent): Promise<void> {
  if (recorded.type !== 'EnvironmentDefined' && recorded.type !== 'EnvironmentUpdated') return;
  const { data } = asDomainEvent<EnvironmentEvent>(recorded);
  await tx.query(
    `INSERT INTO environments (id, name, type, inherits_from, description, updated_at, updated_by, position)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
     ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, type = EXCLUDED.type, inherits_from = EXCLUDED.inherits_from,
       description = EXCLUDED.description, updated_at = EXCLUDED.updated_at, updated_by = EXCLUDED.updated_by, position = EXCLUDED.position
     WHERE environments.position < EXCLUDED.position`,
    [data.id, data.name, data.type, data.inheritsFrom, data.description ?? null, occurredAt(recorded), actorOf(recorded), recorded.position.toString()],
  );
}
