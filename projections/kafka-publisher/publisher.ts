import CircuitBreaker from 'opossum';
import { breakerState } from '#infra/resilience/breaker-state.ts';
import type { Kafka, Producer, TopicMessages } from 'kafkajs';
import { encodeEvent } from '#events/avro/codec.ts';
import type { EventStore, RecordedEvent } from '#infra/eventstore/port.ts';
import { CHAIN_CHECKPOINT_TOPIC, CONFIG_STATE_TOPIC, EVENTS_TOPIC, ensureTopics } from '#infra/kafka/topics.ts';
import { newestLink, signCheckpoint } from '../audit/checkpoint.ts';
import type { Database } from '#infra/postgres/database.ts';
import { EffectiveFold } from '../effective/fold.ts';
import { type FollowOptions, type FollowerLogger, followLog } from '../follow.ts';
import { readCheckpoint, writeCheckpoint } from '../runner.ts';
import { configStateKey, configStateOf } from './config-state.ts';

export const PUBLISHER_CHECKPOINT = 'kafka-publisher';
const MAX_BATCH = 500;
const RETRY_DELAY_MS = 1000;
const CHECKPOINT_EVERY_MS = 5000;

export interface PublisherStatus {
  position: bigint;
  breaker: 'closed' | 'open' | 'half-open';
  connected: boolean;
  /** Whether the broker answered the last probe (every PROBE_EVERY_MS); undefined before the first answer or failure. */
  reachable: boolean | undefined;
  /** Set while the broker does not answer: why. */
  unreachable?: string;
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
  /** Resolves once the read models hold `position` (the fold is seeded from them). */
  readModelsAt(position: bigint): Promise<boolean>;
  /** The log's epoch, published with every message (a `log-epoch` header; a field of the state). */
  epoch(): number;
  /** CHAIN_SIGNING_KEY: the audit chain's head is signed and put on the checkpoint topic every few seconds while it moves. */
  chainSigningKey?: string;
  logger?: FollowerLogger;
  onFailure?: FollowOptions['onFailure'];
}

/**
 * A projection into Kafka with its own checkpoint: every event to
 * `configledger.events.v1` (Avro) and every effective configuration it
 * changed to the compacted `configledger.config-state.v1`. The checkpoint
 * moves only after the broker acknowledged the batch (acks=all), so delivery
 * is at-least-once; a broker outage stalls publishing, never the API, and the
 * backlog drains from the checkpoint when the broker returns.
 */
export function createKafkaPublisher(options: PublisherOptions): KafkaPublisher {
  // Few quick retries: a broker that is away is reported (and the breaker opens) within seconds; the follower retries the batch.
  const producer: Producer = options.kafka.producer({
    idempotent: true,
    maxInFlightRequests: 1,
    allowAutoTopicCreation: false,
    retry: { retries: 3, initialRetryTime: 100, maxRetryTime: 1000 },
  });
  const send = (topicMessages: TopicMessages[]) => producer.sendBatch({ topicMessages, acks: -1 });
  const breaker = new CircuitBreaker(send, {
    timeout: 5_000,
    errorThresholdPercentage: 50,
    volumeThreshold: 3,
    resetTimeout: 3_000,
  });
  const probe = brokerProbe(options.kafka, options.logger);
  let fold: EffectiveFold | undefined;
  let position = 0n;
  let connected = false;
  let publishedEvents = 0;
  /** A batch's messages are computed once (the fold moves on), and sent again as they are until acknowledged. */
  let prepared: { last: bigint; messages: TopicMessages[] } | undefined;

  function messagesFor(batch: RecordedEvent[], into: EffectiveFold): TopicMessages[] {
    const epoch = String(options.epoch());
    const events = batch.map((event) => {
      const { key, value, headers } = encodeEvent(event);
      return { key, value, headers: { ...headers, 'log-epoch': epoch } };
    });
    const states = batch
      .flatMap((event) => into.apply(event))
      .map((update) => {
        const state = configStateOf(update, Number(epoch));
        return {
          key: configStateKey(update.serviceId, update.environment),
          value: state && JSON.stringify(state),
          headers: { 'content-type': 'application/json', 'log-epoch': epoch },
        };
      });
    return [
      { topic: EVENTS_TOPIC, messages: events },
      ...(states.length > 0 ? [{ topic: CONFIG_STATE_TOPIC, messages: states }] : []),
    ];
  }

  const follower = followLog({
    name: 'kafka publisher',
    store: options.store,
    logger: options.logger,
    onFailure: options.onFailure,
    maxBatch: MAX_BATCH,
    retryDelayMs: RETRY_DELAY_MS,
    // The first time, and after a failure during it: the durable checkpoint, and the fold seeded there. Then the fold's own position.
    checkpoint: async () => {
      if (fold) return position;
      position = await readCheckpoint(options.db, PUBLISHER_CHECKPOINT);
      await options.readModelsAt(position);
      const seeded = new EffectiveFold();
      await seeded.seed(options.store, options.db, position);
      fold = seeded;
      return position;
    },
    handle: async (batch) => {
      const last = batch[batch.length - 1]!.position;
      if (prepared?.last !== last) prepared = { last, messages: messagesFor(batch, fold!) };
      if (!connected) {
        await ensureTopics(options.kafka);
        await producer.connect();
        connected = true;
      }
      await breaker.fire(prepared.messages);
      // Acknowledged: now the checkpoint may move. If this write fails, the batch is simply sent again.
      await writeCheckpoint(options.db, PUBLISHER_CHECKPOINT, last);
      position = last;
      publishedEvents += batch.length;
    },
  });

  // The chain head, signed, outside the database: only when it moved, and only once the broker is connected.
  let checkpointed = -1;
  const checkpointTimer = setInterval(async () => {
    if (!options.chainSigningKey || !connected) return;
    try {
      const head = await newestLink(options.db);
      if (!head || head.position === checkpointed) return;
      const checkpoint = signCheckpoint(options.chainSigningKey, { epoch: options.epoch(), ...head });
      await producer.send({
        topic: CHAIN_CHECKPOINT_TOPIC,
        messages: [{ key: String(checkpoint.epoch), value: JSON.stringify(checkpoint) }],
        acks: -1,
      });
      checkpointed = head.position;
    } catch {
      // The next tick tries again; the follower reports a broker that stays away.
    }
  }, CHECKPOINT_EVERY_MS);
  checkpointTimer.unref();

  return {
    async start() {
      probe.start();
      await follower.start();
    },
    async stop() {
      clearInterval(checkpointTimer);
      await probe.stop();
      // Nothing is lost by abandoning a send in flight: the checkpoint moves only after an acknowledgement.
      await follower.stop();
      breaker.shutdown();
      await Promise.race([
        producer.disconnect().catch(() => undefined),
        new Promise((resolve) => setTimeout(resolve, 1000).unref()),
      ]);
    },
    status: () => ({
      position,
      breaker: breakerState(breaker),
      connected,
      reachable: probe.reachable,
      ...(probe.unreachable ? { unreachable: probe.unreachable } : {}),
      publishedEvents,
      ...(follower.failing ? { lastError: follower.failing.error } : {}),
    }),
  };
}

const PROBE_EVERY_MS = 1000;
const PROBE_TIMEOUT_MS = 2000;

/**
 * Asks the cluster for its metadata every second, with a short deadline: a
 * broker that went away is known within seconds even when nothing is being
 * published. Logs once when the broker stops answering and once when it
 * answers again, never per attempt.
 */
function brokerProbe(kafka: Kafka, logger: FollowerLogger | undefined) {
  const admin = kafka.admin({ retry: { retries: 0 } });
  let connected = false;
  let reachable: boolean | undefined;
  let unreachable: string | undefined;
  let probing = false;
  let timer: NodeJS.Timeout | undefined;

  async function ask(): Promise<void> {
    if (probing) return;
    probing = true;
    let deadline: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        (async () => {
          if (!connected) {
            await admin.connect();
            connected = true;
          }
          await admin.describeCluster();
        })(),
        new Promise(
          (_, reject) =>
            (deadline = setTimeout(
              () => reject(new Error(`no answer within ${PROBE_TIMEOUT_MS} ms`)),
              PROBE_TIMEOUT_MS,
            )),
        ),
      ]);
      if (reachable === false) logger?.info({ kafka: 'reachable' }, 'Kafka answers again');
      reachable = true;
      unreachable = undefined;
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      if (reachable !== false)
        logger?.warn(
          { kafka: 'unreachable', err: message },
          'Kafka does not answer; publishing waits and resumes from its checkpoint',
        );
      reachable = false;
      unreachable = message;
      if (connected) {
        connected = false;
        void admin.disconnect().catch(() => undefined);
      }
    } finally {
      clearTimeout(deadline);
      probing = false;
    }
  }

  return {
    get reachable() {
      return reachable;
    },
    get unreachable() {
      return unreachable;
    },
    start() {
      void ask();
      timer = setInterval(() => void ask(), PROBE_EVERY_MS);
      timer.unref();
    },
    async stop() {
      clearInterval(timer);
      await Promise.race([
        admin.disconnect().catch(() => undefined),
        new Promise((resolve) => setTimeout(resolve, 1000).unref()),
      ]);
    },
  };
}
