import CircuitBreaker from 'opossum';
import { breakerState } from '#infra/resilience/breaker-state.ts';
import type { Kafka, Producer, TopicMessages } from 'kafkajs';
import { encodeEvent } from '#events/avro/codec.ts';
import type { EventStore, RecordedEvent, Subscription } from '#infra/eventstore/port.ts';
import { CONFIG_STATE_TOPIC, EVENTS_TOPIC, ensureTopics } from '#infra/kafka/topics.ts';
import type { Database } from '#infra/postgres/database.ts';
import { batches } from '../batches.ts';
import type { EnvironmentDirectory } from '../environments/directory.ts';
import { readCheckpoint } from '../runner.ts';
import { ConfigStateFold, configStateKey } from './config-state.ts';

export const PUBLISHER_CHECKPOINT = 'kafka-publisher';
const MAX_BATCH = 500;
const RETRY_DELAY_MS = 1000;

export interface PublisherStatus {
  position: bigint;
  breaker: 'closed' | 'open' | 'half-open';
  connected: boolean;
  lastError?: string;
  publishedEvents: number;
}

export interface KafkaPublisher {
  start(): Promise<void>;
  stop(): Promise<void>;
  status(): PublisherStatus;
}

export interface PublisherOptions {
  store: EventStore;
  db: Database;
  kafka: Kafka;
  environments: EnvironmentDirectory;
  /** Resolves once the read models hold `position` (the fold is seeded from them). */
  readModelsAt(position: bigint): Promise<boolean>;
  logger?: { warn(details: object, message: string): void };
}

/**
 * A projection into Kafka with its own checkpoint: every event to
 * `configledger.events.v1` (Avro) and the effective document of every
 * configuration it changed to the compacted `configledger.config-state.v1`.
 * The checkpoint moves only after the broker acknowledged the batch (acks=all),
 * so delivery is at-least-once; a broker outage stalls publishing, never the API,
 * and the backlog drains from the checkpoint when the broker returns.
 */
export function createKafkaPublisher(options: PublisherOptions): KafkaPublisher {
  const producer: Producer = options.kafka.producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false });
  const send = (topicMessages: TopicMessages[]) => producer.sendBatch({ topicMessages, acks: -1 });
  const breaker = new CircuitBreaker(send, { timeout: 15_000, errorThresholdPercentage: 50, volumeThreshold: 3, resetTimeout: 3_000 });
  const fold = new ConfigStateFold(options.environments);
  let position = 0n;
  let connected = false;
  let lastError: string | undefined;
  let publishedEvents = 0;
  let stopped = false;
  let subscription: Subscription | undefined;
  let loop: Promise<void> | undefined;
  let wakeSleeper: () => void = () => undefined;

  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      wakeSleeper = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  const failed = (error: unknown, message: string) => {
    lastError = error instanceof Error ? error.message : String(error);
    options.logger?.warn({ err: error }, message);
  };

  async function connect(): Promise<void> {
    while (!stopped && !connected) {
      try {
        await ensureTopics(options.kafka);
        await producer.connect();
        connected = true;
        lastError = undefined;
      } catch (error) {
        failed(error, 'Kafka is unreachable; publishing waits for it');
        await sleep(RETRY_DELAY_MS);
      }
    }
  }

  function messagesFor(batch: RecordedEvent[]): TopicMessages[] {
    const events = batch.map((event) => {
      const { key, value, headers } = encodeEvent(event);
      return { key, value, headers };
    });
    const states = fold.apply(batch).map((state) => ({
      key: configStateKey(state.serviceId, state.environment),
      value: JSON.stringify(state),
      headers: { 'content-type': 'application/json' },
    }));
    return [{ topic: EVENTS_TOPIC, messages: events }, ...(states.length > 0 ? [{ topic: CONFIG_STATE_TOPIC, messages: states }] : [])];
  }

  async function publish(batch: RecordedEvent[]): Promise<void> {
    const topicMessages = messagesFor(batch);
    while (!stopped) {
      try {
        await breaker.fire(topicMessages);
        break;
      } catch (error) {
        failed(error, 'publishing to Kafka failed; retrying from the same position');
        await sleep(breaker.opened ? RETRY_DELAY_MS * 3 : RETRY_DELAY_MS);
      }
    }
    if (stopped) return;
    const last = batch[batch.length - 1]!.position;
    // Acknowledged: now the checkpoint may move. If this write fails, the batch is simply sent again.
    while (!stopped) {
      try {
        await options.db.query(
          `INSERT INTO projection_checkpoints (name, position) VALUES ($1, $2)
           ON CONFLICT (name) DO UPDATE SET position = EXCLUDED.position, updated_at = now()`,
          [PUBLISHER_CHECKPOINT, last.toString()],
        );
        break;
      } catch (error) {
        failed(error, 'saving the publisher checkpoint failed; retrying');
        await sleep(RETRY_DELAY_MS);
      }
    }
    position = last;
    publishedEvents += batch.length;
    lastError = undefined;
  }

  async function follow(): Promise<void> {
    position = await readCheckpoint(options.db, PUBLISHER_CHECKPOINT);
    await options.readModelsAt(position);
    await fold.seed(options.db, position);
    await connect();
    while (!stopped) {
      try {
        subscription = options.store.subscribeAll({ fromPosition: position });
        for await (const batch of batches(subscription, MAX_BATCH)) {
          await publish(batch);
          if (stopped) return;
        }
      } catch (error) {
        failed(error, 'the publisher lost its subscription; resuming from its checkpoint');
        await sleep(RETRY_DELAY_MS);
      }
    }
  }

  return {
    async start() {
      loop = follow();
    },
    async stop() {
      stopped = true;
      wakeSleeper();
      await subscription?.close();
      await loop?.catch(() => undefined);
      breaker.shutdown();
      await producer.disconnect().catch(() => undefined);
    },
    status: () => ({
      position,
      breaker: breakerState(breaker),
      connected,
      publishedEvents,
      ...(lastError ? { lastError } : {}),
    }),
  };
}
