import { Kafka, logLevel, type Admin } from 'kafkajs';

export const EVENTS_TOPIC = 'configledger.events.v1';
export const CONFIG_STATE_TOPIC = 'configledger.config-state.v1';
/** Signed audit-chain heads, keyed by log epoch: kept outside the database, so editing both the log and its chain is found. */
export const CHAIN_CHECKPOINT_TOPIC = 'configledger.chain-checkpoints.v1';

/** Every event, keyed by stream (order per stream); kept as long as the log, so a replica can always catch up. */
const TOPICS = [
  { topic: EVENTS_TOPIC, numPartitions: 6, configEntries: [{ name: 'retention.ms', value: '-1' }] },
  {
    topic: CONFIG_STATE_TOPIC,
    numPartitions: 6,
    configEntries: [
      { name: 'cleanup.policy', value: 'compact' },
      { name: 'min.compaction.lag.ms', value: '0' },
      { name: 'segment.ms', value: '3600000' },
    ],
  },
  { topic: CHAIN_CHECKPOINT_TOPIC, numPartitions: 1, configEntries: [{ name: 'cleanup.policy', value: 'compact' }] },
];

export function createKafka(brokers: string[], clientId = 'configledger'): Kafka {
  return new Kafka({
    clientId,
    brokers,
    logLevel: logLevel.NOTHING,
    retry: { initialRetryTime: 100, retries: 8, maxRetryTime: 5000 },
  });
}

/** Creates the topics this service publishes to, with their settings, when they do not exist. */
export async function ensureTopics(kafka: Kafka): Promise<void> {
  const admin: Admin = kafka.admin();
  await admin.connect();
  try {
    const existing = new Set(await admin.listTopics());
    const missing = TOPICS.filter((topic) => !existing.has(topic.topic));
    if (missing.length > 0)
      await admin.createTopics({
        topics: missing.map((topic) => ({ ...topic, replicationFactor: 1 })),
        waitForLeaders: true,
      });
  } finally {
    await admin.disconnect();
  }
}
