import { createHash, randomUUID } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { access } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { createGunzip } from 'node:zlib';
import { LOG_STREAM, type LogRestored } from '#events/log.ts';
import type { EventStore } from '#infra/eventstore/port.ts';
import { jsonSignatureValid } from '#infra/crypto/signing.ts';
import { GENESIS, linkOf } from '#projections/audit/chain.ts';
import { recordEvents } from '#services/shared/command-handler.ts';
import {
  BACKUP_FORMAT,
  type BackupEvent,
  type BackupHeader,
  type BackupManifest,
  BackupRefused,
  type SealedKeys,
  type VaultKeys,
  fromLine,
  openKeys,
} from './format.ts';

type Line =
  | { kind: 'header'; header: BackupHeader }
  | { kind: 'event'; event: BackupEvent }
  | { kind: 'keys'; keys: SealedKeys }
  | { kind: 'manifest'; manifest: BackupManifest };

/** Every line of the file, told apart, with the raw text that the manifest's hash covers. */
async function* linesOf(file: string): AsyncGenerator<Line & { text: string }> {
  try {
    await access(file);
  } catch {
    throw new BackupRefused(`there is no backup at ${file}`);
  }
  const lines = createInterface({
    input: createReadStream(file).pipe(createGunzip()),
    crlfDelay: Number.POSITIVE_INFINITY,
  });
  let first = true;
  try {
    for await (const text of lines) {
      if (!text) continue;
      const parsed = JSON.parse(text) as Record<string, unknown>;
      if (first) {
        first = false;
        if (parsed.format !== BACKUP_FORMAT) throw new BackupRefused('not a configledger backup');
        yield { kind: 'header', header: parsed as unknown as BackupHeader, text };
      } else if (parsed.manifest) yield { kind: 'manifest', manifest: parsed.manifest as BackupManifest, text };
      else if (parsed.keys) yield { kind: 'keys', keys: parsed.keys as SealedKeys, text };
      else yield { kind: 'event', event: parsed as unknown as BackupEvent, text };
    }
  } catch (error) {
    if (error instanceof BackupRefused) throw error;
    throw new BackupRefused(
      `the backup cannot be read (${error instanceof Error ? error.message : String(error)}): it is truncated or not a backup`,
    );
  }
}

export interface VerifiedBackup {
  header: BackupHeader;
  manifest: BackupManifest;
  keys?: SealedKeys;
  /** Why the backup's history cannot be vouched for; empty when its chain verified and its signature holds. */
  chainProblems: string[];
}

/**
 * Reads the whole file: header, every line against the manifest's hash and
 * count (a mismatch refuses outright); then the proof: the signature over
 * header and manifest, what verifying the chain found at backup time, and (a
 * second pass) the chain recomputed over the file's events against the signed head.
 */
export async function verifyBackup(file: string, signingKey: string): Promise<VerifiedBackup> {
  let header: BackupHeader | undefined;
  let manifest: BackupManifest | undefined;
  let keys: SealedKeys | undefined;
  const hash = createHash('sha256');
  let count = 0;
  for await (const line of linesOf(file)) {
    if (manifest) throw new BackupRefused('the backup has lines after its manifest');
    if (line.kind === 'header') header = line.header;
    else if (line.kind === 'manifest') manifest = line.manifest;
    else {
      hash.update(`${line.text}\n`);
      if (line.kind === 'keys') keys = line.keys;
      else count++;
    }
  }
  if (!header) throw new BackupRefused('the backup is empty');
  if (!manifest) throw new BackupRefused('the backup has no manifest: it was cut short');
  if (manifest.eventCount !== count)
    throw new BackupRefused(`the manifest counts ${manifest.eventCount} events, the file holds ${count}`);
  if (manifest.sha256 !== hash.digest('hex'))
    throw new BackupRefused('the backup content does not match its manifest hash: it was altered');
  return { header, manifest, keys, chainProblems: await chainProblemsOf(file, header, manifest, signingKey) };
}

/** The proof, checked apart from the file's integrity: a second pass recomputes the chain to the signed head. */
async function chainProblemsOf(
  file: string,
  header: BackupHeader,
  manifest: BackupManifest,
  signingKey: string,
): Promise<string[]> {
  const { signature, ...unsigned } = manifest;
  const chain = manifest.chain;
  if (!chain || signature === undefined)
    return ['the backup carries no signed chain head (it was made by an older version)'];
  const problems: string[] = [];
  if (!jsonSignatureValid(signingKey, { header, manifest: unsigned }, signature)) {
    problems.push(
      'the manifest signature does not verify: the file was rewritten, or CHAIN_SIGNING_KEY is not the key it was signed with ' +
        "(set it to the source's: its CHAIN_SIGNING_KEY, or DATA_DIR/secrets/chain-signing-key there)",
    );
  }
  if (!chain.intact) {
    problems.push(
      `the log failed verification when it was backed up: ${chain.breakCount} break(s), the first at position ${chain.firstBreak}`,
    );
  }
  let computed = GENESIS;
  let atHead = chain.head.position === 0 ? GENESIS : undefined;
  for await (const line of linesOf(file)) {
    if (line.kind !== 'event') continue;
    computed = linkOf(computed, fromLine(line.event));
    if (Number(line.event.position) === chain.head.position) atHead = computed;
  }
  if (computed !== chain.logHead.hash)
    problems.push(
      "the events do not hash to the manifest's chain head: events were changed after the backup was signed",
    );
  else if (chain.intact && atHead !== chain.head.hash)
    problems.push(
      'the events do not hash to the chain head the service stored: the log differs from what its chain recorded',
    );
  return problems;
}

export interface RestoreOptions {
  signingKey: string;
  /** Restore only events recorded at or before this instant. */
  toTime?: Date;
  /** Restore only events up to this log position. */
  toPosition?: bigint;
  /** Restore a backup whose chain does not verify; the reason is recorded in the restored log. */
  acceptBrokenChain?: { reason: string };
  /** Who restores: recorded as the actor of the LogRestored event. */
  actor: string;
  /** Opens the keys part; `install` puts the keys in place. Without it, a keys part is left alone (and said so). */
  keys?: { passphrase: string; install(keys: VaultKeys): Promise<void> };
  onProgress?(restored: number): void;
}

export interface RestoreResult {
  restored: number;
  lastPosition: bigint;
  manifest: BackupManifest;
  epoch: number;
  keysRestored: boolean;
  chainProblems: string[];
  warnings: string[];
}

const WINDOW = 500;

/**
 * Verifies the file, then appends its events, in order, with their ids and
 * recorded times, into an empty store, and records the restore itself
 * (LogRestored: a new epoch, what was verified, an accepted broken chain with
 * its reason). Appends go out in windows of concurrent calls that the store
 * groups into shared commits, in call order.
 */
export async function restoreBackup(file: string, store: EventStore, options: RestoreOptions): Promise<RestoreResult> {
  const { header, manifest, keys, chainProblems } = await verifyBackup(file, options.signingKey);
  if (chainProblems.length > 0 && !options.acceptBrokenChain) {
    throw new BackupRefused(
      `the backup's history cannot be vouched for: ${chainProblems.join('; ')}. To restore it anyway, say why: --accept-broken-chain --reason "..." (recorded in the restored log)`,
    );
  }
  if ((await store.headPosition()) !== 0n)
    throw new BackupRefused('the target store is not empty; restore into a new one');
  const warnings: string[] = [];
  const vaultKeys = keys && options.keys ? openKeys(options.keys.passphrase, keys) : undefined;
  if (keys && !options.keys)
    warnings.push(
      'the backup holds the vault keys, but no passphrase was given (BACKUP_KEYS_PASSPHRASE or --keys-passphrase-file): credentials will answer CREDENTIAL_KEY_MISSING until they are restored',
    );
  if (!keys && options.keys)
    warnings.push('a keys passphrase was given, but the backup holds no keys (take it with backup --with-keys)');

  let restored = 0;
  let lastPosition = 0n;
  try {
    let window: Promise<unknown>[] = [];
    // Each stream continues from what was restored of it: a stream that lost an event (a broken log restored on
    // purpose) is restored without the hole, its events in their order.
    const revisions = new Map<string, bigint>();
    for await (const line of linesOf(file)) {
      if (line.kind !== 'event') continue;
      const event = line.event;
      if (options.toPosition !== undefined && BigInt(event.position) > options.toPosition) break;
      if (options.toTime && new Date(event.recordedAt) > options.toTime) break;
      const previous = revisions.get(event.stream);
      revisions.set(event.stream, (previous ?? -1n) + 1n);
      window.push(
        store.append(
          event.stream,
          [
            {
              id: event.id,
              type: event.type,
              data: event.data,
              metadata: event.metadata,
              recordedAt: new Date(event.recordedAt),
            },
          ],
          previous ?? 'no_stream',
        ),
      );
      restored++;
      lastPosition = BigInt(event.position);
      if (window.length >= WINDOW) {
        await Promise.all(window);
        window = [];
        options.onProgress?.(restored);
      }
    }
    await Promise.all(window);
  } catch (error) {
    throw new Error(
      `the restore stopped after writing up to ${restored} events (${error instanceof Error ? error.message : String(error)}): ` +
        'the target now holds part of the log; drop it, create a new empty database and restore again',
    );
  }
  if (vaultKeys) await options.keys!.install(vaultKeys);

  const epoch = Math.max(Date.now(), (header.epoch ?? 0) + 1);
  const chain = manifest.chain;
  const data: LogRestored['data'] = {
    epoch,
    backup: {
      source: header.source,
      startedAt: header.startedAt,
      completedAt: manifest.completedAt,
      sha256: manifest.sha256,
      eventCount: manifest.eventCount,
      lastPosition: manifest.lastPosition,
      epoch: header.epoch ?? 0,
    },
    restoredEvents: restored,
    ...(options.toTime ? { toTime: options.toTime.toISOString() } : {}),
    ...(options.toPosition !== undefined ? { toPosition: Number(options.toPosition) } : {}),
    chain: chain
      ? {
          intact: chain.intact && chainProblems.length === 0,
          breakCount: chain.breakCount,
          firstBreak: chain.firstBreak,
        }
      : { intact: false, breakCount: 0, firstBreak: null },
    ...(chainProblems.length > 0 ? { acceptedBrokenChain: { reason: options.acceptBrokenChain!.reason } } : {}),
    keysRestored: vaultKeys !== undefined,
  };
  await recordEvents(store, LOG_STREAM, [{ type: 'LogRestored', data }], {
    actor: options.actor,
    correlationId: randomUUID(),
    now: new Date(),
    ...(chainProblems.length > 0 ? { reason: options.acceptBrokenChain!.reason } : {}),
  });
  return { restored, lastPosition, manifest, epoch, keysRestored: vaultKeys !== undefined, chainProblems, warnings };
}

/** Puts a backup's vault keys in place after a restore made without them; the log is not touched. */
export async function restoreKeys(
  file: string,
  options: { signingKey: string; passphrase: string; install(keys: VaultKeys): Promise<void> },
): Promise<VaultKeys> {
  const { keys } = await verifyBackup(file, options.signingKey);
  if (!keys) throw new BackupRefused('the backup holds no keys (take it with backup --with-keys)');
  const vault = openKeys(options.passphrase, keys);
  await options.install(vault);
  return vault;
}
