import { randomBytes } from 'node:crypto';
import type { SealedSecret } from '#events/credentials.ts';
import { DecryptionFailed, newKey, open, seal } from '#infra/crypto/aead.ts';
import { type KeyProvider, KeyEncryptionKeyMissing, type WrappedKey } from '#infra/crypto/key-provider.ts';
import type { Database, SqlExecutor } from '#infra/postgres/database.ts';
import type { VaultKeys } from '#services/backup/format.ts';
import { credentialIntegrityFailed, credentialKeyMissing, generationUnsupported } from './errors.ts';

/**
 * The keys that are not in the log. Each credential has a key of its own,
 * kept here wrapped by the key-encryption key; it wraps the data key of every
 * version. Deleting that row is the crypto-shredding: the log keeps its
 * ciphertext and wrapped data keys, and nothing can open them any more.
 */
export const VAULT_SCHEMA = `
SELECT pg_advisory_xact_lock(4242003);
CREATE TABLE IF NOT EXISTS credential_keys (
  credential_key text PRIMARY KEY,
  kek_id         text NOT NULL,
  iv             text NOT NULL,
  ciphertext     text NOT NULL,
  tag            text NOT NULL,
  created_at     timestamptz NOT NULL DEFAULT now(),
  rewrapped_at   timestamptz
);`;

const keyContext = (credentialKey: string) => `credential-key:${credentialKey}`;
const dataKeyContext = (credentialKey: string, version: number) => `data-key:${credentialKey}#${version}`;
const valueContext = (credentialKey: string, version: number) => `value:${credentialKey}#${version}`;

type KeyRow = { kek_id: string; iv: string; ciphertext: string; tag: string };
const wrappedOf = (row: KeyRow): WrappedKey => ({
  kekId: row.kek_id,
  iv: row.iv,
  ciphertext: row.ciphertext,
  tag: row.tag,
});

export function createVault(db: Database, keys: KeyProvider) {
  async function credentialKey(credential: string, create: boolean): Promise<Buffer | undefined> {
    const select = () =>
      db.query<KeyRow>('SELECT kek_id, iv, ciphertext, tag FROM credential_keys WHERE credential_key = $1', [
        credential,
      ]);
    let row = (await select()).rows[0];
    if (!row && create) {
      const wrapped = await keys.wrap(newKey(), keyContext(credential));
      await db.query(
        'INSERT INTO credential_keys (credential_key, kek_id, iv, ciphertext, tag) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (credential_key) DO NOTHING',
        [credential, wrapped.kekId, wrapped.iv, wrapped.ciphertext, wrapped.tag],
      );
      row = (await select()).rows[0];
    }
    if (!row) return undefined;
    try {
      return await keys.unwrap(wrappedOf(row), keyContext(credential));
    } catch (error) {
      throw error instanceof KeyEncryptionKeyMissing ? credentialKeyMissing(credential, error.kekId) : error;
    }
  }

  return {
    migrate: () => db.exec(VAULT_SCHEMA),

    get currentKekId(): string {
      return keys.currentKekId;
    },

    rotateKeyEncryptionKey: () => keys.rotate(),

    /** Seals `value` as `version` of `credential`, under a fresh data key. */
    /** `create`: a credential stored anew gets a key; a new version of an existing one goes under its key, and a missing key is not silently replaced. */
    async seal(credential: string, version: number, value: string, create = true): Promise<SealedSecret> {
      const wrappingKey = await credentialKey(credential, create);
      if (!wrappingKey) throw credentialKeyMissing(credential);
      const dataKey = newKey();
      return {
        version,
        algorithm: 'AES-256-GCM',
        dataKey: seal(wrappingKey, dataKey, dataKeyContext(credential, version)),
        value: seal(dataKey, Buffer.from(value, 'utf8'), valueContext(credential, version)),
      };
    },

    async open(credential: string, secret: SealedSecret): Promise<string> {
      const wrappingKey = await credentialKey(credential, false);
      if (!wrappingKey) throw credentialKeyMissing(credential);
      try {
        const dataKey = open(wrappingKey, secret.dataKey, dataKeyContext(credential, secret.version));
        return open(dataKey, secret.value, valueContext(credential, secret.version)).toString('utf8');
      } catch (error) {
        throw error instanceof DecryptionFailed ? credentialIntegrityFailed(credential, secret.version) : error;
      }
    },

    /** Destroys the credential's key: every version becomes unreadable for good. */
    async shred(credential: string): Promise<void> {
      await db.query('DELETE FROM credential_keys WHERE credential_key = $1', [credential]);
    },

    /** Re-wraps every credential key under the current key-encryption key; values and the log are untouched. */
    async rewrapAll(): Promise<number> {
      const { rows } = await db.query<KeyRow & { credential_key: string }>(
        'SELECT credential_key, kek_id, iv, ciphertext, tag FROM credential_keys WHERE kek_id <> $1',
        [keys.currentKekId],
      );
      for (const row of rows) {
        const plain = await keys.unwrap(wrappedOf(row), keyContext(row.credential_key));
        const wrapped = await keys.wrap(plain, keyContext(row.credential_key));
        await db.query(
          'UPDATE credential_keys SET kek_id = $2, iv = $3, ciphertext = $4, tag = $5, rewrapped_at = now() WHERE credential_key = $1',
          [row.credential_key, wrapped.kekId, wrapped.iv, wrapped.ciphertext, wrapped.tag],
        );
      }
      return rows.length;
    },
  };
}

export type Vault = ReturnType<typeof createVault>;

/** Every credential's wrapped key, as stored (never unwrapped here), for a backup. */
export async function exportCredentialKeys(db: SqlExecutor): Promise<VaultKeys['credentialKeys']> {
  if (!(await db.query<{ t: string | null }>("SELECT to_regclass('credential_keys')::text AS t")).rows[0]?.t) return [];
  const { rows } = await db.query<VaultKeys['credentialKeys'][number]>(
    'SELECT credential_key, kek_id, iv, ciphertext, tag FROM credential_keys ORDER BY credential_key',
  );
  return rows;
}

/** Puts backed-up credential keys in place; a key already present is kept. */
export async function importCredentialKeys(db: Database, rows: VaultKeys['credentialKeys']): Promise<void> {
  await db.exec(VAULT_SCHEMA);
  await db.query(
    `INSERT INTO credential_keys (credential_key, kek_id, iv, ciphertext, tag)
     SELECT credential_key, kek_id, iv, ciphertext, tag FROM jsonb_to_recordset($1::jsonb) AS r(credential_key text, kek_id text, iv text, ciphertext text, tag text)
     ON CONFLICT (credential_key) DO NOTHING`,
    [JSON.stringify(rows)],
  );
}

/** A value generated for the credential's type, for rotation without a supplied value. */
export function generateValue(type: string): string {
  switch (type) {
    case 'api_key':
      return `clk_${randomBytes(32).toString('base64url')}`;
    case 'database_password':
      return generatePassword(32);
    case 'token':
      return randomBytes(32).toString('base64url');
    case 'private_key':
      // A 256-bit symmetric key, base64.
      return randomBytes(32).toString('base64');
    default:
      throw generationUnsupported(type);
  }
}

const CLASSES = ['ABCDEFGHJKLMNPQRSTUVWXYZ', 'abcdefghijkmnopqrstuvwxyz', '23456789', '!#%+-.:=@^_~'];

/** `length` characters drawn without bias, with at least one upper-case letter, lower-case letter, digit and symbol. */
export function generatePassword(length: number): string {
  const alphabet = CLASSES.join('');
  for (;;) {
    const bytes = randomBytes(length * 2);
    const chars: string[] = [];
    for (const byte of bytes) {
      if (byte >= Math.floor(256 / alphabet.length) * alphabet.length) continue;
      chars.push(alphabet[byte % alphabet.length]!);
      if (chars.length === length) break;
    }
    const password = chars.join('');
    if (password.length === length && CLASSES.every((set) => [...password].some((c) => set.includes(c))))
      return password;
  }
}
