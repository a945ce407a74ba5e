import { randomBytes } from 'node:crypto';
import type { Consumer } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JsonObject } from '#events/metadata.ts';
import { CONFIG_STATE_TOPIC, createKafka } from '#infra/kafka/topics.ts';
import { TEST_BROKERS } from '#testing/kafka.ts';
import { startTestServer, type TestServer } from '#testing/server.ts';
import { waitFor } from '#testing/wait.ts';
import { WsClient } from '#testing/ws-client.ts';
import { checksumOf } from '#infra/json/canonical.ts';
import { type ConfigClient, createConfigClient } from '#services/config-client/index.ts';

/** What a road says a configuration is. */
interface Reading {
  configuration: JsonObject;
  checksum: string;
  position: number;
  epoch: number;
}

const same = (a: Reading | undefined, b: Reading) =>
  a !== undefined &&
  a.checksum === b.checksum &&
  a.position === b.position &&
  a.epoch === b.epoch &&
  checksumOf(a.configuration) === b.checksum;

/** The compacted state topic, followed from the beginning: the newest record per key. */
async function followStateTopic(): Promise<{ get(key: string): Reading | undefined; close(): Promise<void> }> {
  const consumer: Consumer = createKafka(TEST_BROKERS, 'four-roads').consumer({
    groupId: `four-roads-${randomBytes(4).toString('hex')}`,
  });
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
  client.send({
    type: 'subscribe',
    data: { patterns: [`config.${serviceId}.${environment}`], fromPosition: latest?.position ?? 0 },
  });
  return { get: () => latest, close: () => client.close() };
}

/** Names unique to this run: the broker (and its compacted topic) may outlive the database of an earlier run. */
const run = randomBytes(3).toString('hex');
const svc = (name: string) => `${name}-${run}`;
const env = (name: string) => `${name}_${run}`;

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
  async function agree(
    serviceId: string,
    environment: string,
    change: () => Promise<number>,
    reader: TestServer = primary,
  ) {
    const token = await reader.token(`reader-${serviceId}`, ['reader']);
    const before = await reader.call('GET', `/configurations/${serviceId}?environment=${environment}`, { token });
    const roads: Record<string, () => Reading | undefined> = {
      'state topic': () => stateTopic.get(`${serviceId}/${environment}`),
    };
    const ws = await followWebSocket(reader, token, serviceId, environment);
    closing.push(ws);
    roads.WebSocket = ws.get;
    const sdk = (client: ConfigClient) => () =>
      client.position > 0
        ? { configuration: client.getAll(), checksum: client.checksum, position: client.position, epoch: client.epoch }
        : undefined;
    const overKafka = await createConfigClient({
      serviceId,
      environment,
      brokers: TEST_BROKERS,
      bootstrapTimeoutMs: 5_000,
    });
    const overWebSocket = await createConfigClient({ serviceId, environment, url: reader.baseUrl, token });
    closing.push(overKafka, overWebSocket);
    roads['SDK over Kafka'] = sdk(overKafka);
    roads['SDK over WebSocket'] = sdk(overWebSocket);

    const position = await change();
    const truth = (
      await reader.call('GET', `/configurations/${serviceId}?environment=${environment}&minPosition=${position}`, {
        token,
      })
    ).body.data as Reading;
    expect(truth.checksum).toBe(checksumOf(truth.configuration));
    expect(truth.position).toBeGreaterThanOrEqual(position);
    if (before.status === 200)
      expect(truth.position, 'the effective position only moves forward').toBeGreaterThan(before.body.data.position);
    try {
      await waitFor(() => Object.values(roads).every((road) => same(road(), truth)), 30_000, 'every road');
    } catch (error) {
      const seen = Object.fromEntries(Object.entries(roads).map(([name, road]) => [name, road()]));
      throw new Error(`${String(error)}\nHTTP: ${JSON.stringify(truth)}\n${JSON.stringify(seen, null, 1)}`);
    }
    for (const [name, road] of Object.entries(roads)) expect(road()!.configuration, name).toEqual(truth.configuration);
    return truth;
  }

  const put = (serviceId: string, environment: string, configuration: JsonObject) =>
    write('PUT', `/configurations/${serviceId}?environment=${environment}`, { configuration });
  const patch = (serviceId: string, environment: string, changes: JsonObject) =>
    write('PATCH', `/configurations/${serviceId}?environment=${environment}`, { patch: changes });

  it('after a parent changes', async () => {
    const [service, parent, kid] = [svc('roads-a'), env('a_parent'), env('a_kid')];
    await environments([parent, []], [kid, [parent]]);
    await put(service, parent, { risk: { max: 10, min: 1 }, venue: 'XNYS' });
    await put(service, kid, { risk: { min: 2 } });
    const truth = await agree(service, kid, () => patch(service, parent, { risk: { max: 20 } }));
    expect(truth.configuration).toEqual({ risk: { max: 20, min: 2 }, venue: 'XNYS' });
  }, 60_000);

  it('after the child changes', async () => {
    const [service, parent, kid] = [svc('roads-b'), env('b_parent'), env('b_kid')];
    await environments([parent, []], [kid, [parent]]);
    await put(service, parent, { risk: { max: 10 } });
    await put(service, kid, { venue: 'XLON' });
    const truth = await agree(service, kid, () =>
      write('PUT', `/configurations/${service}/venue?environment=${kid}`, { value: 'XPAR' }),
    );
    expect(truth.configuration).toEqual({ risk: { max: 10 }, venue: 'XPAR' });
  }, 60_000);

  it('after the child is given another parent', async () => {
    const [service, parent, alt, kid] = [svc('roads-c'), env('c_parent'), env('c_alt'), env('c_kid')];
    await environments([parent, []], [alt, []], [kid, [parent]]);
    await put(service, parent, { risk: { max: 10 } });
    await put(service, alt, { risk: { max: 99 }, alt: true });
    await put(service, kid, { own: 1 });
    const truth = await agree(service, kid, () => write('PUT', `/environments/${kid}`, { inheritsFrom: [alt] }));
    expect(truth.configuration).toEqual({ risk: { max: 99 }, alt: true, own: 1 });
    // And a later change of the new parent reaches it too.
    await agree(service, kid, () => patch(service, alt, { alt: false }));
  }, 60_000);

  it('after a parent is removed', async () => {
    const [service, one, two, kid] = [svc('roads-d'), env('d_one'), env('d_two'), env('d_kid')];
    await environments([one, []], [two, []], [kid, [one, two]]);
    await put(service, one, { a: 1, shared: 'one' });
    await put(service, two, { b: 2, shared: 'two' });
    const truth = await agree(service, kid, () =>
      write('DELETE', `/environments/${two}`, { changeReason: 'decommissioned' }),
    );
    expect(truth.configuration).toEqual({ a: 1, shared: 'one' });
  }, 60_000);

  it('when the service had no configuration when its clients started', async () => {
    const [service, parent, kid] = [svc('roads-e'), env('e_parent'), env('e_kid')];
    await environments([parent, []], [kid, [parent]]);
    const truth = await agree(service, kid, () => put(service, parent, { fresh: true }));
    expect(truth.configuration).toEqual({ fresh: true });
  }, 60_000);

  it('along a chain three deep', async () => {
    const [service, grand, parent, kid] = [svc('roads-f'), env('f_grand'), env('f_parent'), env('f_kid')];
    await environments([grand, []], [parent, [grand]], [kid, [parent]]);
    await put(service, grand, { depth: 'grand', limit: 1 });
    await put(service, kid, { depth: 'kid' });
    const truth = await agree(service, kid, () => patch(service, grand, { limit: 2 }));
    expect(truth.configuration).toEqual({ depth: 'kid', limit: 2 });
  }, 60_000);

  it('between two instances on one database: written on one, read on the other', async () => {
    const [service, parent, kid] = [svc('roads-g'), env('g_parent'), env('g_kid')];
    await environments([parent, []], [kid, [parent]]);
    await put(service, parent, { limit: 1 });
    const truth = await agree(service, kid, () => patch(service, parent, { limit: 3 }), second);
    const onPrimary = await primary.call(
      'GET',
      `/configurations/${service}?environment=${kid}&minPosition=${truth.position}`,
      { token: admin },
    );
    expect([onPrimary.body.data.checksum, onPrimary.body.data.position]).toEqual([truth.checksum, truth.position]);
  }, 60_000);
});
