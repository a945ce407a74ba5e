import { describe, expect, it } from 'vitest';
import type {
  CredentialDescription,
  CredentialEvent,
  CredentialRotated,
  CredentialStored,
  SealedSecret,
} from '#events/credentials.ts';
import { deciderSpec } from '#services/shared/decider-harness.ts';
import { credentialDecider } from './decider.ts';

const given = deciderSpec(credentialDecider);

const description: CredentialDescription = {
  key: 'orders-db',
  serviceId: 'order-router',
  environment: 'production',
  type: 'database_password',
  sensitivity: 'restricted',
  tags: { team: 'trading' },
};
const sealed = { iv: 'aXY=', ciphertext: 'Y2lwaGVy', tag: 'dGFn' };
const secret = (version: number): SealedSecret => ({
  version,
  algorithm: 'AES-256-GCM',
  dataKey: sealed,
  value: sealed,
});
const storedAt = '2026-03-01T09:00:00.000Z';
const rotatedAt = '2026-03-10T09:00:00.000Z';
const deletedAt = '2026-03-20T09:00:00.000Z';

const stored = (version = 1): CredentialStored => ({
  type: 'CredentialStored',
  // A restricted credential rotates every 60 days.
  data: { ...description, secret: secret(version), storedAt, nextRotationAt: '2026-04-30T09:00:00.000Z' },
});
const rotated = (version: number): CredentialRotated => ({
  type: 'CredentialRotated',
  data: {
    key: 'orders-db',
    serviceId: 'order-router',
    environment: 'production',
    rotationId: 'rotation-1',
    secret: secret(version),
    previousVersion: version - 1,
    rotatedAt,
    generated: false,
    graceUntil: '2026-03-10T10:00:00.000Z',
    nextRotationAt: '2026-05-09T09:00:00.000Z',
  },
});
const deleted = (versions: number): CredentialEvent => ({
  type: 'CredentialDeleted',
  data: { key: 'orders-db', deletedAt, versions },
});

const store = (version = 1, storing = description) =>
  ({ type: 'StoreCredential', description: storing, secret: secret(version), now: storedAt }) as const;
const rotate = (version: number, graceSeconds = 3600) =>
  ({
    type: 'RotateCredential',
    key: 'orders-db',
    rotationId: 'rotation-1',
    secret: secret(version),
    graceSeconds,
    generated: false,
    now: rotatedAt,
  }) as const;
const remove = { type: 'DeleteCredential', key: 'orders-db', now: deletedAt } as const;

describe('credential decider', () => {
  it('stores a new credential at version 1, due for rotation after the interval of its sensitivity', () => {
    given().when(store()).then([stored()]);
  });

  it("schedules the next rotation by the credential's own interval, and none for an internal credential", () => {
    given()
      .when(store(1, { ...description, rotationIntervalDays: 7 }))
      .then([
        {
          type: 'CredentialStored',
          data: expect.objectContaining({ rotationIntervalDays: 7, nextRotationAt: '2026-03-08T09:00:00.000Z' }),
        },
      ]);
    given()
      .when(store(1, { ...description, sensitivity: 'internal' }))
      .then([
        { type: 'CredentialStored', data: { ...description, sensitivity: 'internal', secret: secret(1), storedAt } },
      ]);
  });

  it('refuses to store a credential that exists with CREDENTIAL_EXISTS', () => {
    given(stored()).when(store(2)).thenThrows('CREDENTIAL_EXISTS');
  });

  it('stores a deleted credential again at the version after its last one', () => {
    given(stored(), rotated(2), deleted(2))
      .when(store(3))
      .then([stored(3)]);
  });

  it('refuses a value sealed for another version than the next with VERSION_CONFLICT carrying the current version', () => {
    expect(given().when(store(2)).thenThrows('VERSION_CONFLICT').details).toEqual({ currentVersion: 0 });
    expect(given(stored(), rotated(2), deleted(2)).when(store(1)).thenThrows('VERSION_CONFLICT').details).toEqual({
      currentVersion: 2,
    });
  });

  it('rotates to the next version, the previous one still reading until the grace period ends', () => {
    const state = given(stored())
      .when(rotate(2))
      .then([rotated(2)]);
    expect(state).toMatchObject({
      status: 'active',
      current: { secret: { version: 2 }, since: rotatedAt },
      previous: { secret: { version: 1 }, graceUntil: '2026-03-10T10:00:00.000Z' },
      nextRotationAt: '2026-05-09T09:00:00.000Z',
    });
  });

  it('records no grace period for a rotation without one', () => {
    const { graceUntil: _graceUntil, ...withoutGrace } = rotated(2).data;
    given(stored())
      .when(rotate(2, 0))
      .then([{ type: 'CredentialRotated', data: withoutGrace }]);
  });

  it('refuses a rotation sealed for a version the credential has moved past with VERSION_CONFLICT', () => {
    const error = given(stored(), rotated(2)).when(rotate(2)).thenThrows('VERSION_CONFLICT');
    expect(error.details).toEqual({ currentVersion: 2 });
  });

  it('refuses to rotate a credential that does not exist or was deleted with CREDENTIAL_NOT_FOUND', () => {
    given().when(rotate(1)).thenThrows('CREDENTIAL_NOT_FOUND');
    given(stored(), deleted(1)).when(rotate(2)).thenThrows('CREDENTIAL_NOT_FOUND');
  });

  it('deletes a credential, recording how many versions it had', () => {
    given(stored(), rotated(2))
      .when(remove)
      .then([deleted(2)]);
  });

  it('refuses to delete a credential that does not exist or was already deleted with CREDENTIAL_NOT_FOUND', () => {
    given().when(remove).thenThrows('CREDENTIAL_NOT_FOUND');
    given(stored(), deleted(1)).when(remove).thenThrows('CREDENTIAL_NOT_FOUND');
  });
});
