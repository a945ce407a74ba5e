import type { Database } from '#infra/postgres/database.ts';
import type { EventStore } from '#infra/eventstore/port.ts';
import { batches } from './batches.ts';
import { READ_MODEL_CHECKPOINT, READ_MODEL_PROJECTIONS, migrateReadModels } from './read-models.ts';
import { applyBatch } from './runner.ts';
import { READ_MODEL_TABLES } from './schema.ts';

const BATCH = 1000;

/**
 * Drops every read model and folds the whole log into fresh tables. Run it
 * with the API stopped (or against a database no instance is projecting into).
 */
export async function rebuildReadModels(
  store: EventStore,
  db: Database,
  onProgress?: (applied: number, position: bigint) => void,
): Promise<{ events: number; position: bigint }> {
  await migrateReadModels(db);
  await db.exec(
    `DROP TABLE ${READ_MODEL_TABLES.join(', ')}; DELETE FROM projection_checkpoints WHERE name = '${READ_MODEL_CHECKPOINT}';`,
  );
  await migrateReadModels(db);
  let events = 0;
  let position = 0n;
  for await (const batch of batches(store.readAll(), BATCH)) {
    await applyBatch(db, READ_MODEL_CHECKPOINT, READ_MODEL_PROJECTIONS, batch);
    events += batch.length;
    position = batch[batch.length - 1]!.position;
    onProgress?.(events, position);
  }
  return { events, position };
}
