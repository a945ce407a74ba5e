import { describe, expect, it } from 'vitest';
import type { Connection } from './connection.ts';
import { SubscriptionIndex } from './subscriptions.ts';

const connection = (...patterns: string[]) => ({ patterns: new Set(patterns) }) as unknown as Connection;

describe('the subscription index', () => {
  it('offers a push only to connections whose patterns name its service or every service, each once', () => {
    const index = new SubscriptionIndex();
    const router = connection('config.order-router.production', 'config.order-router.staging');
    const everything = connection('config.*.production', 'config.order-router.staging');
    const other = connection('config.risk-engine.*');
    for (const each of [router, everything, other]) index.update(each);
    expect([...index.candidates('order-router')]).toEqual([everything, router]);
    expect([...index.candidates('risk-engine')]).toEqual([everything, other]);
    expect([...index.candidates('pricing')]).toEqual([everything]);

    // Patterns change: the index follows, and a closed connection leaves it.
    router.patterns.delete('config.order-router.production');
    index.update(router);
    expect([...index.candidates('order-router')]).toContain(router);
    router.patterns.clear();
    index.update(router);
    expect([...index.candidates('order-router')]).toEqual([everything]);
    index.remove(everything);
    expect([...index.candidates('order-router')]).toEqual([]);
    expect([...index.candidates('risk-engine')]).toEqual([other]);
  });
});
