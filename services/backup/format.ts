import { scryptSync } from 'node:crypto';
import type { RecordedEvent } from '#infra/eventstore/port.ts';
import { DecryptionFailed, type Sealed, open, seal } from '#infra/crypto/aead.ts';
import type { KeyRing } from '#infra/crypto/key-provider.ts';
import type { ChainBreak } from '#projections/audit/chain.ts';

/**
 * A backup is gzip-compressed JSON lines: a header, one line per event in log
 * order, optionally the vault's keys (sealed under a passphrase), and a
 * manifest: count, last position, SHA-256 of every line between header and
 * manifest, what verifying the audit chain found while streaming, the chain
 * head, and an HMAC-SHA-256 signature (CHAIN_SIGNING_KEY) over header and
 * manifest. A file without its manifest was cut short; one whose hash differs
 * was altered; one whose signature fails was rewritten by someone without the key.
 */
export const BACKUP_FORMAT = 'configledger-backup';
export const BACKUP_VERSION = 2;

export interface BackupHeader {
  format: typeof BACKUP_FORMAT;
  version: number;
  startedAt: string;
  source: string;
  /** The log's epoch when it was backed up (0 for a log never restored). */
  epoch?: number;
}

/** What verifying the log's audit chain found while the backup streamed it. */
export interface BackupChain {
  intact: boolean;
  breakCount: number;
  firstBreak: number | null;
  breaks: ChainBreak[];
  /** The newest stored link compared: the chain head as the service kept it. */
  head: { position: number; hash: string };
  /** The chain recomputed over every event of the file, from the first. */
  logHead: { position: number; hash: string };
}

export interface BackupManifest {
  eventCount: number;
  lastPosition: number;
  /** SHA-256 over the lines between header and manifest (events, then the keys part), each with its newline. */
  sha256: string;
  completedAt: string;
  /** Version 2 on. */
  chain?: BackupChain;
  keys?: { credentialKeys: number; keyEncryptionKeys: number } | null;
  /** signJson(CHAIN_SIGNING_KEY, { header, manifest without signature }). */
  signature?: string;
}

export interface BackupEvent {
  id: string;
  stream: string;
  revision: string;
  position: string;
  type: string;
  data: Record<string, unknown>;
  metadata: Record<string, unknown>;
  recordedAt: string;
}

export const toLine = (event: RecordedEvent): string =>
  JSON.stringify({
    id: event.id,
    stream: event.streamName,
    revision: event.revision.toString(),
    position: event.position.toString(),
    type: event.type,
    data: event.data,
    metadata: event.metadata,
    recordedAt: event.recordedAt.toISOString(),
  } satisfies BackupEvent);

export const fromLine = (line: BackupEvent): RecordedEvent => ({
  id: line.id,
  streamName: line.stream,
  revision: BigInt(line.revision),
  position: BigInt(line.position),
  type: line.type,
  data: line.data,
  metadata: line.metadata,
  recordedAt: new Date(line.recordedAt),
});

/** The vault's keys: the key-encryption keys and every credential's wrapped key. */
export interface VaultKeys {
  ring: KeyRing;
  credentialKeys: { credential_key: string; kek_id: string; iv: string; ciphertext: string; tag: string }[];
}

/** The keys part, sealed (AES-256-GCM) under a key derived from a passphrase with scrypt. */
export interface SealedKeys extends Sealed {
  kdf: { name: 'scrypt'; salt: string; N: number; r: number; p: number };
}

const KEYS_CONTEXT = 'configledger-backup-keys';
const KDF = { N: 2 ** 15, r: 8, p: 1 };
const derive = (passphrase: string, kdf: SealedKeys['kdf']) =>
  scryptSync(passphrase, Buffer.from(kdf.salt, 'base64'), 32, {
    N: kdf.N,
    r: kdf.r,
    p: kdf.p,
    maxmem: 128 * kdf.N * kdf.r * 2,
  });

export function sealKeys(passphrase: string, keys: VaultKeys, salt: Buffer): SealedKeys {
  const kdf = { name: 'scrypt' as const, salt: salt.toString('base64'), ...KDF };
  return { kdf, ...seal(derive(passphrase, kdf), Buffer.from(JSON.stringify(keys)), KEYS_CONTEXT) };
}

export function openKeys(passphrase: string, sealed: SealedKeys): VaultKeys {
  try {
    return JSON.parse(open(derive(passphrase, sealed.kdf), sealed, KEYS_CONTEXT).toString('utf8')) as VaultKeys;
  } catch (error) {
    if (error instanceof DecryptionFailed)
      throw new BackupRefused(
        'the keys part does not open with this passphrase (BACKUP_KEYS_PASSPHRASE or --keys-passphrase-file)',
      );
    throw error;
  }
}

export class BackupRefused extends Error {}
