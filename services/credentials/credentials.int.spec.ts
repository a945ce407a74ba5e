import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { credentialStream, type SealedSecret } from '#events/credentials.ts';
import { startTestServer, type TestServer } from '#testing/server.ts';
import { READ_MODEL_TABLES } from '#projections/schema.ts';

describe('the credential vault', () => {
  let server: TestServer;
  let writer: string;
  let reader: string;
  let admin: string;
  const secrets: string[] = [];
  const secret = () => {
    const value = `s3cr3t-${randomBytes(12).toString('hex')}`;
    secrets.push(value);
    return value;
  };

  beforeAll(async () => {
    server = await startTestServer();
    writer = await server.token('kim', ['writer']);
    reader = await server.token('lou', ['reader']);
    admin = await server.token('max', ['admin']);
  });
  afterAll(async () => server?.close());

  const store = async (key: string, value: string, extra: Record<string, unknown> = {}) => {
    const response = await server.call('POST', '/credentials', {
      token: writer,
      headers: { 'user-agent': 'vault-test/1.0' },
      body: {
        key,
        value,
        type: 'database_password',
        serviceId: 'order-router',
        environment: 'production',
        sensitivity: 'confidential',
        ...extra,
      },
    });
    expect(response.status).toBe(201);
    return response.body.data;
  };
  const retrieve = (key: string, token = writer, query = '') =>
    server.call('GET', `/credentials/${key}${query}`, { token, headers: { 'user-agent': 'vault-test/1.0' } });

  it('stores encrypted, answers metadata only, and decrypts for a permitted reader', async () => {
    const value = secret();
    const stored = await store('orders-db', value, { tags: { owner: 'desk-7' } });
    expect(stored).toMatchObject({
      key: 'orders-db',
      version: 1,
      type: 'database_password',
      sensitivity: 'confidential',
      tags: { owner: 'desk-7' },
    });
    expect(JSON.stringify(stored)).not.toContain(value);
    expect(stored.nextRotationAt).toBeTruthy();

    const read = await retrieve('orders-db');
    expect(read.body.data).toMatchObject({ key: 'orders-db', value, version: 1 });
    const list = await server.call('GET', `/credentials?serviceId=order-router&minPosition=${stored.position}`, {
      token: reader,
    });
    expect(list.body.data.items.map((c: { key: string }) => c.key)).toContain('orders-db');
    expect(JSON.stringify(list.body)).not.toContain(value);
    const replica = await store('orders-db-replica', secret());
    const first = await server.call(
      'GET',
      `/credentials?serviceId=order-router&limit=1&minPosition=${replica.position}`,
      {
        token: reader,
      },
    );
    expect(first.body.data).toMatchObject({ items: [{ key: 'orders-db' }], nextCursor: 'orders-db' });
    const second = await server.call('GET', '/credentials?serviceId=order-router&limit=1&cursor=orders-db', {
      token: reader,
    });
    expect(second.body.data.items.map((c: { key: string }) => c.key)).toEqual(['orders-db-replica']);
  });

  it('resolves ${SECRET:name} in a configuration only for a caller who may read it and asks, never storing it resolved', async () => {
    const value = secret();
    await store('pricing-db', value);
    const dsn = 'postgres://pricing:${SECRET:pricing-db}@db1/pricing';
    const written = await server.call('PUT', '/configurations/pricing-engine', {
      token: writer,
      body: { configuration: { db: { dsn } } },
    });
    const plain = await server.call('GET', `/configurations/pricing-engine?minPosition=${written.body.data.position}`, {
      token: writer,
    });
    expect(plain.body.data.configuration.db.dsn).toBe(dsn);
    const resolved = await server.call('GET', '/configurations/pricing-engine?resolveSecrets=true', { token: writer });
    expect(resolved.body.data.configuration.db.dsn).toBe(`postgres://pricing:${value}@db1/pricing`);
    expect(resolved.headers.get('cache-control')).toBe('no-store');
    const key = await server.call('GET', '/configurations/pricing-engine/db.dsn?resolveSecrets=true', {
      token: writer,
    });
    expect(key.body.data.value).toBe(`postgres://pricing:${value}@db1/pricing`);
    const refused = await server.call('GET', '/configurations/pricing-engine?resolveSecrets=true', { token: reader });
    expect([refused.status, refused.body.code]).toEqual([403, 'FORBIDDEN']);
    const versions = await server.call('GET', '/configurations/pricing-engine/versions', { token: reader });
    expect(JSON.stringify(versions.body)).not.toContain(value);
  });

  it('refuses a reader the value, and records every attempt with who, from where and the outcome', async () => {
    await store('audit-me', secret());
    const denied = await retrieve('audit-me', reader);
    expect([denied.status, denied.body.code]).toEqual([403, 'FORBIDDEN']);
    const granted = await retrieve('audit-me');
    expect(granted.status).toBe(200);
    const head = Number(await server.storage.store.headPosition());
    expect((await server.call('GET', '/audit/credentials/audit-me', { token: reader })).status).toBe(403);
    const auditor = await server.token('ada', ['auditor']);
    const audit = await server.call('GET', `/audit/credentials/audit-me?minPosition=${head}`, { token: auditor });
    expect(
      audit.body.data.map((entry: { operation: string; outcome: string; actor: string }) => [
        entry.operation,
        entry.outcome,
        entry.actor,
      ]),
    ).toEqual([
      ['retrieve', 'granted', 'kim'],
      ['retrieve', 'denied', 'lou'],
      ['store', 'granted', 'kim'],
    ]);
    expect(audit.body.data[0]).toMatchObject({
      sourceIp: '127.0.0.1',
      userAgent: 'vault-test/1.0',
      serviceId: 'order-router',
      version: 1,
    });
    // Every row names the service and the client program, the writes as well as the reads.
    const asVaultTest = { token: writer, headers: { 'user-agent': 'vault-test/1.0' } };
    expect((await server.call('POST', '/credentials/audit-me/rotate', { ...asVaultTest, body: {} })).status).toBe(200);
    expect((await server.call('DELETE', '/credentials/audit-me', asVaultTest)).status).toBe(204);
    const after = Number(await server.storage.store.headPosition());
    const all = await server.call('GET', `/audit/credentials/audit-me?minPosition=${after}`, { token: auditor });
    expect(all.body.data.map((entry: { operation: string }) => entry.operation)).toEqual([
      'delete',
      'rotate',
      'retrieve',
      'retrieve',
      'store',
    ]);
    for (const entry of all.body.data) {
      expect(entry).toMatchObject({ serviceId: 'order-router', userAgent: 'vault-test/1.0', sourceIp: '127.0.0.1' });
    }
    // The service's own audit shows every operation on its credential, its deletion too.
    const trail = await server.call('GET', `/audit?serviceId=order-router&minPosition=${after}&limit=1000`, {
      token: auditor,
    });
    const ofKey = trail.body.data.entries.filter((entry: { streamName: string }) =>
      entry.streamName.endsWith('audit-me'),
    );
    expect(ofKey.map((entry: { eventType: string }) => entry.eventType)).toEqual(
      expect.arrayContaining(['CredentialStored', 'CredentialRotated', 'CredentialDeleted']),
    );
    for (const entry of ofKey) expect(entry).toMatchObject({ serviceId: 'order-router', environment: 'production' });
  });

  it('rotates to a generated password, keeps the previous readable during the grace period only', async () => {
    const first = secret();
    await store('rotating', first);
    const rotated = await server.call('POST', '/credentials/rotating/rotate', {
      token: writer,
      body: { gracePeriodSeconds: 60 },
    });
    expect(rotated.body.data).toMatchObject({ success: true, version: 2 });
    expect(rotated.body.data.graceUntil).toBeTruthy();
    const current = (await retrieve('rotating')).body.data.value as string;
    secrets.push(current);
    expect(current).toHaveLength(32);
    for (const characters of [/[A-Z]/, /[a-z]/, /[0-9]/, /[^A-Za-z0-9]/]) expect(current).toMatch(characters);
    expect((await retrieve('rotating', writer, '?version=previous')).body.data).toMatchObject({
      value: first,
      version: 1,
    });

    await server.call('POST', '/credentials/rotating/rotate', {
      token: writer,
      body: { value: secret(), gracePeriodSeconds: 0 },
    });
    const over = await retrieve('rotating', writer, '?version=previous');
    expect([over.status, over.body.code]).toEqual([410, 'GRACE_PERIOD_OVER']);
  });

  it('refuses to decrypt an expired credential with CREDENTIAL_EXPIRED', async () => {
    await store('expired-key', secret(), { expiresAt: new Date(Date.now() - 1000).toISOString() });
    const read = await retrieve('expired-key');
    expect([read.status, read.body.code]).toEqual([403, 'CREDENTIAL_EXPIRED']);
  });

  it('detects ciphertext altered in the log, or moved to another credential', async () => {
    await store('tamper-a', secret());
    await store('tamper-b', secret());
    const { rows } = await server.storage.readModels.query<{ data: { secret: SealedSecret } }>(
      'SELECT data FROM events WHERE stream_name = $1 ORDER BY stream_revision LIMIT 1',
      [credentialStream('tamper-a')],
    );
    // Credential a's sealed value, copied over b's in the log.
    await server.storage.readModels.query(
      `UPDATE events SET data = jsonb_set(data, '{secret}', $2::jsonb) WHERE stream_name = $1`,
      [credentialStream('tamper-b'), JSON.stringify(rows[0]!.data.secret)],
    );
    const moved = await retrieve('tamper-b');
    expect([moved.status, moved.body.code]).toEqual([500, 'CREDENTIAL_INTEGRITY']);
    expect(JSON.stringify(moved.body)).not.toMatch(/s3cr3t/);

    const flipped = {
      ...rows[0]!.data.secret,
      value: { ...rows[0]!.data.secret.value, tag: Buffer.alloc(16).toString('base64') },
    };
    await server.storage.readModels.query(
      `UPDATE events SET data = jsonb_set(data, '{secret}', $2::jsonb) WHERE stream_name = $1`,
      [credentialStream('tamper-a'), JSON.stringify(flipped)],
    );
    expect((await retrieve('tamper-a')).body.code).toBe('CREDENTIAL_INTEGRITY');
  });

  it('crypto-shreds a deleted credential: the events stay, nothing of the value can be recovered', async () => {
    await store('shred-me', secret());
    expect((await server.call('DELETE', '/credentials/shred-me', { token: writer })).status).toBe(204);
    const read = await retrieve('shred-me');
    expect([read.status, read.body.code]).toEqual([410, 'CREDENTIAL_SHREDDED']);

    const { rows } = await server.storage.readModels.query<{ data: { secret: SealedSecret } }>(
      "SELECT data FROM events WHERE stream_name = $1 AND event_type = 'CredentialStored'",
      [credentialStream('shred-me')],
    );
    expect(rows).toHaveLength(1);
    // The vault itself holds no key for it any more: the sealed value cannot be opened by any road.
    await expect(server.app.ctx.vault.open('shred-me', rows[0]!.data.secret)).rejects.toMatchObject({
      code: 'CREDENTIAL_KEY_MISSING',
    });
    const keys = await server.storage.readModels.query('SELECT 1 FROM credential_keys WHERE credential_key = $1', [
      'shred-me',
    ]);
    expect(keys.rows).toHaveLength(0);
  });

  it('rotates the key-encryption key, re-wrapping every credential key without changing a value', async () => {
    const value = secret();
    await store('kek-check', value);
    const before = await server.storage.readModels.query<{ kek_id: string }>(
      'SELECT DISTINCT kek_id FROM credential_keys',
    );
    const rotated = await server.call('POST', '/vault/rotate-key', { token: admin });
    expect(rotated.status).toBe(200);
    expect(rotated.body.data.rewrappedKeys).toBeGreaterThan(1);
    expect(before.rows.map((row) => row.kek_id)).toContain(rotated.body.data.previousKekId);
    const after = await server.storage.readModels.query<{ kek_id: string }>(
      'SELECT DISTINCT kek_id FROM credential_keys',
    );
    expect(after.rows).toEqual([{ kek_id: rotated.body.data.kekId }]);
    expect((await retrieve('kek-check')).body.data.value).toBe(value);
    expect((await server.call('POST', '/vault/rotate-key', { token: writer })).status).toBe(403);
  });

  it('leaves no stored secret in plaintext in the event store or any read model', async () => {
    await server.app.ctx.readModels.runner.waitFor(await server.storage.store.headPosition(), 5000);
    const { rows: events } = await server.storage.readModels.query<{ text: string }>(
      'SELECT data::text || metadata::text AS text FROM events',
    );
    const tables = await Promise.all(
      [...READ_MODEL_TABLES, 'credential_keys'].map((table) =>
        server.storage.readModels.query<{ text: string }>(`SELECT t::text AS text FROM ${table} t`),
      ),
    );
    const everything = [...events, ...tables.flatMap((table) => table.rows)].map((row) => row.text).join('\n');
    expect(secrets.length).toBeGreaterThan(8);
    expect(everything).toContain('"ciphertext"');
    for (const value of secrets) expect(everything).not.toContain(value);
  });
});
