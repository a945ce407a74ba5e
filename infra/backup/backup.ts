import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { finished } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import type { EventStore } from '#infra/eventstore/port.ts';
import { BACKUP_FORMAT, BACKUP_VERSION, type BackupManifest, toLine } from './format.ts';

/**
 * Streams the log, up to the position it had when the backup started, into
 * `file`. Writes go on meanwhile; memory holds one page of events at a time.
 */
export async function createBackup(store: EventStore, file: string, source: string): Promise<BackupManifest> {
  const head = await store.headPosition();
  const gzip = createGzip();
  const output = createWriteStream(file, { mode: 0o600 });
  gzip.pipe(output);
  const write = async (line: string) => {
    if (!gzip.write(`${line}\n`)) await once(gzip, 'drain');
  };
  const hash = createHash('sha256');
  let eventCount = 0;
  let lastPosition = 0n;
  await write(JSON.stringify({ format: BACKUP_FORMAT, version: BACKUP_VERSION, startedAt: new Date().toISOString(), source }));
  for await (const event of store.readAll({ toPosition: head })) {
    const line = toLine(event);
    hash.update(`${line}\n`);
    await write(line);
    eventCount++;
    lastPosition = event.position;
  }
  const manifest: BackupManifest = { eventCount, lastPosition: Number(lastPosition), sha256: hash.digest('hex'), completedAt: new Date().toISOString() };
  await write(JSON.stringify({ manifest }));
  gzip.end();
  await finished(output);
  return manifest;
}
