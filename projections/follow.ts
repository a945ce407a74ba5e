import type { EventFilter, EventStore, RecordedEvent, Subscription } from '#infra/eventstore/port.ts';
import { UnknownEvent, upcastRecorded } from '#events/parse.ts';
import { batches } from './batches.ts';

export interface FollowerLogger {
  info(details: object, message: string): void;
  warn(details: object, message: string): void;
}

export interface FollowOptions {
  /** Names the follower in logs and metrics. */
  name: string;
  store: EventStore;
  /** Where to start (exclusive): the durable checkpoint when there is one; read again after a failure. */
  checkpoint(): Promise<bigint>;
  /** Handles a batch in log order. It may throw: the same batch comes again after a pause, so it must be idempotent. */
  handle(events: RecordedEvent[]): Promise<void>;
  filter?: EventFilter;
  maxBatch?: number;
  retryDelayMs?: number;
  logger?: FollowerLogger;
  /** Counts every failure (a log line is written only when the follower starts or stops failing). */
  onFailure?(stage: FailureStage, error: unknown): void;
}

/** Reading the log, understanding an event in it, or handling a batch. */
export type FailureStage = 'subscription' | 'parse' | 'handle';

export interface Follower {
  readonly position: bigint;
  /** Since when, where and why the follower has been failing; undefined while it works. */
  readonly failing: { since: Date; error: string; position: bigint; stage: FailureStage } | undefined;
  start(): Promise<void>;
  stop(graceMs?: number): Promise<void>;
}

/**
 * The one way to follow the log: a catch-up subscription from a checkpoint,
 * batches of whatever is ready, every event parsed (known type and version,
 * upcast) before anyone sees it, and one retry policy for all — a failed batch
 * is handled again, a lost subscription resumes from the checkpoint. Failures
 * are counted each time and logged once when they start (with the position
 * they stopped at) and once when they end.
 */
export function followLog(options: FollowOptions): Follower {
  const retryDelayMs = options.retryDelayMs ?? 500;
  let position = 0n;
  let failing: Follower['failing'];
  let stopped = false;
  let subscription: Subscription | undefined;
  let loop: Promise<void> | undefined;
  let wake: () => void = () => undefined;

  const pause = () =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, retryDelayMs);
      wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });

  function failed(stage: FailureStage, error: unknown, at: bigint): void {
    options.onFailure?.(stage, error);
    const message = error instanceof Error ? error.message : String(error);
    if (!failing)
      options.logger?.warn(
        { follower: options.name, stage, position: at.toString(), err: message },
        `${options.name} failed at position ${at}; retrying`,
      );
    failing = { since: failing?.since ?? new Date(), error: message, position: at, stage };
  }

  /** Working again: after a handled batch, or (for a store that failed) once the subscription has read everything. */
  function recovered(only?: FailureStage): void {
    if (!failing || (only && failing.stage !== only)) return;
    options.logger?.info(
      { follower: options.name, position: position.toString(), failingSince: failing.since.toISOString() },
      `${options.name} is following the log again`,
    );
    failing = undefined;
  }

  async function handleUntilDone(batch: RecordedEvent[]): Promise<void> {
    while (!stopped) {
      try {
        await options.handle(batch);
        return;
      } catch (error) {
        failed('handle', error, batch[0]!.position);
        await pause();
      }
    }
  }

  async function follow(): Promise<void> {
    while (!stopped) {
      try {
        position = await options.checkpoint();
        // Having read everything stored proves the store answers again, even when nothing new came.
        const onCaughtUp = () => recovered('subscription');
        subscription = options.store.subscribeAll({
          fromPosition: position,
          onCaughtUp,
          ...(options.filter ? { filter: options.filter } : {}),
        });
        for await (const batch of batches(subscription, options.maxBatch ?? 500)) {
          // Checked here, once: an event this code cannot read stops the follower rather than being misread or skipped.
          let parsed: RecordedEvent[];
          try {
            parsed = batch.map(upcastRecorded);
          } catch (error) {
            failed('parse', error, error instanceof UnknownEvent ? error.position : batch[0]!.position);
            await subscription.close();
            await pause();
            break;
          }
          await handleUntilDone(parsed);
          if (stopped) return;
          position = batch[batch.length - 1]!.position;
          recovered();
        }
      } catch (error) {
        if (stopped) return;
        failed('subscription', error, position);
        await subscription?.close();
        await pause();
      }
    }
  }

  return {
    get position() {
      return position;
    },
    get failing() {
      return failing;
    },
    async start() {
      loop = follow();
    },
    /** Stops following; a batch being handled gets `graceMs` to finish, then is abandoned (handled again from the checkpoint next time). */
    async stop(graceMs = 2000) {
      stopped = true;
      wake();
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        (async () => {
          await subscription?.close();
          await loop;
        })(),
        new Promise((resolve) => (timer = setTimeout(resolve, graceMs))),
      ]);
      clearTimeout(timer);
    },
  };
}
