/**
 * A trading service's view of its configuration, printed as it changes:
 *   KAFKA_BROKERS=127.0.0.1:9092 npx tsx services/config-client/example.ts order-router production
 *   CONFIGLEDGER_URL=http://127.0.0.1:8011/api/v1 CONFIGLEDGER_TOKEN=... npx tsx services/config-client/example.ts order-router production
 */
import { createConfigClient } from '@configledger/client';

const [serviceId = 'order-router', environment = 'production'] = process.argv.slice(2);
const brokers = (process.env.KAFKA_BROKERS ?? '')
  .split(',')
  .map((broker) => broker.trim())
  .filter(Boolean);
const client = await createConfigClient({
  serviceId,
  environment,
  ...(brokers.length
    ? { brokers }
    : { url: process.env.CONFIGLEDGER_URL ?? 'http://127.0.0.1:8011/api/v1', token: process.env.CONFIGLEDGER_TOKEN }),
});
process.stdout.write(
  `${serviceId}/${environment} version ${client.version} via ${brokers.length ? 'Kafka' : 'WebSocket'}: ${JSON.stringify(client.getAll())}\n`,
);
client.onChange((change) => {
  const lines = change.changes.map(
    (c) => `  ${c.path}: ${JSON.stringify(c.oldValue)} -> ${JSON.stringify(c.newValue)}`,
  );
  process.stdout.write(
    `${new Date().toISOString()} version ${change.previousVersion} -> ${change.version}\n${lines.join('\n')}\n`,
  );
});
client.onFailure((error) => process.stderr.write(`${error.message}\n`));
process.on('SIGINT', () => void client.close().then(() => process.exit(0)));
