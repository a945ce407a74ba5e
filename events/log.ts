/** The log's own record of how it came to be: one event per restore, in a stream of its own. */
export const LOG_STREAM = 'log-restores';

/**
 * The log was restored from a backup into this store. Positions restarted
 * with it, so it starts a new epoch: every road publishes the epoch beside
 * the position, and clients order updates by (epoch, position).
 */
export type LogRestored = {
  type: 'LogRestored';
  data: {
    /** Milliseconds since 1970 at the restore, and above the backup's own epoch: epochs only grow. */
    epoch: number;
    backup: {
      source: string;
      startedAt: string;
      completedAt: string;
      sha256: string;
      eventCount: number;
      lastPosition: number;
      epoch: number;
    };
    restoredEvents: number;
    toTime?: string;
    toPosition?: number;
    /** What verifying the backup's chain found; restoring a broken one needs an operator's reason. */
    chain: { intact: boolean; breakCount: number; firstBreak: number | null };
    acceptedBrokenChain?: { reason: string };
    keysRestored: boolean;
  };
};
