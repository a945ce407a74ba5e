import type { RecordedEvent } from '#infra/eventstore/port.ts';

/**
 * A backup is gzip-compressed JSON lines: a header, one line per event in log
 * order, and a manifest (count, last position, SHA-256 of the event lines). A
 * file without its manifest was cut short; one whose hash differs was altered.
 */
export const BACKUP_FORMAT = 'configledger-backup';
export const BACKUP_VERSION = 1;

export interface BackupHeader {
  format: typeof BACKUP_FORMAT;
  version: number;
  startedAt: string;
  source: string;
}

export interface BackupManifest {
  eventCount: number;
  lastPosition: number;
  /** SHA-256 over the event lines, each with its newline. */
  sha256: string;
  completedAt: string;
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

export class BackupRefused extends Error {}
