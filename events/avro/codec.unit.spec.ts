import { describe, expect, it } from 'vitest';
import type { RecordedEvent } from '#infra/eventstore/port.ts';
import { HEADER, decodeEvent, encodeEvent } from './codec.ts';

const recorded: RecordedEvent = {
  id: '6c1f5d1e-8a8e-4a57-9d35-0b7d2f0a9c11',
  type: 'ConfigurationUpdated',
  streamName: 'config-order-router-production',
  revision: 4n,
  position: 1234n,
  recordedAt: new Date('2026-11-25T10:00:00.000Z'),
  data: {
    serviceId: 'order-router',
    environment: 'production',
    version: 5,
    configuration: { risk: { maxPosition: 250 }, venues: ['XNYS'], flag: null },
    checksum: 'a'.repeat(64),
    changedKeys: ['risk.maxPosition', 'venues'],
    changes: [
      { path: 'risk.maxPosition', oldValue: 100, newValue: 250 },
      { path: 'venues', newValue: ['XNYS'] },
    ],
    operation: 'patch',
    changeReason: 'desk request',
  },
  metadata: {
    actor: 'alice',
    correlationId: 'c-1',
    schemaVersion: 2,
    sourceIp: '10.0.0.1',
    userAgent: 'curl/8.5.0',
    idempotencyKey: 'alice:retry-7',
  },
};

describe('Avro event codec', () => {
  it('round-trips an event with its headers, JSON values intact', () => {
    const encoded = encodeEvent(recorded);
    expect(encoded.key).toBe('config-order-router-production');
    expect(encoded.headers).toEqual({
      [HEADER.eventId]: recorded.id,
      [HEADER.eventType]: 'ConfigurationUpdated',
      [HEADER.schemaVersion]: '2',
      [HEADER.correlationId]: 'c-1',
      [HEADER.userAgent]: 'curl/8.5.0',
      [HEADER.idempotencyKey]: 'alice:retry-7',
    });
    const headers = Object.fromEntries(
      Object.entries(encoded.headers).map(([name, value]) => [name, Buffer.from(value)]),
    );
    const decoded = decodeEvent({ value: encoded.value, headers });
    expect(decoded).toEqual({ status: 'decoded', event: recorded });
  });

  it('skips, without throwing, an event whose schema version is newer than it knows', () => {
    const encoded = encodeEvent(recorded);
    const decoded = decodeEvent({ value: encoded.value, headers: { ...encoded.headers, [HEADER.schemaVersion]: '7' } });
    expect(decoded).toEqual({
      status: 'skipped',
      reason: 'ConfigurationUpdated schema version 7 is newer than this consumer knows (2)',
    });
  });

  it('reads an event written in an older shape as the current one', () => {
    const old = { ...recorded, metadata: { ...recorded.metadata, schemaVersion: 1 } };
    const encoded = encodeEvent(old);
    expect(encoded.headers[HEADER.schemaVersion]).toBe('1');
    expect(decodeEvent({ value: encoded.value, headers: encoded.headers })).toEqual({
      status: 'decoded',
      event: recorded,
    });
  });

  it('carries what version 2 added: a forced change and its inherited errors', () => {
    const forced = {
      ...recorded,
      data: {
        ...recorded.data,
        forced: { inheritedErrors: [{ environment: 'staging', path: 'risk', message: 'required' }] },
      },
    };
    const encoded = encodeEvent(forced);
    expect(decodeEvent({ value: encoded.value, headers: encoded.headers })).toEqual({
      status: 'decoded',
      event: forced,
    });
  });

  it('skips unknown event types and foreign messages', () => {
    expect(
      decodeEvent({
        value: Buffer.from('x'),
        headers: { [HEADER.eventType]: 'PizzaOrdered', [HEADER.schemaVersion]: '1' },
      }).status,
    ).toBe('skipped');
    expect(decodeEvent({ value: Buffer.from('{}') }).status).toBe('skipped');
  });
});
