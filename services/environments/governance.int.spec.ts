import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '#testing/server.ts';

describe('environment definitions are governed changes', () => {
  let server: TestServer;
  let admin: string;
  let writer: string;
  let approver: string;

  beforeAll(async () => {
    server = await startTestServer();
    admin = await server.token('root', ['admin']);
    writer = await server.token('wes', ['writer']);
    approver = await server.token('abe', ['approver']);
    for (const environment of ['alpha', 'beta', 'gamma', 'delta', 'kid']) {
      expect(
        (await server.call('POST', '/environments', { token: admin, body: { id: environment, type: 'custom' } }))
          .status,
      ).toBe(201);
    }
    await server.call('PUT', '/environments/kid', { token: admin, body: { inheritsFrom: ['alpha'] } });
    await server.call('PUT', '/configurations/desk?environment=alpha', {
      token: admin,
      body: { configuration: { risk: { max: 10 }, venue: 'XNYS' } },
    });
    await server.call('PUT', '/configurations/desk?environment=beta', {
      token: admin,
      body: { configuration: { risk: { max: 99 }, venue: 'XLON' } },
    });
    await server.call('PUT', '/configurations/desk?environment=kid', {
      token: admin,
      body: { configuration: { note: 'own' } },
    });
    await server.call('PUT', '/configurations/other?environment=gamma', {
      token: admin,
      body: { configuration: { own: true } },
    });
    await server.call('PUT', '/configurations/other?environment=delta', {
      token: admin,
      body: { configuration: { fromDelta: 1 } },
    });
  });
  afterAll(async () => server?.close());

  const events = async (stream: string) => {
    const found = [];
    for await (const event of server.storage.store.readStream(stream)) found.push(event);
    return found;
  };

  it('lets only an admin change inheritsFrom, while a writer may still describe an environment or create one', async () => {
    const rewire = await server.call('PUT', '/environments/kid', { token: writer, body: { inheritsFrom: ['beta'] } });
    expect([rewire.status, rewire.body.code]).toEqual([403, 'FORBIDDEN']);
    expect(
      (await server.call('PUT', '/environments/kid', { token: writer, body: { description: 'a child of alpha' } }))
        .status,
    ).toBe(200);
    expect(
      (await server.call('POST', '/environments', { token: writer, body: { id: 'fresh', inheritsFrom: ['alpha'] } }))
        .status,
    ).toBe(201);
    const removal = await server.call('DELETE', '/environments/fresh', { token: writer });
    expect([removal.status, removal.body.code]).toEqual([403, 'FORBIDDEN']);
  });

  it('answers a dry run with the effective documents that would change, and writes nothing', async () => {
    const head = await server.storage.store.headPosition();
    const answer = await server.call('PUT', '/environments/kid?dryRun=true', {
      token: admin,
      body: { inheritsFrom: ['beta'] },
    });
    expect(answer.status).toBe(200);
    expect(answer.body.data.dryRun).toBe(true);
    expect(answer.body.data.wouldChange).toEqual([
      {
        serviceId: 'desk',
        environment: 'kid',
        changes: [
          { path: 'risk.max', oldValue: 10, newValue: 99 },
          { path: 'venue', oldValue: 'XNYS', newValue: 'XLON' },
        ],
      },
    ]);
    expect(await server.storage.store.headPosition()).toBe(head);
    expect((await server.call('GET', '/environments/kid', { token: admin })).body.data.inheritsFrom).toEqual(['alpha']);
  });

  it('holds a re-parenting for approval when a policy names the environment, and records who and why once applied', async () => {
    await server.call('PUT', '/approval-policies/kid-inheritance', {
      token: admin,
      body: { environments: ['kid'], keyPatterns: [], inheritance: true, requiredApprovals: 1 },
    });
    const held = await server.call('PUT', '/environments/kid', {
      token: admin,
      body: { inheritsFrom: ['beta'], changeReason: 'move kid under beta' },
    });
    expect(held.status).toBe(202);
    const { id } = held.body.data.changeRequest;
    expect((await server.call('GET', '/environments/kid', { token: admin })).body.data.inheritsFrom).toEqual(['alpha']);
    const approved = await server.call('POST', `/change-requests/${id}/approve`, { token: approver, body: {} });
    expect([approved.status, approved.body.data.status]).toEqual([200, 'applied']);
    const after = await server.call('GET', `/environments/kid?minPosition=${approved.body.data.position}`, {
      token: admin,
    });
    expect(after.body.data.inheritsFrom).toEqual(['beta']);
    const last = (await events('environment-kid')).at(-1)!;
    expect(last.type).toBe('EnvironmentUpdated');
    expect(last.metadata).toMatchObject({ actor: 'root', reason: 'move kid under beta', causationId: id });
    await server.call('DELETE', '/approval-policies/kid-inheritance', { token: admin });
  });

  it('holds a re-parenting that changes a key a policy guards in an inheriting environment', async () => {
    await server.call('PUT', '/approval-policies/kid-risk', {
      token: admin,
      body: { environments: ['kid'], keyPatterns: ['risk.*'], requiredApprovals: 1 },
    });
    const held = await server.call('PUT', '/environments/kid', { token: admin, body: { inheritsFrom: ['alpha'] } });
    expect(held.status).toBe(202);
    expect(held.body.data.changeRequest.changedKeys).toContain('desk:risk.max');
    const unguarded = await server.call('PUT', '/environments/gamma', {
      token: admin,
      body: { inheritsFrom: ['delta'] },
    });
    expect(unguarded.status).toBe(200);
    await server.call('DELETE', '/approval-policies/kid-risk', { token: admin });
  });

  it('names the environment change in explain and in the audit of every service whose effective document it changed', async () => {
    const explained = await server.call('GET', '/configurations/desk?environment=kid&explain=true', { token: admin });
    expect(explained.body.data.inheritance).toEqual([
      expect.objectContaining({ environment: 'beta', inheritsFrom: [] }),
      expect.objectContaining({ environment: 'kid', inheritsFrom: ['beta'], changedBy: 'root' }),
    ]);
    const environmentsIn = async (serviceId: string) =>
      (
        await server.call('GET', `/audit?serviceId=${serviceId}&eventType=EnvironmentUpdated`, { token: admin })
      ).body.data.entries.map((entry: { environment: string }) => entry.environment);
    expect(await environmentsIn('desk')).toEqual(['kid']);
    expect(await environmentsIn('other')).toEqual(['gamma']);
    const scoped = await server.token('ada', ['auditor'], ['other']);
    const seen = await server.call('GET', '/audit?eventType=EnvironmentUpdated', { token: scoped });
    expect(seen.body.data.entries.map((entry: { environment: string }) => entry.environment)).toEqual(['gamma']);
  });

  it('lets an admin remove a parent, recorded, and the child then inherits from what is left', async () => {
    await server.call('POST', '/environments', { token: admin, body: { id: 'doomed' } });
    await server.call('PUT', '/configurations/desk?environment=doomed', {
      token: admin,
      body: { configuration: { doomed: true } },
    });
    await server.call('PUT', '/environments/kid', { token: admin, body: { inheritsFrom: ['beta', 'doomed'] } });
    const before = await server.call('GET', '/configurations/desk?environment=kid', { token: admin });
    expect(before.body.data.configuration.doomed).toBe(true);
    const removed = await server.call('DELETE', '/environments/doomed', {
      token: admin,
      headers: { 'content-type': 'application/json' },
      body: { changeReason: 'decommissioned' },
    });
    expect(removed.status).toBe(200);
    const after = await server.call(
      'GET',
      `/configurations/desk?environment=kid&minPosition=${removed.body.data.position}`,
      { token: admin },
    );
    expect(after.body.data.configuration.doomed).toBeUndefined();
    expect((await server.call('GET', '/environments/doomed', { token: admin })).status).toBe(404);
    expect((await events('environment-doomed')).at(-1)).toMatchObject({
      type: 'EnvironmentRemoved',
      metadata: { actor: 'root', reason: 'decommissioned' },
    });
  });
});
