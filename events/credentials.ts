import type { Sealed } from '#infra/crypto/aead.ts';

export const credentialStream = (key: string) => `credential-${key}`;
/** Reads are recorded apart from the credential itself, so a busy credential's stream stays short. */
export const credentialAccessStream = (key: string) => `credential-access-${key}`;
export const VAULT_KEYS_STREAM = 'vault-keys';

export const CREDENTIAL_TYPES = ['api_key', 'database_password', 'certificate', 'private_key', 'token'] as const;
export const SENSITIVITIES = ['public', 'internal', 'confidential', 'restricted', 'top_secret'] as const;
export type CredentialType = (typeof CREDENTIAL_TYPES)[number];
export type Sensitivity = (typeof SENSITIVITIES)[number];

/**
 * One version of a credential's value: AES-256-GCM under its own data key;
 * the data key is wrapped by the credential's key, which lives outside the log
 * (wrapped by the key-encryption key) and is destroyed when the credential is
 * deleted. Both are bound to credential key and version as authenticated data.
 */
export interface SealedSecret {
  version: number;
  algorithm: 'AES-256-GCM';
  dataKey: Sealed;
  value: Sealed;
}

export interface CredentialDescription {
  key: string;
  serviceId: string;
  environment: string;
  type: CredentialType;
  sensitivity: Sensitivity;
  description?: string;
  expiresAt?: string;
  tags: Record<string, string>;
  rotationIntervalDays?: number;
  /** Other services whose `service` principals may decrypt it. */
  grantedTo?: string[];
}

export type CredentialStored = {
  type: 'CredentialStored';
  data: CredentialDescription & { secret: SealedSecret; storedAt: string; nextRotationAt?: string };
};
export type CredentialRotated = {
  type: 'CredentialRotated';
  data: {
    key: string;
    serviceId: string;
    environment: string;
    rotationId: string;
    secret: SealedSecret;
    previousVersion: number;
    rotatedAt: string;
    graceUntil?: string;
    nextRotationAt?: string;
    generated: boolean;
  };
};
export type CredentialDeleted = {
  type: 'CredentialDeleted';
  data: { key: string; deletedAt: string; versions: number };
};

export type AccessOutcome = 'granted' | 'denied' | 'not_found' | 'expired' | 'shredded' | 'grace_period_over';
export type CredentialAccessed = {
  type: 'CredentialAccessed';
  data: {
    key: string;
    operation: 'retrieve';
    outcome: AccessOutcome;
    version?: number;
    serviceId?: string;
    reason?: string;
    userAgent?: string;
  };
};

export type KeyEncryptionKeyRotated = {
  type: 'KeyEncryptionKeyRotated';
  data: { kekId: string; previousKekId: string; rewrappedKeys: number };
};

export type CredentialEvent = CredentialStored | CredentialRotated | CredentialDeleted;
