import type { EventStore, RecordedEvent } from '#infra/eventstore/port.ts';
import type { SqlExecutor } from '#infra/postgres/database.ts';
import { canonicalJson, sha256Hex } from '#services/shared/canonical.ts';
import type { Projection } from '../projection.ts';

/**
 * Tamper evidence: a hash chain over the global order of events. Each link is
 * SHA-256 of the previous link and the event's canonical bytes (id, stream,
 * revision, type, data, metadata, time). Links are only ever added, never
 * rewritten, also when the read models are rebuilt: a log edited afterwards no
 * longer matches them.
 */
export const AUDIT_CHAIN_SCHEMA = `
SELECT pg_advisory_xact_lock(4242004);
CREATE TABLE IF NOT EXISTS audit_chain (
  position bigint PRIMARY KEY,
  event_id uuid NOT NULL,
  hash     char(64) NOT NULL
);`;

const GENESIS = '0'.repeat(64);

export function linkOf(previous: string, event: RecordedEvent): string {
  const bytes = canonicalJson({
    id: event.id,
    stream: event.streamName,
    revision: event.revision.toString(),
    type: event.type,
    data: event.data,
    metadata: event.metadata,
    recordedAt: event.recordedAt.toISOString(),
  });
  return sha256Hex(`${previous}\n${bytes}`);
}

export const auditChainProjection: Projection = {
  name: 'audit-chain',
  async apply(tx, events) {
    const { rows } = await tx.query<{ hash: string }>('SELECT hash FROM audit_chain WHERE position < $1 ORDER BY position DESC LIMIT 1', [
      events[0]!.position.toString(),
    ]);
    let previous = rows[0]?.hash ?? GENESIS;
    const links = events.map((event) => {
      previous = linkOf(previous, event);
      return { position: event.position.toString(), event_id: event.id, hash: previous };
    });
    await tx.query(
      `INSERT INTO audit_chain (position, event_id, hash)
       SELECT position, event_id, hash FROM jsonb_to_recordset($1::jsonb) AS r(position bigint, event_id uuid, hash text)
       ON CONFLICT (position) DO NOTHING`,
      [JSON.stringify(links)],
    );
  },
};

export interface ChainVerdict {
  intact: boolean;
  checkedEvents: number;
  /** The first position whose event no longer matches its link (or has none). */
  brokenAt?: number;
  reason?: string;
  lastPosition: number;
}

/** Recomputes the chain from the log and compares it with the stored links, link by link. */
export async function verifyChain(store: EventStore, db: SqlExecutor, pageSize = 5000): Promise<ChainVerdict> {
  let previous = GENESIS;
  let checked = 0;
  let lastPosition = 0n;
  let stored: { position: string; hash: string }[] = [];
  let index = 0;
  const nextStored = async () => {
    if (index >= stored.length) {
      ({ rows: stored } = await db.query<{ position: string; hash: string }>(
        'SELECT position::text AS position, hash FROM audit_chain WHERE audit_chain.position > $1 ORDER BY audit_chain.position LIMIT $2',
        [lastPosition.toString(), pageSize],
      ));
      index = 0;
    }
    return stored[index++];
  };
  for await (const event of store.readAll()) {
    const link = await nextStored();
    if (!link) return { intact: true, checkedEvents: checked, lastPosition: Number(lastPosition) };
    if (BigInt(link.position) !== event.position) {
      return { intact: false, checkedEvents: checked, brokenAt: Number(event.position), reason: `no link for position ${event.position}`, lastPosition: Number(lastPosition) };
    }
    previous = linkOf(previous, event);
    if (previous !== link.hash) {
      return { intact: false, checkedEvents: checked, brokenAt: Number(event.position), reason: 'the event differs from what was chained', lastPosition: Number(lastPosition) };
    }
    checked++;
    lastPosition = event.position;
  }
  const extra = await nextStored();
  if (extra) return { intact: false, checkedEvents: checked, brokenAt: Number(extra.position), reason: 'a chained event is missing from the log', lastPosition: Number(lastPosition) };
  return { intact: true, checkedEvents: checked, lastPosition: Number(lastPosition) };
}
