import { randomUUID } from 'node:crypto';
import { type Admin, type Consumer, Kafka, logLevel } from 'kafkajs';
import type { LocalConfiguration, Snapshot } from './local-state.ts';

/** The compacted topic the service publishes each effective configuration to, keyed `serviceId/environment`. */
export const CONFIG_STATE_TOPIC = 'configledger.config-state.v1';

/**
 * Bootstraps from the compacted `configledger.config-state.v1` (read from the
 * beginning up to its end), then follows it. Each client has a consumer group
 * of its own, so every instance of a service sees every update.
 */
/**
 * The state topic's offsets. While a partition's leader is being elected (a
 * new topic, a broker restart) the broker says it does not lead it, a
 * retriable answer the admin client passes on: asked again for a few seconds.
 */
async function offsetsOf(admin: Admin) {
  for (let attempt = 1; ; attempt++) {
    try {
      return await admin.fetchTopicOffsets(CONFIG_STATE_TOPIC);
    } catch (error) {
      if (!(error as { retriable?: boolean }).retriable || attempt >= 20) throw error;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }
}

export async function followKafka(
  brokers: string[],
  key: string,
  state: LocalConfiguration,
  bootstrapTimeoutMs: number,
): Promise<{ close(): Promise<void> }> {
  const kafka = new Kafka({
    clientId: 'configledger-client',
    brokers,
    logLevel: logLevel.NOTHING,
    retry: { initialRetryTime: 100, retries: 8, maxRetryTime: 5000 },
  });
  const admin = kafka.admin();
  await admin.connect();
  const offsets = await offsetsOf(admin).finally(() => admin.disconnect());
  const behind = new Set(
    offsets.filter((offset) => offset.high !== offset.low && offset.high !== '0').map((offset) => offset.partition),
  );

  const consumer: Consumer = kafka.consumer({
    groupId: `configledger-client-${randomUUID()}`,
    retry: { retries: Number.MAX_SAFE_INTEGER, maxRetryTime: 5000 },
  });
  await consumer.connect();
  await consumer.subscribe({ topic: CONFIG_STATE_TOPIC, fromBeginning: true });

  let markReady: () => void = () => undefined;
  const ready = new Promise<void>((resolve) => (markReady = resolve));
  if (behind.size === 0) markReady();
  consumer.on(consumer.events.END_BATCH_PROCESS, ({ payload }) => {
    if (payload.topic === CONFIG_STATE_TOPIC && payload.offsetLag === '0') {
      behind.delete(payload.partition);
      if (behind.size === 0) markReady();
    }
  });

  await consumer.run({
    eachMessage: async ({ message }) => {
      if (message.key?.toString() !== key || !message.value) return;
      state.offer(JSON.parse(message.value.toString()) as Snapshot);
    },
  });

  let timer: NodeJS.Timeout | undefined;
  await Promise.race([ready, new Promise<void>((resolve) => (timer = setTimeout(resolve, bootstrapTimeoutMs)))]);
  clearTimeout(timer);
  return { close: () => consumer.disconnect() };
}
