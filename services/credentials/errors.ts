import { DomainError } from '#events/errors.ts';

export const credentialNotFound = (key: string) =>
  new DomainError('CREDENTIAL_NOT_FOUND', 404, `no credential ${key}`, { key });

export const credentialExists = (key: string) =>
  new DomainError('CREDENTIAL_EXISTS', 409, `credential ${key} exists; rotate it instead`, { key });

/** The value was sealed for a version the credential has since moved past. */
export const credentialChangedConcurrently = (currentVersion: number) =>
  new DomainError(
    'VERSION_CONFLICT',
    409,
    `the credential changed concurrently (now at version ${currentVersion}); retry`,
    { currentVersion },
  );

/** The caller's roles do not allow decrypting any credential. */
export const credentialReadForbidden = (subject: string, required: readonly string[]) =>
  new DomainError('FORBIDDEN', 403, `${subject} may not read credentials`, { required });

/** The caller may decrypt credentials, but not this one: neither its service nor a grant. */
export const credentialOutOfScope = (subject: string, key: string, serviceId: string | undefined) =>
  new DomainError('OUT_OF_SCOPE', 403, `${subject} may not read credential ${key}`, { credential: key, serviceId });

export const credentialShredded = (key: string) =>
  new DomainError('CREDENTIAL_SHREDDED', 410, `credential ${key} was deleted and its keys destroyed`, { key });

export const credentialExpired = (key: string, expiresAt: string) =>
  new DomainError('CREDENTIAL_EXPIRED', 403, `credential ${key} expired at ${expiresAt}`, { key, expiresAt });

/** The previous version was asked for after its grace period, or there is none. */
export const gracePeriodOver = (key: string, graceUntil: string | undefined) =>
  new DomainError('GRACE_PERIOD_OVER', 410, `the previous version of ${key} no longer reads`, {
    key,
    graceUntil: graceUntil ?? null,
  });

/** An active credential whose key is not in this store: a restore without the vault's keys, never a deletion. */
export const credentialKeyMissing = (key: string, kekId?: string) =>
  new DomainError(
    'CREDENTIAL_KEY_MISSING',
    503,
    kekId
      ? `credential ${key} is wrapped by key-encryption key ${kekId}, which this instance does not have: put the key ring back (restore --keys-passphrase-file, or MASTER_KEY)`
      : `credential ${key} has no key in this store: restore the vault's keys (configledger restore with the backup's keys part, taken with backup --with-keys)`,
    { key, ...(kekId ? { kekId } : {}) },
  );

/** A sealed value that fails authentication: its ciphertext was altered, or moved from another credential or version. */
export const credentialIntegrityFailed = (key: string, version: number) =>
  new DomainError(
    'CREDENTIAL_INTEGRITY',
    500,
    `credential ${key} version ${version} failed authentication; it was altered or moved`,
  );

export const generationUnsupported = (type: string) =>
  new DomainError('GENERATION_UNSUPPORTED', 400, `a ${type} cannot be generated; supply the new value`, { type });

/** The key provider cannot rotate the key-encryption key (a fixed MASTER_KEY, say). */
export const keyRotationUnavailable = (reason: string) => new DomainError('KEY_ROTATION_UNAVAILABLE', 409, reason);
