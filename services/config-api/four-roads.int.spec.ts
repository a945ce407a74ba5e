import { randomBytes } from 'node:crypto';
import type { Consumer } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JsonObject } from '#events/metadata.ts';
import { CONFIG_STATE_TOPIC, createKafka } from '#infra/kafka/topics.ts';
import { TEST_BROKERS } from '#infra/testing/kafka.ts';
import { startTestServer, type TestServer } from '#infra/testing/server.ts';
import { waitFor } from '#infra/testing/wait.ts';
import { WsClient } from '#infra/testing/ws-client.ts';
import { checksumOf } from '#services/shared/canonical.ts';
import { type ConfigClient, createConfigClient } from '#services/config-client/index.ts';

/** What a road says a configuration is. */
interface Reading {
  configuration: JsonObject;
  checksum: string;
  position: number;
}

const same = (a: Reading | undefined, b: Reading) =>
  a !== undefined && a.checksum === b.checksum && a.position === b.position && checksumOf(a.configuration) === b.checksum;

/** The compacted state topic, followed from the beginning: the newest record per key. */
async function followStateTopic(): Promise<{ get(key: string): Reading | undefined; close(): Promise<void> }> {
  const consumer: Consumer = createKafka(TEST_BROKERS, 'four-roads').consumer({ groupId: `four-roads-${randomBytes(4).toString('hex')}` });
  const latest = new Map<string, Reading>();
  await consumer.connect();
  await consumer.subscribe({ topic: CONFIG_STATE_TOPIC, fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ message }) => {
      const key = message.key!.toString();
      if (!message.value) return void latest.delete(key);
      const value = JSON.parse(message.value.toString()) as Reading;
      if ((latest.get(key)?.position ?? 0) <= value.position) latest.set(key, value);
    },
  });
  return { get: (key) => latest.get(key), close: () => consumer.disconnect() };
}

/** A raw WebSocket subscriber: it starts from what HTTP answers, then keeps the newest push. */
async function followWebSocket(server: TestServer, token: string, serviceId: string, environment: string) {
  let latest: Reading | undefined;
  const read = async () => {
    const answer = await server.call('GET', `/configurations/${serviceId}?environment=${environment}`, { token });
    if (answer.status === 200 && (latest?.position ?? 0) < answer.body.data.position) latest = answer.body.data;
  };
  await read();
  const client = new WsClient(`${server.baseUrl.replace('http', 'ws')}/ws`, ['configledger.v1', `bearer.${token}`]);
  await client.opened();
  client.socket.on('message', (raw) => {
    const message = JSON.parse(raw.toString());
    if (message.type === 'error' && message.data.code === 'RESUME_TOO_OLD') void read();
    if (message.type !== 'configuration_changed' || message.data.environment !== environment) return;
    client.send({ type: 'ack', data: { messageId: message.id } });
    if (message.data.configuration && (latest?.position ?? 0) < message.data.position) latest = message.data;
  });
  client.send({ type: 'subscribe', data: { patterns: [`config.${serviceId}.${environment}`], fromPosition: latest?.position ?? 0 } });
  return { get: () => latest, close: () => client.close() };
}

describe('one truth on every road: HTTP, the state topic, the WebSocket and both SDK modes agree', () => {
  let primary: TestServer;
  let second: TestServer;
  let admin: string;
  let stateTopic: Awaited<ReturnType<typeof followStateTopic>>;
  const closing: { close(): Promise<void> | void }[] = [];

  beforeAll(async () => {
    primary = await startTestServer({ kafkaBrokers: TEST_BROKERS });
    second = await startTestServer({ databaseUrl: primary.databaseUrl });
    admin = await primary.token('root', ['admin']);
    stateTopic = await followStateTopic();
  }, 60_000);
  afterAll(async () => {
    for (const road of closing) await road.close();
    await stateTopic?.close();
    await second?.close();
    await primary?.close();
  });

  const write = async (method: string, path: string, body?: unknown) => {
    const answer = await primary.call(method, path, { token: admin, body });
    expect(answer.status, `${method} ${path}: ${JSON.stringify(answer.body)}`).toBeLessThan(300);
    return answer.body?.data?.position as number;
  };
  const environments = async (...definitions: [string, string[]][]) => {
    for (const [id, inheritsFrom] of definitions) await write('POST', '/environments', { id, inheritsFrom });
  };

  /** Starts every road on (serviceId, environment) of `reader`, makes the change, and waits until all of them say what HTTP says. */
  async function agree(serviceId: string, environment: string, change: () => Promise<number>, reader: TestServer = primary) {
    const token = await reader.token(`reader-${serviceId}`, ['reader']);
    const before = await reader.call('GET', `/configurations/${serviceId}?environment=${environment}`, { token });
    const roads: Record<string, () => Reading | undefined> = { 'state topic': () => stateTopic.get(`${serviceId}/${environment}`) };
    const ws = await followWebSocket(reader, token, serviceId, environment);
    closing.push(ws);
    roads['WebSocket'] = ws.get;
    const sdk = (client: ConfigClient) => () => (client.position > 0 ? { configuration: client.getAll(), checksum: client.checksum, position: client.position } : undefined);
    const overKafka = await createConfigClient({ serviceId, environment, brokers: TEST_BROKERS, bootstrapTimeoutMs: 5_000 });
    const overWebSocket = await createConfigClient({ serviceId, environment, url: reader.baseUrl, token });
    closing.push(overKafka, overWebSocket);
    roads['SDK over Kafka'] = sdk(overKafka);
    roads['SDK over WebSocket'] = sdk(overWebSocket);

    const position = await change();
    const truth = (await reader.call('GET', `/configurations/${serviceId}?environment=${environment}&minPosition=${position}`, { token })).body.data as Reading;
    expect(truth.checksum).toBe(checksumOf(truth.configuration));
    expect(truth.position).toBeGreaterThanOrEqual(position);
    if (before.status === 200) expect(truth.position, 'the effective position only moves forward').toBeGreaterThan(before.body.data.position);
    try {
      await waitFor(() => Object.values(roads).every((road) => same(road(), truth)), 30_000, 'every road');
    } catch (error) {
      const seen = Object.fromEntries(Object.entries(roads).map(([name, road]) => [name, road()]));
      throw new Error(`${String(error)}\nHTTP: ${JSON.stringify(truth)}\n${JSON.stringify(seen, null, 1)}`);
    }
    for (const [name, road] of Object.entries(roads)) expect(road()!.configuration, name).toEqual(truth.configuration);
    return truth;
  }

  it('after a parent changes', async () => {
    await environments(['a_parent', []], ['a_kid', ['a_parent']]);
    await write('PUT', '/configurations/roads-a?environment=a_parent', { configuration: { risk: { max: 10, min: 1 }, venue: 'XNYS' } });
    await write('PUT', '/configurations/roads-a?environment=a_kid', { configuration: { risk: { min: 2 } } });
    const truth = await agree('roads-a', 'a_kid', () => write('PATCH', '/configurations/roads-a?environment=a_parent', { patch: { risk: { max: 20 } } }));
    expect(truth.configuration).toEqual({ risk: { max: 20, min: 2 }, venue: 'XNYS' });
  }, 60_000);

  it('after the child changes', async () => {
    await environments(['b_parent', []], ['b_kid', ['b_parent']]);
    await write('PUT', '/configurations/roads-b?environment=b_parent', { configuration: { risk: { max: 10 } } });
    await write('PUT', '/configurations/roads-b?environment=b_kid', { configuration: { venue: 'XLON' } });
    const truth = await agree('roads-b', 'b_kid', () => write('PUT', '/configurations/roads-b/venue?environment=b_kid', { value: 'XPAR' }));
    expect(truth.configuration).toEqual({ risk: { max: 10 }, venue: 'XPAR' });
  }, 60_000);

  it('after the child is given another parent', async () => {
    await environments(['c_parent', []], ['c_alt', []], ['c_kid', ['c_parent']]);
    await write('PUT', '/configurations/roads-c?environment=c_parent', { configuration: { risk: { max: 10 } } });
    await write('PUT', '/configurations/roads-c?environment=c_alt', { configuration: { risk: { max: 99 }, alt: true } });
    await write('PUT', '/configurations/roads-c?environment=c_kid', { configuration: { own: 1 } });
    const truth = await agree('roads-c', 'c_kid', () => write('PUT', '/environments/c_kid', { inheritsFrom: ['c_alt'] }));
    expect(truth.configuration).toEqual({ risk: { max: 99 }, alt: true, own: 1 });
    // And a later change of the new parent reaches it too.
    await agree('roads-c', 'c_kid', () => write('PATCH', '/configurations/roads-c?environment=c_alt', { patch: { alt: false } }));
  }, 60_000);

  it('after a parent is removed', async () => {
    await environments(['d_one', []], ['d_two', []], ['d_kid', ['d_one', 'd_two']]);
    await write('PUT', '/configurations/roads-d?environment=d_one', { configuration: { a: 1, shared: 'one' } });
    await write('PUT', '/configurations/roads-d?environment=d_two', { configuration: { b: 2, shared: 'two' } });
    const truth = await agree('roads-d', 'd_kid', () => write('DELETE', '/environments/d_two', { changeReason: 'decommissioned' }));
    expect(truth.configuration).toEqual({ a: 1, shared: 'one' });
  }, 60_000);

  it('when the service had no configuration when its clients started', async () => {
    await environments(['e_parent', []], ['e_kid', ['e_parent']]);
    const truth = await agree('roads-e', 'e_kid', () => write('PUT', '/configurations/roads-e?environment=e_parent', { configuration: { fresh: true } }));
    expect(truth.configuration).toEqual({ fresh: true });
  }, 60_000);

  it('along a chain three deep', async () => {
    await environments(['f_grand', []], ['f_parent', ['f_grand']], ['f_kid', ['f_parent']]);
    await write('PUT', '/configurations/roads-f?environment=f_grand', { configuration: { depth: 'grand', limit: 1 } });
    await write('PUT', '/configurations/roads-f?environment=f_kid', { configuration: { depth: 'kid' } });
    const truth = await agree('roads-f', 'f_kid', () => write('PATCH', '/configurations/roads-f?environment=f_grand', { patch: { limit: 2 } }));
    expect(truth.configuration).toEqual({ depth: 'kid', limit: 2 });
  }, 60_000);

  it('between two instances on one database: written on one, read on the other', async () => {
    await environments(['g_parent', []], ['g_kid', ['g_parent']]);
    await write('PUT', '/configurations/roads-g?environment=g_parent', { configuration: { limit: 1 } });
    const truth = await agree('roads-g', 'g_kid', () => write('PATCH', '/configurations/roads-g?environment=g_parent', { patch: { limit: 3 } }), second);
    const onPrimary = await primary.call('GET', `/configurations/roads-g?environment=g_kid&minPosition=${truth.position}`, { token: admin });
    expect([onPrimary.body.data.checksum, onPrimary.body.data.position]).toEqual([truth.checksum, truth.position]);
  }, 60_000);
});
