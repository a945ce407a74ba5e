import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { createGunzip } from 'node:zlib';
import type { EventStore } from '#infra/eventstore/port.ts';
import { BACKUP_FORMAT, type BackupEvent, type BackupHeader, type BackupManifest, BackupRefused } from './format.ts';

async function* linesOf(file: string): AsyncGenerator<string> {
  const gunzip = createGunzip();
  const lines = createInterface({ input: createReadStream(file).pipe(gunzip), crlfDelay: Number.POSITIVE_INFINITY });
  try {
    for await (const line of lines) if (line) yield line;
  } catch (error) {
    throw new BackupRefused(`the backup cannot be read (${error instanceof Error ? error.message : String(error)}): it is truncated or not a backup`);
  }
}

/** Reads the whole file once: header, every event line against the manifest's hash and count. */
export async function verifyBackup(file: string): Promise<{ header: BackupHeader; manifest: BackupManifest }> {
  let header: BackupHeader | undefined;
  let manifest: BackupManifest | undefined;
  const hash = createHash('sha256');
  let count = 0;
  for await (const line of linesOf(file)) {
    if (manifest) throw new BackupRefused('the backup has lines after its manifest');
    const parsed = JSON.parse(line) as Partial<BackupHeader> & { manifest?: BackupManifest };
    if (!header) {
      if (parsed.format !== BACKUP_FORMAT) throw new BackupRefused('not a configledger backup');
      header = parsed as BackupHeader;
    } else if (parsed.manifest) manifest = parsed.manifest;
    else {
      hash.update(`${line}\n`);
      count++;
    }
  }
  if (!header) throw new BackupRefused('the backup is empty');
  if (!manifest) throw new BackupRefused('the backup has no manifest: it was cut short');
  if (manifest.eventCount !== count) throw new BackupRefused(`the manifest counts ${manifest.eventCount} events, the file holds ${count}`);
  if (manifest.sha256 !== hash.digest('hex')) throw new BackupRefused('the backup content does not match its manifest hash: it was altered');
  return { header, manifest };
}

export interface RestoreOptions {
  /** Restore only events recorded at or before this instant. */
  toTime?: Date;
  /** Restore only events up to this log position. */
  toPosition?: bigint;
  onProgress?(restored: number): void;
}

const WINDOW = 500;

/**
 * Verifies the file, then appends its events, in order and with their ids,
 * into an empty store. Appends go out in windows of concurrent calls that the
 * store groups into shared commits, in call order.
 */
export async function restoreBackup(file: string, store: EventStore, options: RestoreOptions = {}): Promise<{ restored: number; lastPosition: bigint; manifest: BackupManifest }> {
  const { manifest } = await verifyBackup(file);
  if ((await store.headPosition()) !== 0n) throw new BackupRefused('the target store is not empty; restore into a new one');
  let restored = 0;
  let lastPosition = 0n;
  let window: Promise<unknown>[] = [];
  let first = true;
  for await (const line of linesOf(file)) {
    if (first) {
      first = false;
      continue;
    }
    const parsed = JSON.parse(line) as BackupEvent & { manifest?: unknown };
    if (parsed.manifest) break;
    if (options.toPosition !== undefined && BigInt(parsed.position) > options.toPosition) break;
    if (options.toTime && new Date(parsed.recordedAt) > options.toTime) break;
    const revision = BigInt(parsed.revision);
    window.push(store.append(parsed.stream, [{ id: parsed.id, type: parsed.type, data: parsed.data, metadata: parsed.metadata }], revision === 0n ? 'no_stream' : revision - 1n));
    restored++;
    lastPosition = BigInt(parsed.position);
    if (window.length >= WINDOW) {
      await Promise.all(window);
      window = [];
      options.onProgress?.(restored);
    }
  }
  await Promise.all(window);
  return { restored, lastPosition, manifest };
}
