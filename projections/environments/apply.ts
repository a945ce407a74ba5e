import type { SqlExecutor } from '#infra/postgres/database.ts';
import type { RecordedEvent } from '#infra/eventstore/port.ts';
import { type EnvironmentEvent, definitionOf } from '#events/environments.ts';
import { parseEvent } from '#events/parse.ts';
import { type Projection, actorOf, occurredAt } from '../projection.ts';

const TYPES = new Set(['EnvironmentDefined', 'EnvironmentUpdated', 'EnvironmentRemoved']);

export const environmentsProjection: Projection = {
  name: 'environments',
  async apply(tx, events) {
    for (const recorded of events) await applyOne(tx, recorded);
  },
};

async function applyOne(tx: SqlExecutor, recorded: RecordedEvent): Promise<void> {
  if (!TYPES.has(recorded.type)) return;
  const event = parseEvent<EnvironmentEvent>(recorded);
  const change = [recorded.position.toString(), occurredAt(recorded), actorOf(recorded)];
  if (event.type === 'EnvironmentRemoved') {
    // Its children keep their other parents, and what they inherit changed here; even if the id is defined again later.
    await tx.query('DELETE FROM environments WHERE id = $1 AND position < $2', [event.data.id, change[0]]);
    await tx.query(
      `UPDATE environments SET inherits_from = array_remove(inherits_from, $1), inheritance_position = $2, inheritance_changed_at = $3, inheritance_changed_by = $4
       WHERE $1 = ANY(inherits_from)`,
      [event.data.id, ...change],
    );
    return;
  }
  const data = definitionOf(event.data);
  await tx.query(
    `INSERT INTO environments (id, name, type, inherits_from, description, updated_at, updated_by, position,
                               inheritance_position, inheritance_changed_at, inheritance_changed_by)
     VALUES ($1, $2, $3, $4, $5, $7, $8, $6, $6, $7, $8)
     ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, type = EXCLUDED.type, inherits_from = EXCLUDED.inherits_from,
       description = EXCLUDED.description, updated_at = EXCLUDED.updated_at, updated_by = EXCLUDED.updated_by, position = EXCLUDED.position,
       inheritance_position = CASE WHEN environments.inherits_from = EXCLUDED.inherits_from THEN environments.inheritance_position ELSE EXCLUDED.position END,
       inheritance_changed_at = CASE WHEN environments.inherits_from = EXCLUDED.inherits_from THEN environments.inheritance_changed_at ELSE EXCLUDED.updated_at END,
       inheritance_changed_by = CASE WHEN environments.inherits_from = EXCLUDED.inherits_from THEN environments.inheritance_changed_by ELSE EXCLUDED.updated_by END
     WHERE environments.position < EXCLUDED.position`,
    [data.id, data.name, data.type, data.inheritsFrom, data.description ?? null, ...change],
  );
}
