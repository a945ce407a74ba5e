import { describe, expect, it } from 'vitest';
import { ConfigurationCache, type CurrentConfiguration } from './cache.ts';

const entry = (serviceId: string, version: number, filler = 0): CurrentConfiguration => ({
  serviceId,
  environment: 'production',
  version,
  checksum: `c${version}`,
  configuration: { version, filler: 'x'.repeat(filler) },
  updatedAt: '2026-11-29T00:00:00.000Z',
  updatedBy: 'test',
  position: BigInt(version),
});

describe('the configuration cache', () => {
  it('holds at most its weight in bytes, keeping the most recently read', () => {
    const cache = new ConfigurationCache(64 * 1024);
    for (let i = 0; i < 1000; i++) cache.put(entry(`svc-${i}`, 1, 500));
    expect(cache.bytes).toBeLessThanOrEqual(64 * 1024);
    expect(cache.size).toBeGreaterThan(20);
    expect(cache.size).toBeLessThan(1000);
    expect(cache.get('svc-999', 'production')?.version).toBe(1);
    expect(cache.get('svc-0', 'production')).toBeUndefined();
  });

  it('never takes back an older version of an entry it let go (a slow database read finishing late)', () => {
    const cache = new ConfigurationCache(8 * 1024);
    cache.put(entry('order-router', 5));
    for (let i = 0; i < 200; i++) cache.put(entry(`other-${i}`, 1, 100));
    expect(cache.get('order-router', 'production')).toBeUndefined();
    cache.put(entry('order-router', 4));
    expect(cache.get('order-router', 'production')).toBeUndefined();
    cache.put(entry('order-router', 5));
    expect(cache.get('order-router', 'production')?.version).toBe(5);
  });

  it('without a bound holds everything (the folds that must know every layer)', () => {
    const cache = new ConfigurationCache();
    for (let i = 0; i < 1000; i++) cache.put(entry(`svc-${i}`, 1, 500));
    expect(cache.size).toBe(1000);
  });
});
