import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { type Sealed, newKey, open, seal } from './aead.ts';

export interface WrappedKey extends Sealed {
  kekId: string;
}

/**
 * Wraps and unwraps keys under key-encryption keys identified by id. This one
 * keeps them locally; a KMS or Vault-transit adapter implements the same port.
 */
export interface KeyProvider {
  readonly currentKekId: string;
  wrap(key: Buffer, context: string): Promise<WrappedKey>;
  unwrap(wrapped: WrappedKey, context: string): Promise<Buffer>;
  /** Makes a new key-encryption key current; earlier ones still unwrap until re-wrapped. */
  rotate(): Promise<string>;
  /** The key-encryption keys themselves, for a backup of the vault (sealed there under a passphrase). */
  exportRing(): KeyRing;
}

/** A key wrapped by a key-encryption key this provider does not hold. */
export class KeyEncryptionKeyMissing extends Error {
  constructor(readonly kekId: string) {
    super(`key-encryption key ${kekId} is not available`);
  }
}

export interface KeyRing {
  current: string;
  keys: Record<string, string>;
}

const idOf = (key: Buffer) => `kek-${createHash('sha256').update(key).digest('hex').slice(0, 16)}`;

/**
 * MASTER_KEY (32 bytes, base64) when given; otherwise a key ring file (mode
 * 0600) created on first use, which also holds keys made by rotation.
 */
export function localKeyProvider(options: { masterKey?: string; keyFile: string }): KeyProvider {
  const ring = loadRing(options);
  const keyOf = (id: string) => {
    const key = ring.keys[id];
    if (!key) throw new KeyEncryptionKeyMissing(id);
    return Buffer.from(key, 'base64');
  };
  return {
    get currentKekId() {
      return ring.current;
    },
    async wrap(key, context) {
      return { kekId: ring.current, ...seal(keyOf(ring.current), key, context) };
    },
    async unwrap(wrapped, context) {
      return open(keyOf(wrapped.kekId), wrapped, context);
    },
    async rotate() {
      if (options.masterKey)
        throw new Error(
          'with MASTER_KEY set, rotate by deploying a new key; rotation in place needs the key ring file',
        );
      const key = newKey();
      const id = idOf(key);
      ring.keys[id] = key.toString('base64');
      ring.current = id;
      saveRing(options.keyFile, ring);
      return id;
    },
    exportRing: () => structuredClone(ring),
  };
}

/** Where the key ring is kept, under the data directory's secrets. */
export const keyRingFile = (dataDir: string) => join(dataDir, 'secrets', 'master-keys.json');

/** The service's key provider: MASTER_KEY when set, else the key ring file under the data directory. */
export const keyProviderOf = (masterKey: string | undefined, dataDir: string) =>
  localKeyProvider({ masterKey, keyFile: keyRingFile(dataDir) });

/**
 * Puts a backed-up key ring in place: its keys join those of the ring file (a
 * new one when there is none), whose current key stays current if it has one.
 */
export function installKeyRing(file: string, ring: KeyRing): void {
  const existing = existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as KeyRing) : undefined;
  saveRing(file, { current: existing?.current ?? ring.current, keys: { ...ring.keys, ...existing?.keys } });
}

function loadRing(options: { masterKey?: string; keyFile: string }): KeyRing {
  if (options.masterKey) {
    const key = Buffer.from(options.masterKey, 'base64');
    if (key.length !== 32) throw new Error('MASTER_KEY must be 32 bytes, base64-encoded (openssl rand -base64 32)');
    return { current: idOf(key), keys: { [idOf(key)]: key.toString('base64') } };
  }
  if (existsSync(options.keyFile)) return JSON.parse(readFileSync(options.keyFile, 'utf8')) as KeyRing;
  const key = randomBytes(32);
  const ring = { current: idOf(key), keys: { [idOf(key)]: key.toString('base64') } };
  saveRing(options.keyFile, ring);
  return ring;
}

function saveRing(file: string, ring: KeyRing): void {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  writeFileSync(file, `${JSON.stringify(ring, null, 2)}\n`, { mode: 0o600 });
  chmodSync(file, 0o600);
}
