import type { RecordedEvent } from '#infra/eventstore/port.ts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configurationStream } from '#events/configuration.ts';
import { startTestServer, type TestServer } from '#testing/server.ts';
import { checksumOf } from '#infra/json/canonical.ts';

/** Every document needs risk.max and a venue; a paper-trading one must trade on the simulator. */
const SCHEMA = {
  type: 'object',
  required: ['risk', 'venue'],
  properties: {
    risk: { type: 'object', required: ['max'], properties: { max: { type: 'integer', maximum: 1000 } } },
    venue: { type: 'string' },
    mode: { enum: ['live', 'paper'] },
  },
  if: { properties: { mode: { const: 'paper' } }, required: ['mode'] },
  // biome-ignore lint/suspicious/noThenProperty: JSON Schema's if/then.
  then: { properties: { venue: { const: 'SIM' } } },
};

describe('what a service reads in an inheriting environment, and what its schema judges', () => {
  let server: TestServer;
  let admin: string;
  let writer: string;

  beforeAll(async () => {
    server = await startTestServer();
    admin = await server.token('root', ['admin']);
    writer = await server.token('wes', ['writer']);
    for (const [id, inheritsFrom] of [
      ['sim', []],
      ['paper', ['sim']],
      ['lon', []],
    ] as const) {
      expect((await server.call('POST', '/environments', { token: admin, body: { id, inheritsFrom } })).status).toBe(
        201,
      );
    }
    await server.call('PUT', '/configurations/desk/schema', { token: admin, body: { schema: SCHEMA } });
    await server.call('PUT', '/configurations/desk?environment=sim', {
      token: writer,
      body: { configuration: { risk: { max: 100 }, venue: 'SIM', mode: 'live' } },
    });
    await server.call('PUT', '/configurations/desk?environment=lon', {
      token: writer,
      body: { configuration: { risk: { max: 100 }, venue: 'XLON', mode: 'live' } },
    });
  });
  afterAll(async () => server?.close());

  const read = async (environment: string, query = '') =>
    (await server.call('GET', `/configurations/desk?environment=${environment}${query}`, { token: admin })).body.data;
  const head = () => server.storage.store.headPosition();

  it('takes an override-only document: the schema judges the effective document, and every answer is the effective one', async () => {
    const written = await server.call('PUT', '/configurations/desk?environment=paper', {
      token: writer,
      body: { configuration: { mode: 'paper' } },
    });
    expect(written.status).toBe(201);
    const view = await read('paper', `&minPosition=${written.body.data.position}`);
    expect(view.configuration).toEqual({ risk: { max: 100 }, venue: 'SIM', mode: 'paper' });
    expect(view.checksum).toBe(checksumOf(view.configuration));
    expect(written.body.data.checksum).toBe(view.checksum);
    expect(view.position).toBe(written.body.data.position);
    expect(view.own).toEqual({
      configuration: { mode: 'paper' },
      checksum: checksumOf({ mode: 'paper' }),
      version: 1,
      position: written.body.data.position,
    });
    const invalid = await server.call('PUT', '/configurations/desk?environment=paper', {
      token: writer,
      body: { configuration: { mode: 'paper', venue: 'XNYS' } },
    });
    expect([invalid.status, invalid.body.code]).toEqual([400, 'VALIDATION_ERROR']);
  });

  it('refuses a parent change that is valid on its own but breaks an inheriting environment, naming the environment and path', async () => {
    const before = await head();
    const refused = await server.call('PATCH', '/configurations/desk?environment=sim', {
      token: writer,
      body: { patch: { venue: 'XNYS' } },
    });
    expect([refused.status, refused.body.code]).toEqual([400, 'INHERITED_VALIDATION_FAILED']);
    expect(refused.body.details.environments).toEqual([
      { environment: 'paper', errors: expect.arrayContaining([expect.objectContaining({ path: 'venue' })]) },
    ]);
    expect(await head()).toBe(before);
  });

  it('lets only an admin force it, only with a reason, and records what it broke', async () => {
    const change = { patch: { venue: 'XNYS' }, changeReason: 'simulator retired' };
    const byWriter = await server.call('PATCH', '/configurations/desk?environment=sim&force=true', {
      token: writer,
      body: change,
    });
    expect([byWriter.status, byWriter.body.code]).toEqual([403, 'FORBIDDEN']);
    const noReason = await server.call('PATCH', '/configurations/desk?environment=sim&force=true', {
      token: admin,
      body: { patch: { venue: 'XNYS' } },
    });
    expect([noReason.status, noReason.body.code]).toEqual([400, 'VALIDATION_ERROR']);
    const forced = await server.call('PATCH', '/configurations/desk?environment=sim&force=true', {
      token: admin,
      body: change,
    });
    expect(forced.status).toBe(200);
    let last: RecordedEvent | undefined;
    for await (const event of server.storage.store.readStream(configurationStream('desk', 'sim'), {
      direction: 'backwards',
      maxCount: 1,
    }))
      last = event;
    expect(last!.data.forced).toEqual({
      inheritedErrors: expect.arrayContaining([expect.objectContaining({ environment: 'paper', path: 'venue' })]),
    });
    expect(last!.metadata).toMatchObject({ actor: 'root', reason: 'simulator retired' });
    await server.call('PATCH', '/configurations/desk?environment=sim', {
      token: admin,
      body: { patch: { venue: 'SIM' } },
    });
  });

  it('refuses a re-parenting that breaks what the environment reads, and says so in a dry run first', async () => {
    const dryRun = await server.call('PUT', '/environments/paper?dryRun=true', {
      token: admin,
      body: { inheritsFrom: ['lon'] },
    });
    expect(dryRun.body.data.wouldFailSchema).toEqual(
      expect.arrayContaining([expect.objectContaining({ environment: 'paper', serviceId: 'desk', path: 'venue' })]),
    );
    const before = await head();
    const refused = await server.call('PUT', '/environments/paper', { token: admin, body: { inheritsFrom: ['lon'] } });
    expect([refused.status, refused.body.code]).toEqual([400, 'INHERITED_VALIDATION_FAILED']);
    expect(refused.body.details.environments[0]).toMatchObject({
      environment: 'paper',
      errors: expect.arrayContaining([expect.objectContaining({ serviceId: 'desk', path: 'venue' })]),
    });
    expect(await head()).toBe(before);
    expect((await read('paper')).inheritedFrom).toEqual(['sim']);
  });

  it('reads the past as it was read then: a version of the own layer with its parents as they stood', async () => {
    const own = (await read('paper')).own;
    const changed = await server.call('PATCH', '/configurations/desk?environment=sim', {
      token: writer,
      body: { patch: { risk: { max: 200 } } },
    });
    const now = await read('paper', `&minPosition=${changed.body.data.position}`);
    expect(now.configuration.risk).toEqual({ max: 200 });
    const then = await read('paper', `&version=${own.version}`);
    expect(then.configuration.risk.max).not.toBe(200);
    expect(then.checksum).toBe(checksumOf(then.configuration));
    expect(then.position).toBeLessThan(now.position);
    const atThen = await read('paper', `&atPosition=${then.position}`);
    expect([atThen.checksum, atThen.position]).toEqual([then.checksum, then.position]);
  });
});
