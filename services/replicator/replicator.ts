import type { Kafka } from 'kafkajs';
import { decodeEvent } from '#events/avro/codec.ts';
import { type EventStore, type RecordedEvent, WrongExpectedRevision } from '#infra/eventstore/port.ts';
import { EVENTS_TOPIC } from '#infra/kafka/topics.ts';

export interface ReplicationStatus {
  appliedEvents: number;
  duplicatesSkipped: number;
  /** Messages skipped because this replica does not know their event type or schema version yet. */
  unknownSkipped: number;
  lagEvents: number;
  lagSeconds: number;
  lastError?: string;
}

export class ReplicaDiverged extends Error {}

/**
 * Region replica: consumes `configledger.events.v1` and appends each event to
 * this region's own store with the same id, stream, revision and time. An
 * event already there (a redelivery, a replay) is recognised by its id and
 * skipped, so the replica's log ends identical to the primary's.
 */
export function createReplicator(options: {
  store: EventStore;
  kafka: Kafka;
  groupId: string;
  logger?: { warn(details: object, message: string): void };
}) {
  const consumer = options.kafka.consumer({
    groupId: options.groupId,
    retry: { retries: Number.MAX_SAFE_INTEGER, maxRetryTime: 5000 },
  });
  const status: ReplicationStatus = {
    appliedEvents: 0,
    duplicatesSkipped: 0,
    unknownSkipped: 0,
    lagEvents: 0,
    lagSeconds: 0,
  };
  let lastRecordedAt: Date | undefined;

  async function apply(event: RecordedEvent): Promise<void> {
    const expected = event.revision === 0n ? 'no_stream' : event.revision - 1n;
    try {
      // With its id and its time: the replica's log is the primary's, down to when each event happened.
      const result = await options.store.append(
        event.streamName,
        [{ id: event.id, type: event.type, data: event.data, metadata: event.metadata, recordedAt: event.recordedAt }],
        expected,
      );
      if (result.recorded) status.duplicatesSkipped++;
      else status.appliedEvents++;
    } catch (error) {
      if (!(error instanceof WrongExpectedRevision)) throw error;
      if (error.actual < event.revision)
        throw new Error(
          `stream ${event.streamName} is at ${error.actual}, missing events before revision ${event.revision}`,
        );
      for await (const existing of options.store.readStream(event.streamName, {
        fromRevision: event.revision,
        maxCount: 1,
      })) {
        if (existing.id !== event.id) {
          throw new ReplicaDiverged(
            `${event.streamName}@${event.revision} holds event ${existing.id}, the primary sent ${event.id}`,
          );
        }
      }
      status.duplicatesSkipped++;
    }
  }

  return {
    status(): ReplicationStatus {
      const lagSeconds = status.lagEvents > 0 && lastRecordedAt ? (Date.now() - lastRecordedAt.getTime()) / 1000 : 0;
      return { ...status, lagSeconds };
    },
    async start(): Promise<void> {
      await consumer.connect();
      await consumer.subscribe({ topic: EVENTS_TOPIC, fromBeginning: true });
      consumer.on(consumer.events.END_BATCH_PROCESS, ({ payload }) => {
        status.lagEvents = Number(payload.offsetLag);
      });
      await consumer.run({
        eachMessage: async ({ message }) => {
          const decoded = decodeEvent(message);
          if (decoded.status === 'skipped') {
            status.unknownSkipped++;
            options.logger?.warn({ reason: decoded.reason }, 'replicator skipped a message');
            return;
          }
          try {
            await apply(decoded.event);
            lastRecordedAt = decoded.event.recordedAt;
            status.lastError = undefined;
          } catch (error) {
            status.lastError = error instanceof Error ? error.message : String(error);
            // Thrown: the offset is not committed and the message comes again.
            throw error;
          }
        },
      });
    },
    stop: () => consumer.disconnect(),
  };
}

export type Replicator = ReturnType<typeof createReplicator>;
