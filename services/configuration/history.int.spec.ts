import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '#testing/server.ts';

describe('reading the past from the log', () => {
  let server: TestServer;
  let token: string;
  beforeAll(async () => {
    server = await startTestServer();
    token = await server.token('tia', ['writer']);
  });
  afterAll(async () => server?.close());

  const call = (method: string, path: string, body?: unknown) => server.call(method, path, { token, body });
  const pause = () => new Promise((resolve) => setTimeout(resolve, 25));

  it('answers the configuration as it was at an instant, and 404 before the first event', async () => {
    const beforeAnything = new Date().toISOString();
    await pause();
    const v1 = (await call('PUT', '/configurations/timeline', { configuration: { limit: 1 } })).body.data;
    await pause();
    const afterFirst = new Date().toISOString();
    await pause();
    const v2 = (await call('PATCH', '/configurations/timeline', { patch: { limit: 2 } })).body.data;
    await pause();
    const afterSecond = new Date().toISOString();
    await pause();
    await call('PATCH', '/configurations/timeline', { patch: { limit: 3 } });

    const none = await call('GET', `/configurations/timeline?asOf=${beforeAnything}`);
    expect([none.status, none.body.code]).toEqual([404, 'NO_CONFIGURATION_AT_THAT_TIME']);
    const first = await call('GET', `/configurations/timeline?asOf=${afterFirst}`);
    expect(first.body.data).toMatchObject({
      version: 1,
      checksum: v1.checksum,
      configuration: { limit: 1 },
      updatedBy: 'tia',
      asOf: afterFirst,
    });
    expect((await call('GET', `/configurations/timeline?asOf=${afterSecond}`)).body.data).toMatchObject({
      version: 2,
      checksum: v2.checksum,
    });
    const both = await call('GET', `/configurations/timeline?asOf=${afterSecond}&version=1`);
    expect([both.status, both.body.code]).toEqual([400, 'VALIDATION_ERROR']);
  });

  it("gives every event one time: asOf a version's own changedAt answers that version, and a diff up to it holds its change", async () => {
    for (let i = 1; i <= 8; i++) await call('PUT', '/configurations/clocked', { configuration: { step: i } });
    const history = (
      await call(
        'GET',
        `/configurations/clocked/versions?minPosition=${(await server.storage.store.headPosition()).toString()}`,
      )
    ).body.data as { version: number; changedAt: string }[];
    expect(history).toHaveLength(8);
    for (const { version, changedAt } of history) {
      const at = await call('GET', `/configurations/clocked?asOf=${changedAt}`);
      expect([changedAt, at.body.data.version]).toEqual([changedAt, version]);
      const diff = await call('GET', `/configurations/clocked/diff?from=${Math.max(1, version - 1)}&to=${changedAt}`);
      if (version > 1)
        expect(diff.body.data.changes).toEqual([{ path: 'step', oldValue: version - 1, newValue: version }]);
    }
    const audit = await server.call('GET', '/audit?serviceId=clocked&order=oldest', {
      token: await server.token('ada', ['auditor']),
    });
    expect(audit.body.data.entries.map((entry: { occurredAt: string }) => entry.occurredAt)).toEqual(
      [...history].reverse().map((entry) => entry.changedAt),
    );
  });

  it('answers at any log position, across interleaved streams, with every version exactly', async () => {
    const positions: number[] = [];
    for (let i = 1; i <= 40; i++) {
      positions.push((await call('PUT', '/configurations/dense', { configuration: { n: i } })).body.data.position);
      await call('PUT', '/configurations/noise', { configuration: { n: i } });
    }
    for (const [index, position] of positions.entries()) {
      expect((await call('GET', `/configurations/dense?atPosition=${position}`)).body.data).toMatchObject({
        version: index + 1,
        configuration: { n: index + 1 },
      });
      if (index > 0)
        expect((await call('GET', `/configurations/dense?atPosition=${position - 1}`)).body.data.version).toBe(index);
    }
    expect((await call('GET', `/configurations/dense?atPosition=${positions[0]! - 1}`)).body.code).toBe(
      'NO_CONFIGURATION_AT_THAT_TIME',
    );
  });

  it('diffs two versions, an instant against now, and two environments', async () => {
    await call('PUT', '/configurations/diffy', { configuration: { a: 1, b: { c: 2 } } });
    const instant = new Date().toISOString();
    await pause();
    await call('PATCH', '/configurations/diffy', { patch: { a: 5, b: { d: 3 } } });
    const byVersion = await call('GET', '/configurations/diffy/diff?from=1&to=2');
    expect(byVersion.body.data).toMatchObject({ from: { version: 1 }, to: { version: 2 } });
    expect(byVersion.body.data.changes).toEqual([
      { path: 'a', oldValue: 1, newValue: 5 },
      { path: 'b.d', newValue: 3 },
    ]);
    const fromInstant = await call('GET', `/configurations/diffy/diff?from=${instant}`);
    expect(fromInstant.body.data.changes.map((c: { path: string }) => c.path)).toEqual(['a', 'b.d']);

    const staging = await call('PUT', '/configurations/diffy?environment=staging', {
      configuration: { a: 5, b: { c: 9 } },
    });
    await server.app.ctx.readModels.runner.waitFor(BigInt(staging.body.data.position), 5000, 'seen');
    const across = await call('GET', '/configurations/diffy/diff?fromEnvironment=staging&toEnvironment=production');
    expect(across.body.data.changes).toEqual([
      { path: 'b.c', oldValue: 9, newValue: 2 },
      { path: 'b.d', newValue: 3 },
    ]);
  });
});

describe('promote, export and import', () => {
  let server: TestServer;
  let token: string;
  beforeAll(async () => {
    server = await startTestServer();
    token = await server.token('pia', ['writer']);
  });
  afterAll(async () => server?.close());
  const call = (method: string, path: string, body?: unknown) => server.call(method, path, { token, body });

  it('promotes the whole configuration, or chosen keys, as one change with its reason and concurrency check', async () => {
    await call('PUT', '/configurations/promo?environment=staging', { configuration: { a: 1, b: { c: 2 }, d: 3 } });
    await call('PUT', '/configurations/promo', { configuration: { a: 0, x: 1 } });
    const some = await call('POST', '/configurations/promo/promote', {
      fromEnvironment: 'staging',
      toEnvironment: 'production',
      keys: ['b.c', 'd'],
    });
    expect(some.body.data).toMatchObject({ status: 'applied', version: 2, changedKeys: ['b.c', 'd'] });
    const stale = await call('POST', '/configurations/promo/promote', {
      fromEnvironment: 'staging',
      toEnvironment: 'production',
      expectedVersion: 1,
    });
    expect([stale.status, stale.body.code]).toEqual([409, 'VERSION_CONFLICT']);
    const all = await call('POST', '/configurations/promo/promote', {
      fromEnvironment: 'staging',
      toEnvironment: 'production',
      expectedVersion: 2,
    });
    expect(all.body.data).toMatchObject({ status: 'applied', version: 3 });
    const now = await call('GET', `/configurations/promo?minPosition=${all.body.data.position}`);
    expect(now.body.data.configuration).toEqual({ a: 1, b: { c: 2 }, d: 3 });
    const versions = await call('GET', `/configurations/promo/versions?limit=1&minPosition=${all.body.data.position}`);
    expect(versions.body.data[0].changeReason).toBe('promoted from staging version 1');
    expect(
      (
        await call('POST', '/configurations/promo/promote', {
          fromEnvironment: 'staging',
          toEnvironment: 'production',
          keys: ['nope'],
        })
      ).body.code,
    ).toBe('KEY_NOT_FOUND');
  });

  it('exports a service (environments, schema, versions) and imports it into another', async () => {
    await call('PUT', '/configurations/exporter/schema', { schema: { type: 'object', required: ['port'] } });
    await call('PUT', '/configurations/exporter', { configuration: { port: 1 } });
    const last = await call('PUT', '/configurations/exporter?environment=development', { configuration: { port: 2 } });
    await server.app.ctx.readModels.runner.waitFor(BigInt(last.body.data.position), 5000, 'seen');
    const exported = (await call('GET', '/configurations/exporter/export')).body.data;
    expect(Object.keys(exported.environments).sort()).toEqual(['development', 'production']);
    expect(exported.schema).toMatchObject({ version: 1, schema: { required: ['port'] } });

    const imported = await call('POST', '/configurations/importer/import', { document: exported });
    expect(imported.body.data.environments.production).toMatchObject({
      status: 'applied',
      version: 1,
      checksum: exported.environments.production.checksum,
    });
    const invalid = await call('POST', '/configurations/importer2/import', {
      document: { ...exported, environments: { production: { version: 1, checksum: 'x', configuration: {} } } },
    });
    expect([invalid.status, invalid.body.code]).toEqual([400, 'VALIDATION_ERROR']);
    expect(invalid.body.details.errors[0].path).toBe('production:port');
    expect((await call('GET', '/configurations/importer2/schema')).body.code).toBe('SCHEMA_NOT_FOUND');
  });
});

describe('export and import round trip', () => {
  let server: TestServer;
  let admin: string;
  beforeAll(async () => {
    server = await startTestServer();
    admin = await server.token('alice', ['admin']);
    await server.call('PUT', '/configurations/source/schema', { token: admin, body: { schema: { type: 'object' } } });
    await server.call('PUT', '/configurations/source', {
      token: admin,
      body: { configuration: { risk: { limit: 1 }, venue: 'XNYS' } },
    });
    const last = await server.call('PUT', '/configurations/source?environment=staging', {
      token: admin,
      body: { configuration: { risk: { limit: 2 }, venue: 'SIM' } },
    });
    await server.app.readModels.runner.waitFor(BigInt(last.body.data.position), 5000);
  });
  afterAll(async () => server?.close());

  const exported = async () =>
    fetch(`${server.baseUrl}/configurations/source/export`, { headers: { authorization: `Bearer ${admin}` } }).then(
      (r) => r.text(),
    );
  const importText = (target: string, text: string, token = admin) =>
    fetch(`${server.baseUrl}/configurations/${target}/import`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: text,
    }).then(async (response) => ({
      status: response.status,
      body: (await response.json()) as { data: any; code?: string },
    }));

  it('takes what export gives, the answer as it is or the bare document, and reproduces every environment', async () => {
    const answer = await exported();
    const whole = await importText('copy-whole', answer);
    expect(whole.status, JSON.stringify(whole.body)).toBe(200);
    const bare = await importText('copy-bare', JSON.stringify(JSON.parse(answer).data));
    expect(bare.status).toBe(200);
    const head = await server.storage.store.headPosition();
    for (const target of ['copy-whole', 'copy-bare']) {
      for (const environment of ['production', 'staging']) {
        const original = await server.call('GET', `/configurations/source?environment=${environment}`, {
          token: admin,
        });
        const copy = await server.call(
          'GET',
          `/configurations/${target}?environment=${environment}&minPosition=${head}`,
          {
            token: admin,
          },
        );
        expect(copy.body.data?.checksum, JSON.stringify(copy.body)).toBe(original.body.data.checksum);
      }
    }

    // Import writes each environment's own layer: an edit of the effective document would be lost, so it is refused.
    const edited = JSON.parse(answer);
    edited.data.environments.production.configuration.venue = 'EDITED';
    const lost = await importText('copy-edited', JSON.stringify(edited));
    expect([lost.status, lost.body.code]).toEqual([400, 'EXPORT_EDITED']);
    expect(JSON.stringify(lost.body)).toContain('own.configuration');
    const ownEdited = JSON.parse(answer);
    ownEdited.data.environments.production.own.configuration.venue = 'EDITED';
    const kept = await importText('copy-edited', JSON.stringify(ownEdited));
    expect(kept.status).toBe(200);
    expect(kept.body.data.environments.production.changedKeys).toContain('venue');
  });

  it('holds an import as one change request when a policy covers any of it, and applies all of it at the quorum', async () => {
    await server.call('PUT', '/approval-policies/imports', {
      token: admin,
      body: { environments: ['production'], keyPatterns: ['risk.*'], requiredApprovals: 1 },
    });
    await server.call('PUT', '/configurations/held-import?environment=staging', {
      token: admin,
      body: { configuration: { venue: 'OLD' } },
    });
    const writer = await server.token('rae', ['writer']);
    const held = await importText('held-import', await exported(), writer);
    expect(held.status).toBe(202);
    // Nothing applied yet, in any environment: the staging part waits with the production part.
    expect(
      (await server.call('GET', '/configurations/held-import?environment=staging', { token: admin })).body.data
        .configuration,
    ).toEqual({
      venue: 'OLD',
    });
    expect((await server.call('GET', '/configurations/held-import', { token: admin })).status).toBe(404);
    const { id } = held.body.data.changeRequest;
    // Approvers see all that would apply, not only what the policy holds: the staging part too.
    const keys: string[] = held.body.data.changeRequest.changedKeys;
    expect(keys.some((key) => key.startsWith('production:risk.'))).toBe(true);
    expect(keys).toContain('staging:venue');
    const approved = await server.call('POST', `/change-requests/${id}/approve`, {
      token: await server.token('ann', ['approver']),
      body: {},
    });
    expect(approved.body.data.status).toBe('applied');
    for (const environment of ['production', 'staging']) {
      const original = await server.call('GET', `/configurations/source?environment=${environment}`, { token: admin });
      const copy = await server.call(
        'GET',
        `/configurations/held-import?environment=${environment}&minPosition=${approved.body.data.position}`,
        { token: admin },
      );
      expect(copy.body.data.checksum).toBe(original.body.data.checksum);
      expect(copy.body.data.own).toBeTruthy();
    }
  });
});
