import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Kafka, KafkaMessage } from 'kafkajs';

const run = promisify(execFile);

/** The broker `make test` starts (or one a person started with `make kafka-up`). */
export const TEST_BROKERS = (process.env.KAFKA_TEST_BROKERS ?? '127.0.0.1:9092').split(',');

/** A broker of the test's own, on its own port and storage, that the test may stop and start. */
export async function startOwnBroker(port: number) {
  const stateDir = mkdtempSync(join(tmpdir(), 'configledger-kafka-'));
  const env = { ...process.env, KAFKA_PORT: String(port), KAFKA_STATE_DIR: stateDir };
  const script = 'infra/kafka/kafka.sh';
  const up = () => run(script, ['up'], { env, timeout: 120_000 });
  const down = () => run(script, ['down'], { env, timeout: 60_000 });
  await up();
  return {
    brokers: [`127.0.0.1:${port}`],
    up,
    down,
    async dispose() {
      await down();
      rmSync(stateDir, { recursive: true, force: true });
    },
  };
}

/** Reads `topic` from the beginning until `done` says enough, or fails after `timeoutMs`. */
export async function consumeUntil(
  kafka: Kafka,
  topic: string,
  accept: (message: KafkaMessage) => boolean,
  done: (accepted: KafkaMessage[]) => boolean,
  timeoutMs = 30_000,
): Promise<KafkaMessage[]> {
  const consumer = kafka.consumer({ groupId: `test-${Math.random().toString(36).slice(2)}` });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  const accepted: KafkaMessage[] = [];
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`timed out on ${topic} with ${accepted.length} messages`)),
        timeoutMs,
      );
      void consumer.run({
        eachMessage: async ({ message }) => {
          if (accept(message)) accepted.push(message);
          if (done(accepted)) {
            clearTimeout(timer);
            resolve();
          }
        },
      });
    });
  } finally {
    await consumer.disconnect();
  }
  return accepted;
}
