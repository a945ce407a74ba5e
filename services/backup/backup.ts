import { dirname } from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import type { EventStore } from '#infra/eventstore/port.ts';
import type { SqlExecutor } from '#infra/postgres/database.ts';
import { signJson } from '#infra/crypto/signing.ts';
import { readEpoch } from '#projections/log-epoch.ts';
import { ChainCheck, GENESIS, linkOf } from '#projections/audit/chain.ts';
import {
  BACKUP_FORMAT,
  BACKUP_VERSION,
  type BackupHeader,
  type BackupManifest,
  type VaultKeys,
  sealKeys,
  toLine,
  BackupRefused,
} from './format.ts';

export interface BackupOptions {
  /** Where the service keeps its read models: the audit chain is compared with the log as it streams. */
  chainDb: SqlExecutor;
  /** CHAIN_SIGNING_KEY: signs header and manifest, chain head included. */
  signingKey: string;
  source: string;
  /** The vault's keys, sealed under the passphrase into a part of their own. */
  keys?: { passphrase: string; vault: VaultKeys };
}

const REPORTED_BREAKS = 100;

/**
 * Streams the log, up to the position it had when the backup started, into
 * `file`, verifying the audit chain as it goes. Writes go on meanwhile; memory
 * holds one page of events at a time. A log that fails verification is still
 * backed up (it may be all there is), and the manifest says so: restoring it
 * then needs an operator's reason.
 */
export async function createBackup(store: EventStore, file: string, options: BackupOptions): Promise<BackupManifest> {
  const head = await store.headPosition();
  const check = await ChainCheck.begin(options.chainDb, { upTo: head });
  const header: BackupHeader = {
    format: BACKUP_FORMAT,
    version: BACKUP_VERSION,
    startedAt: new Date().toISOString(),
    source: options.source,
    epoch: await readEpoch(store),
  };
  const output = createWriteStream(file, { mode: 0o600 });
  // A path that cannot be written fails here, before the log is read, saying which.
  await once(output, 'open').catch((error: NodeJS.ErrnoException) => {
    const why =
      error.code === 'ENOENT'
        ? `the folder ${dirname(file)} does not exist: create it first`
        : error.code === 'EISDIR'
          ? `${file} is a folder: name a file in it`
          : error.code === 'EACCES'
            ? `no permission to write in ${dirname(file)}`
            : error.message;
    throw new BackupRefused(`cannot write the backup to ${file}: ${why}`);
  });
  const gzip = createGzip();
  const written = pipeline(gzip, output);
  let failed: unknown;
  written.catch((error: unknown) => (failed = error));
  const write = async (line: string) => {
    if (failed) throw failed;
    if (!gzip.write(`${line}\n`)) await Promise.race([once(gzip, 'drain'), written]);
  };
  const hash = createHash('sha256');
  let eventCount = 0;
  let logHead = { position: 0, hash: GENESIS };
  await write(JSON.stringify(header));
  for await (const event of store.readAll({ toPosition: head })) {
    const line = toLine(event);
    hash.update(`${line}\n`);
    await write(line);
    await check.event(event);
    logHead = { position: Number(event.position), hash: linkOf(logHead.hash, event) };
    eventCount++;
  }
  const verdict = await check.finish();
  let keys: BackupManifest['keys'] = null;
  if (options.keys) {
    const { vault, passphrase } = options.keys;
    const line = JSON.stringify({ keys: sealKeys(passphrase, vault, randomBytes(16)) });
    hash.update(`${line}\n`);
    await write(line);
    keys = { credentialKeys: vault.credentialKeys.length, keyEncryptionKeys: Object.keys(vault.ring.keys).length };
  }
  const unsigned: BackupManifest = {
    eventCount,
    lastPosition: logHead.position,
    sha256: hash.digest('hex'),
    completedAt: new Date().toISOString(),
    chain: {
      intact: verdict.intact,
      breakCount: verdict.breakCount,
      firstBreak: verdict.firstBreak,
      breaks: verdict.breaks.slice(0, REPORTED_BREAKS),
      head: verdict.head,
      logHead,
    },
    keys,
  };
  const manifest = { ...unsigned, signature: signJson(options.signingKey, { header, manifest: unsigned }) };
  await write(JSON.stringify({ manifest }));
  gzip.end();
  await written;
  return manifest;
}
