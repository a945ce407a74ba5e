import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Admin, Kafka } from 'kafkajs';
import { jsonSignatureValid, signJson } from '#infra/crypto/signing.ts';
import { CHAIN_CHECKPOINT_TOPIC } from '#infra/kafka/topics.ts';
import type { SqlExecutor } from '#infra/postgres/database.ts';
import type { OutsideEvidence } from './chain.ts';

/**
 * The head of the audit chain at a moment, signed with CHAIN_SIGNING_KEY
 * (HMAC-SHA-256) and kept outside the database: whoever edits the log and
 * rewrites the chain table to match cannot make the stored link at this
 * position equal the signed hash again without the key. Keyed by the log's
 * epoch on the topic (one deployment per cluster, like the other topics): a
 * signed head of a newer epoch than the log's own says a restore record was removed.
 */
export interface ChainCheckpoint {
  epoch: number;
  position: number;
  hash: string;
  signedAt: string;
  signature: string;
}

export function signCheckpoint(
  key: string,
  head: { epoch: number; position: number; hash: string },
  signedAt = new Date(),
): ChainCheckpoint {
  const unsigned = { epoch: head.epoch, position: head.position, hash: head.hash, signedAt: signedAt.toISOString() };
  return { ...unsigned, signature: signJson(key, unsigned) };
}

export const checkpointSignatureValid = (key: string, { signature, ...unsigned }: ChainCheckpoint) =>
  jsonSignatureValid(key, unsigned, signature);

/** The newest stored link, if any. */
export async function newestLink(db: SqlExecutor): Promise<{ position: number; hash: string } | undefined> {
  if (!(await db.query<{ t: string | null }>("SELECT to_regclass('audit_chain')::text AS t")).rows[0]?.t)
    return undefined;
  const { rows } = await db.query<{ position: string; hash: string }>(
    'SELECT position::text AS position, hash FROM audit_chain ORDER BY audit_chain.position DESC LIMIT 1',
  );
  return rows[0] && { position: Number(rows[0].position), hash: rows[0].hash };
}

/**
 * What the checkpoint topic says about a log of `epoch`, as the verifier takes
 * it: only heads signed with our key count (anything else is not ours); the
 * newest of our epoch is compared with the chain; one of a newer epoch is a break.
 */
export async function checkpointOnKafka(kafka: Kafka, key: string, epoch: number): Promise<OutsideEvidence> {
  const source = `Kafka topic ${CHAIN_CHECKPOINT_TOPIC}`;
  // A broker that does not answer must not hold the verification up: bounded, then reported as unavailable.
  let timer: NodeJS.Timeout | undefined;
  const all = await Promise.race([
    checkpointsOnKafka(kafka),
    new Promise<never>(
      (_, reject) => (timer = setTimeout(() => reject(new Error('Kafka did not answer within 15 s')), 15_000)),
    ),
  ]).finally(() => clearTimeout(timer));
  const ours = all.filter((checkpoint) => checkpointSignatureValid(key, checkpoint));
  const own = ours.filter((checkpoint) => checkpoint.epoch === epoch).at(-1);
  const newer = ours.filter((checkpoint) => checkpoint.epoch > epoch).at(-1);
  return {
    source,
    ...(own ? { head: { position: own.position, hash: own.hash, signedAt: own.signedAt } } : {}),
    ...(newer ? { newerEpoch: newer.epoch } : {}),
  };
}

/**
 * The topic's offsets. Right after the topic is created, or while its leader
 * moves, the broker answers that it does not lead the partition: a retriable
 * answer kafkajs's admin passes on, so it is asked again for a few seconds.
 */
async function offsetsOf(admin: Admin, topic: string) {
  for (let attempt = 1; ; attempt++) {
    try {
      return await admin.fetchTopicOffsets(topic);
    } catch (error) {
      if (!(error as { retriable?: boolean }).retriable || attempt >= 20) throw error;
      await sleep(250);
    }
  }
}

/** Every record of the topic, read to its end (it is compacted: about one per epoch). */
async function checkpointsOnKafka(kafka: Kafka, timeoutMs = 10_000): Promise<ChainCheckpoint[]> {
  const admin = kafka.admin();
  await admin.connect();
  let high: bigint;
  try {
    if (!(await admin.listTopics()).includes(CHAIN_CHECKPOINT_TOPIC)) return [];
    const [partition] = await offsetsOf(admin, CHAIN_CHECKPOINT_TOPIC);
    high = BigInt(partition?.high ?? '0');
    if (high === 0n || partition?.high === partition?.low) return [];
  } finally {
    await admin.disconnect();
  }
  const consumer = kafka.consumer({ groupId: `configledger-verify-${randomUUID()}` });
  await consumer.connect();
  try {
    await consumer.subscribe({ topic: CHAIN_CHECKPOINT_TOPIC, fromBeginning: true });
    const found: ChainCheckpoint[] = [];
    let timer: NodeJS.Timeout | undefined;
    await new Promise<void>((resolve, reject) => {
      timer = setTimeout(
        () => reject(new Error(`the checkpoint topic was not read to its end within ${timeoutMs} ms`)),
        timeoutMs,
      );
      consumer
        .run({
          eachMessage: async ({ message }) => {
            if (message.value) {
              try {
                found.push(JSON.parse(message.value.toString()) as ChainCheckpoint);
              } catch {
                // Not a checkpoint: its signature could not be valid either.
              }
            }
            if (BigInt(message.offset) >= high - 1n) resolve();
          },
        })
        .catch(reject);
    }).finally(() => clearTimeout(timer));
    return found;
  } finally {
    await consumer.disconnect();
  }
}
