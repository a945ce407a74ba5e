import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RecordedEvent } from '#infra/eventstore/port.ts';
import { type Storage, openStorage } from '#infra/eventstore/select.ts';
import { waitFor } from '#testing/wait.ts';
import { followLog } from './follow.ts';

const event = (type: string, data: Record<string, unknown> = {}) => ({
  id: randomUUID(),
  type,
  data,
  metadata: { actor: 'test', schemaVersion: 1 },
});
const defined = (id: string) => event('EnvironmentDefined', { id, name: id, type: 'custom', inheritsFrom: [] });

/** What the follower told its logger and its metrics. */
function recorder() {
  const lines: { level: 'info' | 'warn'; details: Record<string, unknown>; message: string }[] = [];
  let failures = 0;
  return {
    lines,
    get failures() {
      return failures;
    },
    logger: {
      info: (details: object, message: string) =>
        void lines.push({ level: 'info', details: details as Record<string, unknown>, message }),
      warn: (details: object, message: string) =>
        void lines.push({ level: 'warn', details: details as Record<string, unknown>, message }),
    },
    onFailure: () => void failures++,
  };
}

describe('following the log', () => {
  let storage: Storage;
  beforeAll(async () => {
    storage = await openStorage({ dataDir: 'memory://' });
  });
  afterAll(async () => storage?.close());

  it('retries a failed batch until it is handled, logging the failure once with its position and the recovery once', async () => {
    const { position } = await storage.store.append(`environment-${randomUUID()}`, [defined('retried')], 'no_stream');
    const seen = recorder();
    let attempts = 0;
    const handled: RecordedEvent[][] = [];
    const follower = followLog({
      name: 'test follower',
      store: storage.store,
      checkpoint: async () => position - 1n,
      retryDelayMs: 20,
      ...seen,
      handle: async (batch) => {
        if (++attempts <= 5) throw new Error('the database is away');
        handled.push(batch);
      },
    });
    await follower.start();
    await waitFor(() => handled.length === 1, 5_000, 'the batch');
    await follower.stop();
    expect(handled[0]!.map((e) => e.position)).toEqual([position]);
    expect(seen.failures).toBe(5);
    expect(seen.lines.filter((line) => line.level === 'warn')).toEqual([
      {
        level: 'warn',
        details: expect.objectContaining({
          position: position.toString(),
          stage: 'handle',
          err: 'the database is away',
        }),
        message: expect.stringContaining(`at position ${position}`),
      },
    ]);
    expect(seen.lines.filter((line) => line.level === 'info')).toHaveLength(1);
    expect(follower.failing).toBeUndefined();
  });

  it('stops at an event it cannot read, saying which and where, instead of skipping or misreading it', async () => {
    const before = await storage.store.headPosition();
    await storage.store.append(`mystery-${randomUUID()}`, [event('SomethingNew')], 'no_stream');
    await storage.store.append(`environment-${randomUUID()}`, [defined('after-the-mystery')], 'no_stream');
    const seen = recorder();
    const handled: string[] = [];
    const follower = followLog({
      name: 'strict follower',
      store: storage.store,
      checkpoint: async () => before,
      retryDelayMs: 20,
      ...seen,
      handle: async (batch) => void handled.push(...batch.map((e) => e.type)),
    });
    await follower.start();
    await waitFor(() => seen.failures >= 3, 5_000, 'retries');
    await follower.stop();
    expect(handled).toEqual([]);
    expect(follower.failing?.error).toMatch(/unknown event type SomethingNew at position \d+/);
    expect(seen.lines.filter((line) => line.level === 'warn')).toHaveLength(1);
  });

  it('reads an event of an older shape as the current one', async () => {
    const before = await storage.store.headPosition();
    await storage.store.append(
      `environment-${randomUUID()}`,
      [{ ...defined('old'), type: 'EnvironmentUpdated' }],
      'any',
    );
    const handled: RecordedEvent[] = [];
    const follower = followLog({
      name: 'upcasting follower',
      store: storage.store,
      checkpoint: async () => before,
      handle: async (batch) => void handled.push(...batch),
    });
    await follower.start();
    await waitFor(() => handled.length === 1, 5_000, 'the event');
    await follower.stop();
    expect(handled[0]!.metadata.schemaVersion).toBe(2);
  });

  it('moves a filtered subscription past the events that do not match', async () => {
    const from = await storage.store.headPosition();
    const subscription = storage.store.subscribeAll({ fromPosition: from, filter: { streamPrefixes: ['wanted-'] } });
    await storage.store.append(`wanted-${randomUUID()}`, [defined('wanted')], 'no_stream');
    for (let i = 0; i < 20; i++)
      await storage.store.append(`other-${randomUUID()}`, [defined(`other-${i}`)], 'no_stream');
    const iterator = subscription[Symbol.asyncIterator]();
    expect((await iterator.next()).value.streamName).toMatch(/^wanted-/);
    const head = await storage.store.headPosition();
    const next = iterator.next();
    await waitFor(() => subscription.position >= head, 5_000, 'the subscription to read past the others');
    await subscription.close();
    await next;
  });
});
