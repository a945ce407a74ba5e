import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configurationStream } from '#events/configuration.ts';
import { createTestDatabase, type TestDatabase } from '#testing/postgres.ts';
import { DatabaseUnavailable } from '#infra/postgres/database.ts';
import { startTcpProxy } from '#testing/tcp-proxy.ts';
import { startTestServer, type TestServer } from '#testing/server.ts';
import { waitFor } from '#testing/wait.ts';

describe('exactly once: Idempotency-Key, and honest answers when the outcome is unknown', () => {
  let database: TestDatabase;
  let proxy: Awaited<ReturnType<typeof startTcpProxy>>;
  let server: TestServer;
  let token: string;

  beforeAll(async () => {
    database = await createTestDatabase();
    proxy = await startTcpProxy('127.0.0.1', 5432);
    const viaProxy = new URL(database.url);
    viaProxy.port = String(proxy.port);
    server = await startTestServer({ databaseUrl: viaProxy.toString(), appendTimeoutMs: 500 });
    token = await server.token('ida', ['writer']);
    await server.call('PUT', '/configurations/once', { token, body: { configuration: { limit: 1 } } });
    await server.call('PUT', '/configurations/once/limit', { token, body: { value: 2 } });
  });
  afterAll(async () => {
    await proxy?.restore();
    await server?.close();
    await proxy?.close();
    await database?.drop();
  });

  const events = async (serviceId = 'once') => {
    const found = [];
    for await (const event of server.storage.store.readStream(configurationStream(serviceId, 'production')))
      found.push(event);
    return found;
  };
  const call = (method: string, path: string, key: string | undefined, body?: unknown, as = token) =>
    server.call(method, path, { token: as, body, headers: key ? { 'idempotency-key': key } : {} });

  it('answers a repeated rollback with its first outcome and appends nothing more', async () => {
    const key = `"${randomUUID()}"`;
    const first = await call('POST', '/configurations/once/versions/1/rollback', key, { changeReason: 'undo' });
    expect(first.status).toBe(200);
    const before = (await events()).length;
    const again = await call('POST', '/configurations/once/versions/1/rollback', key, { changeReason: 'undo' });
    expect([again.status, again.body.data]).toEqual([200, first.body.data]);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(first.headers.get('idempotent-replayed')).toBeNull();
    expect((await events()).length).toBe(before);
  });

  it('refuses the same key with another body (422 IDEMPOTENCY_KEY_REUSED), compares bodies canonically, and scopes keys to the caller', async () => {
    const key = randomUUID();
    const first = await call('PUT', '/configurations/once/limit', key, { value: 5, changeReason: 'a' });
    expect(first.status).toBe(200);
    const reordered = await call('PUT', '/configurations/once/limit', key, { changeReason: 'a', value: 5 });
    expect(reordered.headers.get('idempotent-replayed')).toBe('true');
    const other = await call('PUT', '/configurations/once/limit', key, { value: 6 });
    expect([other.status, other.body.code]).toEqual([422, 'IDEMPOTENCY_KEY_REUSED']);
    const otherPrincipal = await server.token('otto', ['writer']);
    const theirs = await call('PUT', '/configurations/once/limit', key, { value: 7 }, otherPrincipal);
    expect([theirs.status, theirs.headers.get('idempotent-replayed')]).toEqual([200, null]);
    const bad = await call('PUT', '/configurations/once/limit', 'x'.repeat(300), { value: 8 });
    expect([bad.status, bad.body.code]).toEqual([400, 'INVALID_IDEMPOTENCY_KEY']);
  });

  it('answers 503 STORE_UNAVAILABLE only when nothing was sent: a cut before the write', async () => {
    const before = (await events()).length;
    await proxy.cut();
    const answer = await call('PUT', '/configurations/once/limit', randomUUID(), { value: 9 });
    expect([answer.status, answer.body.code]).toEqual([503, 'STORE_UNAVAILABLE']);
    await proxy.restore();
    await waitFor(async () => (await server.call('GET', '/health')).status === 200, 20_000, 'recovery');
    expect((await events()).length).toBe(before);
  });

  it('settles a write whose answer is late: never "not written" when it was, and a retry with the same key makes one event', async () => {
    const key = randomUUID();
    const before = (await events()).length;
    // Every round trip to the database now takes over a second: the append's answer comes after its 500 ms.
    proxy.slow(600);
    const [first, concurrent] = await Promise.all([
      call('PUT', '/configurations/once/limit', key, { value: 10 }),
      new Promise<Awaited<ReturnType<typeof call>>>((resolve) =>
        setTimeout(() => resolve(call('PUT', '/configurations/once/limit', key, { value: 10 })), 200),
      ),
    ]);
    proxy.slow(0);
    expect([concurrent.status, concurrent.body.code]).toEqual([409, 'IDEMPOTENCY_KEY_IN_PROGRESS']);
    expect([200, 503]).toContain(first.status);
    await waitFor(async () => (await server.call('GET', '/health')).status === 200, 20_000, 'recovery');
    // "Not written" must be true; "written" must be true; "unknown" may be either, and the retry settles it.
    if (first.body.code === 'STORE_UNAVAILABLE') expect((await events()).length).toBe(before);
    else if (first.status === 200) expect((await events()).length).toBe(before + 1);
    else expect(first.body.code).toBe('OUTCOME_UNKNOWN');
    const retried = await call('PUT', '/configurations/once/limit', key, { value: 10 });
    expect(retried.status).toBe(200);
    const after = await events();
    expect(after.length).toBe(before + 1);
    expect(after.at(-1)!.data.configuration).toEqual({ limit: 10 });
  });
});

describe('a write known to be recorded is never answered "nothing was written"', () => {
  let server: TestServer;
  let failReads = false;
  beforeAll(async () => {
    server = await startTestServer({
      // Reads of a stream fail like a dropped connection while `failReads` is set; appends and id lookups work.
      wrapStore: (store) => ({
        ...store,
        kind: store.kind,
        append: (...args) => store.append(...args),
        readEvents: (...args) => store.readEvents(...args),
        readAll: (...args) => store.readAll(...args),
        subscribeAll: (...args) => store.subscribeAll(...args),
        headPosition: () => store.headPosition(),
        close: () => store.close(),
        readStream: (...args) => {
          if (failReads) throw new DatabaseUnavailable('Connection terminated unexpectedly');
          return store.readStream(...args);
        },
      }),
    });
  });
  afterAll(async () => server?.close());

  it('answers 503 OUTCOME_UNKNOWN, not STORE_UNAVAILABLE, when the answer of a recorded repeat cannot be read', async () => {
    const token = await server.token('ria', ['writer']);
    const key = randomUUID();
    const put = () =>
      server.call('PUT', '/configurations/recorded/limit', {
        token,
        body: { value: 1 },
        headers: { 'idempotency-key': key },
      });
    await server.call('PUT', '/configurations/recorded', { token, body: { configuration: { limit: 0 } } });
    expect((await put()).status).toBe(200);
    // The first answer was lost (its process died before recording it): the key is free, the events are in the log.
    await server.storage.readModels.query(
      'UPDATE idempotency_keys SET status = NULL, response = NULL, lease_until = now()',
    );
    failReads = true;
    const repeat = await put();
    failReads = false;
    expect([repeat.status, repeat.body.code]).toEqual([503, 'OUTCOME_UNKNOWN']);
    expect(repeat.body.error).toContain('was recorded');
    const settled = await put();
    expect([settled.status, settled.body.data.version]).toEqual([200, 2]);
  });
});

describe('a keyed change that needs approval', () => {
  it('opens one change request however often it is repeated after its answer was lost', async () => {
    const server = await startTestServer();
    try {
      const admin = await server.token('root', ['admin']);
      await server.call('PUT', '/configurations/held', {
        token: admin,
        body: { configuration: { risk: { limit: 1 } } },
      });
      await server.call('PUT', '/approval-policies/held', {
        token: admin,
        body: { environments: ['production'], keyPatterns: ['risk.*'], requiredApprovals: 1 },
      });
      const writer = await server.token('rae', ['writer']);
      const key = randomUUID();
      const patch = () =>
        server.call('PATCH', '/configurations/held', {
          token: writer,
          body: { patch: { risk: { limit: 2 } } },
          headers: { 'idempotency-key': key },
        });
      const first = await patch();
      expect(first.status).toBe(202);
      // Its answer was lost: the key is free again, the change request is in the log.
      await server.storage.readModels.query(
        'UPDATE idempotency_keys SET status = NULL, response = NULL, lease_until = now()',
      );
      const again = await patch();
      expect(again.body.data.changeRequest.id).toBe(first.body.data.changeRequest.id);
      const { rows } = await server.storage.readModels.query<{ n: number }>(
        "SELECT count(*)::int AS n FROM events WHERE event_type = 'ChangeRequestOpened'",
      );
      expect(rows[0]!.n).toBe(1);
    } finally {
      await server.close();
    }
  });
});
