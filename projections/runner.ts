import type { Database, SqlExecutor } from '#infra/postgres/database.ts';
import type { EventStore, RecordedEvent } from '#infra/eventstore/port.ts';
import { type FollowOptions, type FollowerLogger, followLog } from './follow.ts';
import type { Projection } from './projection.ts';

const MAX_BATCH = 500;
const RETRY_DELAY_MS = 500;

export interface ProjectionRunner {
  /** Position of the last event committed to the read-model database (by this process or another). */
  readonly position: bigint;
  /** Position of the last event handed to `onSeen`; runs ahead of `position` while a batch is being written. */
  readonly seenPosition: bigint;
  readonly lastError: string | undefined;
  /** When the newest event applied to the database was recorded in the log. */
  readonly lastAppliedAt: Date | undefined;
  /** Since when the log or the database has been failing: the in-process read side may be stale from then on. */
  readonly unhealthySince: Date | undefined;
  start(): Promise<void>;
  /** Resolves true once `position` (or `seenPosition`) reaches `target`, false after `timeoutMs`. */
  waitFor(target: bigint, timeoutMs: number, stage?: 'seen' | 'applied'): Promise<boolean>;
  stop(): Promise<void>;
}

export interface RunnerOptions {
  store: EventStore;
  db: Database;
  projections: Projection[];
  /** One checkpoint row for the whole group, written in the same transaction as the rows. */
  checkpointName?: string;
  /**
   * In-memory projections: called with each batch, in log order, before it is
   * written to the database, so they never wait for the database's commit.
   */
  onSeen?: (events: RecordedEvent[]) => void;
  logger?: FollowerLogger;
  onFailure?: FollowOptions['onFailure'];
}

export async function readCheckpoint(db: SqlExecutor, name: string): Promise<bigint> {
  const { rows } = await db.query<{ position: string }>('SELECT position FROM projection_checkpoints WHERE name = $1', [
    name,
  ]);
  return BigInt(rows[0]?.position ?? 0);
}

/** Moves a follower's checkpoint (one whose work is not in the read-model transaction: publishing, process managers). */
export async function writeCheckpoint(db: SqlExecutor, name: string, position: bigint): Promise<void> {
  await db.query(
    `INSERT INTO projection_checkpoints (name, position) VALUES ($1, $2)
     ON CONFLICT (name) DO UPDATE SET position = EXCLUDED.position, updated_at = now()`,
    [name, position.toString()],
  );
}

/**
 * Applies every event in one transaction per batch together with the
 * checkpoint. The checkpoint row is locked and events at or below it skipped,
 * so several instances on one database, or a replay, never apply an event twice.
 */
export async function applyBatch(
  db: Database,
  name: string,
  projections: Projection[],
  events: RecordedEvent[],
): Promise<void> {
  await db.transaction(async (tx) => {
    // Read models are derived: a crash that loses the last commits only means replaying them from the
    // checkpoint, which is written in the same transaction. So they need not wait for the WAL flush.
    await tx.query('SET LOCAL synchronous_commit = off');
    await applyInTransaction(tx, name, projections, events);
  });
}

/** The events after the checkpoint, applied by every projection, and the checkpoint moved: inside the caller's transaction. */
export async function applyInTransaction(
  tx: SqlExecutor,
  name: string,
  projections: Projection[],
  events: RecordedEvent[],
): Promise<void> {
  // Creates the checkpoint on first use and locks it either way: one statement, one round trip.
  const { rows } = await tx.query<{ position: string }>(
    `INSERT INTO projection_checkpoints (name, position) VALUES ($1, 0)
     ON CONFLICT (name) DO UPDATE SET name = EXCLUDED.name RETURNING position`,
    [name],
  );
  const checkpoint = BigInt(rows[0]!.position);
  const fresh = events.filter((event) => event.position > checkpoint);
  if (fresh.length === 0) return;
  for (const projection of projections) await projection.apply(tx, fresh);
  await tx.query('UPDATE projection_checkpoints SET position = $2, updated_at = now() WHERE name = $1', [
    name,
    fresh[fresh.length - 1]!.position.toString(),
  ]);
}

export function createProjectionRunner(options: RunnerOptions): ProjectionRunner {
  const name = options.checkpointName ?? 'read-models';
  let position = 0n;
  let seenPosition = 0n;
  let lastAppliedAt: Date | undefined;
  const waiters = new Set<() => void>();
  const wakeWaiters = () => {
    for (const wake of waiters) wake();
  };

  const follower = followLog({
    name: `projection ${name}`,
    store: options.store,
    logger: options.logger,
    onFailure: options.onFailure,
    maxBatch: MAX_BATCH,
    retryDelayMs: RETRY_DELAY_MS,
    checkpoint: async () => {
      position = await readCheckpoint(options.db, name);
      return position;
    },
    handle: async (batch) => {
      const last = batch[batch.length - 1]!.position;
      if (last > seenPosition) {
        options.onSeen?.(batch.filter((event) => event.position > seenPosition));
        seenPosition = last;
        wakeWaiters();
      }
      await applyBatch(options.db, name, options.projections, batch);
      position = last;
      lastAppliedAt = batch[batch.length - 1]!.recordedAt;
      wakeWaiters();
    },
  });

  return {
    get position() {
      return position;
    },
    get seenPosition() {
      return seenPosition;
    },
    get lastError() {
      return follower.failing?.error;
    },
    get lastAppliedAt() {
      return lastAppliedAt;
    },
    get unhealthySince() {
      return follower.failing?.since;
    },
    async start() {
      position = await readCheckpoint(options.db, name);
      seenPosition = position;
      await follower.start();
    },
    waitFor(target, timeoutMs, stage = 'applied') {
      const reached = () => (stage === 'seen' ? seenPosition : position) >= target;
      if (reached()) return Promise.resolve(true);
      return new Promise((resolve) => {
        const wake = () => {
          if (!reached()) return;
          clearTimeout(timer);
          waiters.delete(wake);
          resolve(true);
        };
        const timer = setTimeout(() => {
          waiters.delete(wake);
          resolve(false);
        }, timeoutMs);
        waiters.add(wake);
      });
    },
    stop: () => follower.stop(),
  };
}
