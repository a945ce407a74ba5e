import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configurationStream } from '#events/configuration.ts';
import type { RecordedEvent } from '#infra/eventstore/port.ts';
import { startTestServer, type TestServer } from '#testing/server.ts';
import { waitFor } from '#testing/wait.ts';
import { READ_MODEL_PROJECTIONS } from '#projections/read-models.ts';

const change = (version: number, limit: number) => ({
  id: randomUUID(),
  type: version === 1 ? 'ConfigurationCreated' : 'ConfigurationUpdated',
  data: {
    serviceId: 'twice',
    environment: 'production',
    version,
    configuration: { limit },
    checksum: 'x'.repeat(64),
    changedKeys: ['limit'],
    changes: [],
    operation: 'replace',
  },
  metadata: { actor: 'test', schemaVersion: 2 },
});

describe('the configuration history read model', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer();
  });
  afterAll(async () => server?.close());

  it('fails loudly on a second event claiming a version it already holds, and stays silent on the same event again', async () => {
    const { store } = server.storage;
    const first = [change(1, 1), change(2, 2)];
    const { position } = await store.append(configurationStream('twice', 'production'), first, 'no_stream');
    const { runner } = server.app.ctx.readModels;
    expect(await runner.waitFor(position, 5_000)).toBe(true);

    // The same events once more (a replica's redelivery, a rebuild over rows already there): nothing happens.
    const again: RecordedEvent[] = [];
    for await (const event of store.readStream(configurationStream('twice', 'production'))) again.push(event);
    await server.storage.readModels.transaction((tx) => READ_MODEL_PROJECTIONS[0]!.apply(tx, again));

    // A different event for version 2: the projection must stop and say so, not hide it.
    await store.append(configurationStream('twice', 'production'), [change(2, 99)], 1n);
    await waitFor(() => runner.lastError !== undefined, 5_000, 'the projection to fail');
    expect(runner.lastError).toMatch(/version 2 of twice\/production/);
  });
});
