import { randomUUID } from 'node:crypto';
import type { Kafka } from 'kafkajs';
import { jsonSignatureValid, signJson } from '#infra/crypto/signing.ts';
import { CHAIN_CHECKPOINT_TOPIC } from '#infra/kafka/topics.ts';
import type { SqlExecutor } from '#infra/postgres/database.ts';
import type { OutsideCheckpoint } from './chain.ts';
import type { EventStore } from '#infra/eventstore/port.ts';

/**
 * The head of the audit chain at a moment, signed with CHAIN_SIGNING_KEY
 * (HMAC-SHA-256) and kept outside the database: whoever edits the log and
 * rewrites the chain table to match cannot make the stored link at this
 * position equal the signed hash again without the key.
 */
export interface ChainCheckpoint {
  /** Which log: the id of its first event (a restored copy keeps it; its epoch tells them apart). */
  log: string;
  epoch: number;
  position: number;
  hash: string;
  signedAt: string;
  signature: string;
}

export function signCheckpoint(key: string, head: { log: string; epoch: number; position: number; hash: string }, signedAt = new Date()): ChainCheckpoint {
  const unsigned = { log: head.log, epoch: head.epoch, position: head.position, hash: head.hash, signedAt: signedAt.toISOString() };
  return { ...unsigned, signature: signJson(key, unsigned) };
}

export const checkpointSignatureValid = (key: string, { signature, ...unsigned }: ChainCheckpoint) => jsonSignatureValid(key, unsigned, signature);

/** The newest stored link, if any. */
export async function newestLink(db: SqlExecutor): Promise<{ position: number; hash: string } | undefined> {
  if (!(await db.query<{ t: string | null }>("SELECT to_regclass('audit_chain')::text AS t")).rows[0]?.t) return undefined;
  const { rows } = await db.query<{ position: string; hash: string }>('SELECT position::text AS position, hash FROM audit_chain ORDER BY audit_chain.position DESC LIMIT 1');
  return rows[0] && { position: Number(rows[0].position), hash: rows[0].hash };
}

/** The id of the log's first event: names the log on the checkpoint topic, which several logs may share. */
export async function logIdentity(store: EventStore): Promise<string | undefined> {
  for await (const event of store.readAll({ maxCount: 1 })) return event.id;
  return undefined;
}

export const checkpointKey = (log: string, epoch: number) => `${log}/${epoch}`;

/** The newest checkpoint of this log and epoch, as the verifier takes it (an earlier epoch's positions are another log's). */
export async function checkpointOnKafka(kafka: Kafka, key: string, store: EventStore, epoch: number): Promise<OutsideCheckpoint | undefined> {
  const log = await logIdentity(store);
  if (!log) return undefined;
  // A broker that does not answer must not hold the verification up: bounded, then reported as unavailable.
  let timer: NodeJS.Timeout | undefined;
  const checkpoint = await Promise.race([
    newestCheckpointOnKafka(kafka, checkpointKey(log, epoch)),
    new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error('Kafka did not answer within 15 s')), 15_000))),
  ]).finally(() => clearTimeout(timer));
  if (!checkpoint) return undefined;
  return { ...outside(checkpoint, `Kafka topic ${CHAIN_CHECKPOINT_TOPIC}`), signatureValid: checkpointSignatureValid(key, checkpoint) };
}

const outside = ({ position, hash, signedAt }: ChainCheckpoint, source: string) => ({ source, position, hash, signedAt });

/** The newest checkpoint under `key` on the topic (read to its end; it is compacted, one record per log and epoch), or undefined. */
export async function newestCheckpointOnKafka(kafka: Kafka, key: string, timeoutMs = 10_000): Promise<ChainCheckpoint | undefined> {
  const admin = kafka.admin();
  await admin.connect();
  let high: bigint;
  try {
    if (!(await admin.listTopics()).includes(CHAIN_CHECKPOINT_TOPIC)) return undefined;
    const [partition] = await admin.fetchTopicOffsets(CHAIN_CHECKPOINT_TOPIC);
    high = BigInt(partition?.high ?? '0');
    if (high === 0n || partition?.high === partition?.low) return undefined;
  } finally {
    await admin.disconnect();
  }
  const consumer = kafka.consumer({ groupId: `configledger-verify-${randomUUID()}` });
  await consumer.connect();
  try {
    await consumer.subscribe({ topic: CHAIN_CHECKPOINT_TOPIC, fromBeginning: true });
    let newest: ChainCheckpoint | undefined;
    let timer: NodeJS.Timeout | undefined;
    await new Promise<void>((resolve, reject) => {
      timer = setTimeout(() => reject(new Error(`no chain checkpoint read from Kafka within ${timeoutMs} ms`)), timeoutMs);
      consumer
        .run({
          eachMessage: async ({ message }) => {
            if (message.value && message.key?.toString() === key) newest = JSON.parse(message.value.toString()) as ChainCheckpoint;
            if (BigInt(message.offset) >= high - 1n) resolve();
          },
        })
        .catch(reject);
    }).finally(() => clearTimeout(timer));
    return newest;
  } finally {
    await consumer.disconnect();
  }
}
