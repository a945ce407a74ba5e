import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { waitFor } from '#testing/wait.ts';
import { startTestServer, type TestServer } from '#testing/server.ts';

describe('two API instances writing to one PostgreSQL store', () => {
  let first: TestServer;
  let second: TestServer;
  let token: string;

  beforeAll(async () => {
    first = await startTestServer();
    second = await startTestServer({ databaseUrl: first.databaseUrl });
    token = await first.token('dana', ['writer']);
  });
  afterAll(async () => {
    await second?.close();
    await first?.close();
  });

  it('never decides on a stale copy: an expectedVersion current in the log succeeds on either instance', async () => {
    const created = await first.call('PUT', '/configurations/shared', { token, body: { configuration: { a: 1 } } });
    expect(created.body.data.version).toBe(1);
    const onSecond = await second.call('PATCH', '/configurations/shared', {
      token,
      body: { patch: { b: 2 }, expectedVersion: 1 },
    });
    expect(onSecond.body.data.version).toBe(2);
    // The first instance last saw version 1; the log says 2.
    const onFirst = await first.call('PATCH', '/configurations/shared', {
      token,
      body: { patch: { c: 3 } },
      headers: { 'if-match': '"2"' },
    });
    expect(onFirst.status).toBe(200);
    expect(onFirst.body.data.version).toBe(3);
    const stale = await second.call('PATCH', '/configurations/shared', {
      token,
      body: { patch: { d: 4 }, expectedVersion: 2 },
    });
    expect(stale.status).toBe(409);
    expect(stale.body.details.currentVersion).toBe(3);
  });

  it('loses no update when both instances write the same configuration concurrently', async () => {
    await first.call('PUT', '/configurations/contended', { token, body: { configuration: { keys: {} } } });
    const writes = await Promise.all(
      Array.from({ length: 30 }, (_, i) =>
        (i % 2 === 0 ? first : second).call('PUT', `/configurations/contended/keys.k${i}`, {
          token,
          body: { value: i },
        }),
      ),
    );
    expect(writes.every((write) => write.status === 200)).toBe(true);
    const position = Math.max(...writes.map((write) => write.body.data.position));
    for (const server of [first, second]) {
      const read = await server.call('GET', `/configurations/contended?minPosition=${position}`, { token });
      expect(read.body.data.version).toBe(31);
      expect(Object.keys(read.body.data.configuration.keys)).toHaveLength(30);
    }
  });

  it('pushes a change written on one instance to WebSocket subscribers of the other', async () => {
    const socket = new WebSocket(`${second.baseUrl.replace('http', 'ws')}/ws?token=${token}`);
    const messages: { type: string; data: { serviceId?: string; version?: number } }[] = [];
    socket.on('message', (raw) => messages.push(JSON.parse(raw.toString())));
    await new Promise((resolve) => socket.once('open', resolve));
    socket.send(JSON.stringify({ type: 'subscribe', data: { patterns: ['config.cross-instance.*'] } }));
    await waitFor(() => messages.some((m) => m.type === 'ack'), 5000, 'the subscription');
    await first.call('PUT', '/configurations/cross-instance', { token, body: { configuration: { a: 1 } } });
    await waitFor(
      () => messages.some((m) => m.type === 'configuration_changed' && m.data.serviceId === 'cross-instance'),
      5000,
      'the push',
    );
    socket.close();
  });
});
