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
  /** Undefined when the store cannot count the events ahead (EventStoreDB). */
  total: number | undefined;
  perSecond: number;
  secondsLeft: number | undefined;
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
  if (db.kind !== 'postgres')
    throw new Error(
      'replay into fresh tables needs PostgreSQL; with the embedded store, stop the service and run projections rebuild',
    );
  const started = performance.now();
  await db.exec(`DROP SCHEMA IF EXISTS ${REPLAY} CASCADE; CREATE SCHEMA ${REPLAY};`);
  const fresh = openPostgres(databaseUrl, { max: 2, searchPath: [REPLAY, 'public'] });
  let events = 0;
  try {
    await migrateReadModels(fresh);
    // Rounds up to the head as it was when each began, until a round finds at most one batch: what
    // is left then is applied under the lock. Progress counts against the latest head, so done never passes total.
    let replayedTo = 0n;
    for (let applied = BATCH + 1; applied > BATCH; ) {
      const head = await store.headPosition();
      // Counted by the store once a round (positions order events, they do not count them).
      const inRound = await store.eventsAfter(replayedTo, head);
      applied = 0;
      for await (const batch of batches(store.readAll({ fromPosition: replayedTo, toPosition: head }), BATCH)) {
        await applyBatch(fresh, READ_MODEL_CHECKPOINT, PROJECTIONS, batch);
        applied += batch.length;
        events += batch.length;
        replayedTo = batch[batch.length - 1]!.position;
        const left = inRound === undefined ? undefined : Math.max(0, inRound - applied);
        const perSecond = events / Math.max((performance.now() - started) / 1000, 0.001);
        onProgress?.({
          done: events,
          total: left === undefined ? undefined : events + left,
          perSecond,
          secondsLeft: left === undefined ? undefined : left / perSecond,
        });
      }
    }

    const position = await db.transaction(async (tx) => {
      // The live projection waits here. The audit chain is never rebuilt: it is extended, in the live
      // schema, over what the live projection had not chained yet; then the fresh tables catch up to the
      // same position, so the checkpoint swapped in covers exactly the events chained.
      await tx.query('LOCK TABLE public.projection_checkpoints IN ACCESS EXCLUSIVE MODE');
      const chained = await readCheckpoint(tx, READ_MODEL_CHECKPOINT);
      let head = chained;
      for await (const batch of batches(store.readAll({ fromPosition: chained }), BATCH)) {
        await auditChainProjection.apply(tx, batch);
        head = batch[batch.length - 1]!.position;
      }
      await tx.query(`SET LOCAL search_path TO ${REPLAY}, public`);
      for await (const batch of batches(store.readAll({ fromPosition: replayedTo, toPosition: head }), BATCH)) {
        await applyInTransaction(tx, READ_MODEL_CHECKPOINT, PROJECTIONS, batch);
        events += batch.length;
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
      return head;
    });
    await db.exec(`DROP SCHEMA IF EXISTS ${REPLAY} CASCADE; DROP SCHEMA IF EXISTS ${RETIRED} CASCADE;`);
    return { events, position, seconds: (performance.now() - started) / 1000 };
  } finally {
    await fresh.close();
  }
}
