import type { EventStore, RecordedEvent } from '#infra/eventstore/port.ts';
import { validationFailed } from '#services/shared/errors.ts';
import { MAX_VERSION } from '#services/shared/http.ts';

export type PointInTime = { version: number } | { asOf: Date } | { atPosition: bigint };

export const eventAt = async (
  store: EventStore,
  stream: string,
  revision: bigint,
): Promise<RecordedEvent | undefined> => {
  for await (const event of store.readStream(stream, { fromRevision: revision, maxCount: 1 })) return event;
  return undefined;
};

/**
 * The stream's last event that still satisfies `before` (which must hold for
 * a prefix of the stream: time and position only grow with the revision), by
 * binary search: a configuration with 10,000 versions costs about 14 point reads.
 */
export async function lastEventBefore(
  store: EventStore,
  stream: string,
  before: (event: RecordedEvent) => boolean,
): Promise<RecordedEvent | undefined> {
  let newest: RecordedEvent | undefined;
  for await (const event of store.readStream(stream, { direction: 'backwards', maxCount: 1 })) newest = event;
  if (!newest) return undefined;
  if (before(newest)) return newest;
  const first = await eventAt(store, stream, 0n);
  if (!first || !before(first)) return undefined;
  let low = first;
  let high = newest.revision;
  while (high - low.revision > 1n) {
    const middle = await eventAt(store, stream, (low.revision + high) / 2n);
    if (middle && before(middle)) low = middle;
    else high = (low.revision + high) / 2n;
  }
  return low;
}

/** `7` is a version, anything else an RFC 3339 instant. */
export function parsePointInTime(value: string): PointInTime {
  if (/^\d+$/.test(value)) {
    const version = Number(value);
    if (version < 1 || version > MAX_VERSION) {
      throw validationFailed(
        [{ path: '', message: 'version out of range' }],
        `${value} is not a version (1 to ${MAX_VERSION})`,
      );
    }
    return { version };
  }
  const instant = new Date(value);
  if (Number.isNaN(instant.getTime()) || !/^\d{4}-\d{2}-\d{2}T/.test(value)) {
    throw validationFailed(
      [{ path: '', message: 'version or instant' }],
      `${value} is neither a version nor an RFC 3339 instant`,
    );
  }
  return { asOf: instant };
}
