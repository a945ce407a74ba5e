import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configurationStream } from '#events/configuration.ts';
import { startTestServer, type TestServer } from '#testing/server.ts';

describe('change approvals over HTTP', () => {
  let server: TestServer;
  let admin: string;
  let requester: string;
  let ann: string;
  let bob: string;

  beforeAll(async () => {
    server = await startTestServer();
    admin = await server.token('root', ['admin']);
    requester = await server.token('rae', ['writer', 'approver']);
    ann = await server.token('ann', ['approver']);
    bob = await server.token('bob', ['approver']);
    await server.call('PUT', '/configurations/risk-engine', {
      token: admin,
      body: { configuration: { risk: { limit: 100 }, venue: 'XNYS' } },
    });
    const policy = await server.call('PUT', '/approval-policies/prod-risk', {
      token: admin,
      body: {
        environments: ['production'],
        keyPatterns: ['risk.*'],
        requiredApprovals: 2,
        description: 'risk limits need two approvers',
      },
    });
    expect(policy.status).toBe(200);
  });
  afterAll(async () => server?.close());

  const requestChange = async (limit: number) => {
    const response = await server.call('PATCH', '/configurations/risk-engine', {
      token: requester,
      body: { patch: { risk: { limit } }, changeReason: `limit ${limit}` },
    });
    expect(response.status).toBe(202);
    return response.body.data.changeRequest as { id: string; requiredApprovals: number; baseVersion: number };
  };
  const current = async () =>
    (
      await server.call('GET', `/configurations/risk-engine?minPosition=${await server.storage.store.headPosition()}`, {
        token: admin,
      })
    ).body.data;

  it('holds a covered change as a change request and applies it at the quorum, recording who approved', async () => {
    const before = await current();
    const request = await requestChange(250);
    expect(request).toMatchObject({ requiredApprovals: 2, baseVersion: before.version });
    expect((await current()).configuration.risk.limit).toBe(100);

    const uncovered = await server.call('PUT', '/configurations/risk-engine/venue', {
      token: requester,
      body: { value: 'XNAS' },
    });
    expect(uncovered.status).toBe(200);

    const self = await server.call('POST', `/change-requests/${request.id}/approve`, { token: requester, body: {} });
    expect([self.status, self.body.code]).toEqual([403, 'SELF_APPROVAL']);
    const reader = await server.token('rob', ['reader']);
    expect(
      (await server.call('POST', `/change-requests/${request.id}/approve`, { token: reader, body: {} })).status,
    ).toBe(403);
    expect(uncovered.body.data.version).toBe(before.version + 1);
  });

  it('applies an approved change on top of unrelated edits made since, and fails with CONFIGURATION_MOVED_ON on a conflict', async () => {
    const request = await requestChange(300);
    const first = await server.call('POST', `/change-requests/${request.id}/approve`, {
      token: ann,
      body: { comment: 'ok for today' },
    });
    expect(first.body.data).toMatchObject({
      status: 'pending',
      approvals: [{ approver: 'ann', comment: 'ok for today' }],
    });
    const twice = await server.call('POST', `/change-requests/${request.id}/approve`, { token: ann, body: {} });
    expect([twice.status, twice.body.code]).toEqual([409, 'ALREADY_APPROVED']);
    const second = await server.call('POST', `/change-requests/${request.id}/approve`, { token: bob, body: {} });
    expect(second.status).toBe(200);
    expect(second.body.data).toMatchObject({ status: 'applied', approvedBy: ['ann', 'bob'] });
    expect((await current()).configuration.risk.limit).toBe(300);

    const versions = await server.call(
      'GET',
      `/configurations/risk-engine/versions?limit=1&minPosition=${second.body.data.position}`,
      { token: admin },
    );
    expect(versions.body.data[0]).toMatchObject({
      changedBy: 'rae',
      changeReason: 'limit 300',
      approval: { changeRequestId: request.id, approvedBy: ['ann', 'bob'] },
    });
    const events = [];
    for await (const event of server.storage.store.readStream(configurationStream('risk-engine', 'production'), {
      direction: 'backwards',
      maxCount: 1,
    }))
      events.push(event);
    expect(events[0]!.metadata).toMatchObject({ actor: 'rae', causationId: request.id });

    // An unrelated edit meanwhile (a path no policy gates) does not spend the approvals: the change applies on top of it.
    const merged = await requestChange(400);
    await server.call('PUT', '/configurations/risk-engine/venue', { token: requester, body: { value: 'ARCX' } });
    await server.call('POST', `/change-requests/${merged.id}/approve`, { token: ann, body: {} });
    const onTop = await server.call('POST', `/change-requests/${merged.id}/approve`, { token: bob, body: {} });
    expect(onTop.body.data).toMatchObject({ status: 'applied', approvedBy: ['ann', 'bob'] });
    expect((await current()).configuration).toMatchObject({ risk: { limit: 400 }, venue: 'ARCX' });

    // An edit of the change's own path is a conflict: it fails, naming the path, and nothing is written.
    const stale = await requestChange(500);
    const competing = await requestChange(450);
    await server.call('POST', `/change-requests/${competing.id}/approve`, { token: ann, body: {} });
    await server.call('POST', `/change-requests/${competing.id}/approve`, { token: bob, body: {} });
    await server.call('POST', `/change-requests/${stale.id}/approve`, { token: ann, body: {} });
    const moved = await server.call('POST', `/change-requests/${stale.id}/approve`, { token: bob, body: {} });
    expect([moved.status, moved.body.code]).toEqual([409, 'CONFIGURATION_MOVED_ON']);
    expect(moved.body.details.conflicts).toEqual(['risk.limit']);
    expect((await current()).configuration.risk.limit).toBe(450);
    expect((await server.call('GET', `/change-requests/${stale.id}`, { token: ann })).body.data).toMatchObject({
      status: 'failed',
      outcome: { code: 'CONFIGURATION_MOVED_ON' },
    });

    // Merged onto what is there now, the change must pass the schema as it is now: if it no longer does, the
    // configuration moved on under it; the answer names the change's paths and what the schema says.
    const tooHigh = await requestChange(900);
    const schema = {
      type: 'object',
      properties: { risk: { type: 'object', properties: { limit: { type: 'number', maximum: 600 } } } },
    };
    expect(
      (await server.call('PUT', '/configurations/risk-engine/schema', { token: admin, body: { schema } })).status,
    ).toBe(201);
    await server.call('PUT', '/configurations/risk-engine/venue', { token: requester, body: { value: 'BATS' } });
    await server.call('POST', `/change-requests/${tooHigh.id}/approve`, { token: ann, body: {} });
    const invalid = await server.call('POST', `/change-requests/${tooHigh.id}/approve`, { token: bob, body: {} });
    expect([invalid.status, invalid.body.code]).toEqual([409, 'CONFIGURATION_MOVED_ON']);
    expect(invalid.body.details).toMatchObject({ paths: ['risk.limit'], errors: [{ path: 'risk.limit' }] });
    expect((await current()).configuration).toMatchObject({ risk: { limit: 450 }, venue: 'BATS' });
  });

  it('closes a rejected request for good', async () => {
    const request = await requestChange(500);
    const rejected = await server.call('POST', `/change-requests/${request.id}/reject`, {
      token: ann,
      body: { comment: 'too high' },
    });
    expect(rejected.body.data).toMatchObject({
      status: 'rejected',
      rejection: { approver: 'ann', comment: 'too high' },
    });
    const late = await server.call('POST', `/change-requests/${request.id}/approve`, { token: bob, body: {} });
    expect([late.status, late.body.code]).toEqual([409, 'CHANGE_REQUEST_CLOSED']);
    const listed = await server.call(
      'GET',
      `/change-requests?status=rejected&minPosition=${await server.storage.store.headPosition()}`,
      { token: ann },
    );
    expect(listed.body.data.items.map((entry: { id: string }) => entry.id)).toContain(request.id);

    // Every list pages the same way: limit, and the answer's nextCursor for the next page, until it is null.
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page = await server.call('GET', `/change-requests?limit=2${cursor ? `&cursor=${cursor}` : ''}`, {
        token: ann,
      });
      expect(page.body.data.items.length).toBeLessThanOrEqual(2);
      seen.push(...page.body.data.items.map((entry: { id: string }) => entry.id));
      cursor = page.body.data.nextCursor;
    } while (cursor);
    const all = (await server.call('GET', '/change-requests', { token: ann })).body.data.items;
    expect(seen).toEqual(all.map((entry: { id: string }) => entry.id));
    expect(seen.length).toBeGreaterThan(4);
  });
});

describe('credential stores and rotations under approval', () => {
  let server: TestServer;
  let admin: string;
  let writer: string;
  let approvers: string[];

  beforeAll(async () => {
    server = await startTestServer();
    admin = await server.token('root', ['admin']);
    writer = await server.token('wes', ['writer']);
    approvers = [await server.token('ann', ['approver']), await server.token('bob', ['approver'])];
    await server.call('PUT', '/approval-policies/secrets', {
      token: admin,
      body: {
        environments: ['production'],
        keyPatterns: [],
        credentialSensitivity: 'confidential',
        requiredApprovals: 2,
      },
    });
  });
  afterAll(async () => server?.close());

  const approveAll = async (id: string) => {
    let last: Awaited<ReturnType<typeof server.call>> | undefined;
    for (const token of approvers)
      last = await server.call('POST', `/change-requests/${id}/approve`, { token, body: {} });
    return last!;
  };

  it('holds a confidential credential until approved, with only ciphertext in the request, and stores internal ones at once', async () => {
    const value = 'confidential-value-7f3a';
    const held = await server.call('POST', '/credentials', {
      token: writer,
      body: {
        key: 'exchange-key',
        value,
        type: 'api_key',
        serviceId: 'order-router',
        environment: 'production',
        sensitivity: 'restricted',
      },
    });
    expect(held.status).toBe(202);
    const request = held.body.data.changeRequest;
    expect((await server.call('GET', '/credentials/exchange-key', { token: writer })).body.code).toBe(
      'CREDENTIAL_NOT_FOUND',
    );
    const { rows } = await server.storage.readModels.query<{ text: string }>(
      "SELECT data::text AS text FROM events WHERE event_type = 'ChangeRequestOpened'",
    );
    expect(rows.map((row) => row.text).join()).not.toContain(value);

    const applied = await approveAll(request.id);
    expect(applied.body.data).toMatchObject({ status: 'applied', version: 1 });
    expect((await server.call('GET', '/credentials/exchange-key', { token: writer })).body.data.value).toBe(value);

    const internal = await server.call('POST', '/credentials', {
      token: writer,
      body: {
        key: 'metrics-token',
        value: 'x',
        type: 'token',
        serviceId: 'order-router',
        environment: 'production',
        sensitivity: 'internal',
      },
    });
    expect(internal.status).toBe(201);
  });

  it('fails an approved rotation whose credential was rotated meanwhile with CREDENTIAL_MOVED_ON', async () => {
    const first = await server.call('POST', '/credentials/exchange-key/rotate', {
      token: writer,
      body: { value: 'rotation-a' },
    });
    const second = await server.call('POST', '/credentials/exchange-key/rotate', {
      token: writer,
      body: { value: 'rotation-b' },
    });
    expect([first.status, second.status]).toEqual([202, 202]);
    expect((await approveAll(second.body.data.changeRequest.id)).body.data.status).toBe('applied');
    const moved = await approveAll(first.body.data.changeRequest.id);
    expect([moved.status, moved.body.code]).toEqual([409, 'CREDENTIAL_MOVED_ON']);
    expect((await server.call('GET', '/credentials/exchange-key', { token: writer })).body.data).toMatchObject({
      value: 'rotation-b',
      version: 2,
    });
  });
});

describe('the approvals process manager', () => {
  it('applies a change approved while two instances run exactly once, and answers the approver with its outcome', async () => {
    const first = await startTestServer();
    const second = await startTestServer({ databaseUrl: first.databaseUrl });
    try {
      const admin = await first.token('root', ['admin']);
      await first.call('PUT', '/configurations/twice', {
        token: admin,
        body: { configuration: { risk: { limit: 1 } } },
      });
      await first.call('PUT', '/approval-policies/twice', {
        token: admin,
        body: { environments: ['production'], keyPatterns: ['risk.*'], requiredApprovals: 2 },
      });
      await second.app.readModels.runner.waitFor(await first.storage.store.headPosition(), 5000, 'seen');
      const opened = await second.call('PATCH', '/configurations/twice', {
        token: await second.token('rae', ['writer']),
        body: { patch: { risk: { limit: 2 } } },
      });
      const { id } = opened.body.data.changeRequest;
      await first.call('POST', `/change-requests/${id}/approve`, {
        token: await first.token('ann', ['approver']),
        body: {},
      });
      const last = await second.call('POST', `/change-requests/${id}/approve`, {
        token: await second.token('bob', ['approver']),
        body: {},
      });
      expect(last.body.data).toMatchObject({ status: 'applied', version: 2, approvedBy: ['ann', 'bob'] });
      // Both instances' process managers saw the quorum; the log holds the change and its outcome once.
      await new Promise((resolve) => setTimeout(resolve, 500));
      const events = [];
      for await (const event of first.storage.store.readStream(configurationStream('twice', 'production')))
        events.push(event.type);
      expect(events).toEqual(['ConfigurationCreated', 'ConfigurationUpdated']);
      const outcomes = [];
      for await (const event of first.storage.store.readStream(`change-request-${id}`)) outcomes.push(event.type);
      expect(outcomes.filter((type) => type === 'ChangeRequestApplied')).toHaveLength(1);
    } finally {
      await second.app.close();
      await second.storage.close();
      await first.close();
    }
  });
});
