import { openPostgres, type Database } from '#infra/postgres/database.ts';
import type { EventStore } from '#infra/eventstore/port.ts';
import { auditChainProjection } from './audit/chain.ts';
import { batches } from './batches.ts';
import { READ_MODEL_CHECKPOINT, READ_MODEL_PROJECTIONS, migrateReadModels } from './read-models.ts';
import { applyBatch, applyInTransaction, readCheckpoint } from './runner.ts';
import { READ_MODEL_TABLES } from './schema.ts';

const REPLAY = 'configledger_replay';
const RETIRED = 'configledger_retired';
const BATCH = 2000;

export interface ReplayProgress {
  done: number;
  total: number;
  perSecond: number;
  secondsLeft: number;
}

/** The audit chain is evidence, never rebuilt: everything else is. */
const PROJECTIONS = READ_MODEL_PROJECTIONS.filter((projection) => projection !== auditChainProjection);
const SWAPPED = [...READ_MODEL_TABLES, 'projection_checkpoints'];

/**
 * Rebuilds every read model from position 0 into fresh tables in a schema of
 * their own while the service goes on reading (and projecting into) the live
 * ones; when caught up, takes the checkpoint lock, applies the last events and
 * swaps the tables in, in one transaction. PostgreSQL only: the embedded store
 * has one connection, so there stop the service and use `projections rebuild`.
 */
export async function replayReadModels(
  store: EventStore,
  db: Database,
  databaseUrl: string,
  onProgress?: (progress: ReplayProgress) => void,
): Promise<{ events: number; position: bigint; seconds: number }> {
  if (db.kind !== 'postgres') throw new Error('replay into fresh tables needs PostgreSQL; with the embedded store, stop the service and run projections rebuild');
  const started = performance.now();
  await db.exec(`DROP SCHEMA IF EXISTS ${REPLAY} CASCADE; CREATE SCHEMA ${REPLAY};`);
  const fresh = openPostgres(databaseUrl, { max: 2, searchPath: [REPLAY, 'public'] });
  let events = 0;
  try {
    await migrateReadModels(fresh);
    const total = Number(await store.headPosition());
    for await (const batch of batches(store.readAll(), BATCH)) {
      await applyBatch(fresh, READ_MODEL_CHECKPOINT, PROJECTIONS, batch);
      events += batch.length;
      const seconds = (performance.now() - started) / 1000;
      const perSecond = events / Math.max(seconds, 0.001);
      onProgress?.({ done: events, total, perSecond, secondsLeft: Math.max(0, (total - events) / perSecond) });
    }
    const replayedTo = await readCheckpoint(fresh, READ_MODEL_CHECKPOINT);

    const position = await db.transaction(async (tx) => {
      // The live projection waits here; whatever it has not written yet goes into the fresh tables.
      await tx.query('LOCK TABLE public.projection_checkpoints IN ACCESS EXCLUSIVE MODE');
      await tx.query(`SET LOCAL search_path TO ${REPLAY}, public`);
      let last = replayedTo;
      for await (const batch of batches(store.readAll({ fromPosition: replayedTo }), BATCH)) {
        await applyInTransaction(tx, READ_MODEL_CHECKPOINT, PROJECTIONS, batch);
        events += batch.length;
        last = batch[batch.length - 1]!.position;
      }
      await tx.query(
        `INSERT INTO ${REPLAY}.projection_checkpoints SELECT * FROM public.projection_checkpoints WHERE name <> $1 ON CONFLICT (name) DO NOTHING`,
        [READ_MODEL_CHECKPOINT],
      );
      await tx.query(`DROP SCHEMA IF EXISTS ${RETIRED} CASCADE`);
      await tx.query(`CREATE SCHEMA ${RETIRED}`);
      for (const table of SWAPPED) {
        await tx.query(`ALTER TABLE public.${table} SET SCHEMA ${RETIRED}`);
        await tx.query(`ALTER TABLE ${REPLAY}.${table} SET SCHEMA public`);
      }
      return last;
    });
    await db.exec(`DROP SCHEMA IF EXISTS ${REPLAY} CASCADE; DROP SCHEMA IF EXISTS ${RETIRED} CASCADE;`);
    return { events, position, seconds: (performance.now() - started) / 1000 };
  } finally {
    await fresh.close();
  }
}
