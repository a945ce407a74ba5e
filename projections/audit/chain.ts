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

export const GENESIS = '0'.repeat(64);

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

export interface ChainBreak {
  position: number;
  /**
   * altered: the event differs from what was chained; missing: a chained event is gone from the log;
   * unchained: an event the chain never saw; checkpoint: the chain differs from a signed head kept outside the database.
   */
  kind: 'altered' | 'missing' | 'unchained' | 'checkpoint';
  reason: string;
}

export interface ChainVerdict {
  intact: boolean;
  /** Events compared with their links. */
  checkedEvents: number;
  /** The position of the first break, null when intact. */
  firstBreak: number | null;
  breakCount: number;
  /** Every break in log order (the first MAX_REPORTED when there are more). */
  breaks: ChainBreak[];
  /** The newest link compared: the chain head as stored, which a signed checkpoint can vouch for. */
  head: { position: number; hash: string };
  /** The signed head kept outside the database that the chain was compared with, when one was given. */
  checkpoint?: { source: string; position: number; signedAt: string; matches: boolean };
}

/** A signed chain head from outside the database (the Kafka topic, a backup manifest) to hold the chain to. */
export interface OutsideCheckpoint {
  source: string;
  position: number;
  hash: string;
  signedAt: string;
  /** Whether its signature verified under CHAIN_SIGNING_KEY. */
  signatureValid: boolean;
}

const MAX_REPORTED = 1000;

/**
 * Compares events, in log order, with the stored links: every break is
 * reported, and the comparison resumes after it (from the stored link, or from
 * the recomputed one when it is the link that was edited), so tampering
 * further on is never hidden behind an earlier break. Events after the newest
 * link are not yet chained (the projection follows the log) and not a break.
 */
export class ChainCheck {
  private candidates = [GENESIS];
  private links: { position: bigint; eventId: string; hash: string }[] = [];
  private index = 0;
  private exhausted = false;
  private fetchedTo = 0n;
  private readonly verdict: ChainVerdict = { intact: true, checkedEvents: 0, firstBreak: null, breakCount: 0, breaks: [], head: { position: 0, hash: GENESIS } };

  private constructor(
    private readonly db: SqlExecutor,
    /** The newest link when the check began: links added meanwhile are for events after it. */
    readonly upToPosition: bigint,
    private readonly pageSize: number,
  ) {}

  /** Up to the newest link now (and at most `upTo`); without an audit chain table, nothing is chained yet. */
  static async begin(db: SqlExecutor, options: { upTo?: bigint; pageSize?: number } = {}): Promise<ChainCheck> {
    const { rows } = await db.query<{ position: string | null }>(
      "SELECT CASE WHEN to_regclass('audit_chain') IS NULL THEN NULL ELSE (SELECT max(position)::text FROM audit_chain) END AS position",
    );
    const newest = BigInt(rows[0]?.position ?? 0);
    return new ChainCheck(db, options.upTo !== undefined && options.upTo < newest ? options.upTo : newest, options.pageSize ?? 5000);
  }

  private async peek() {
    if (this.index >= this.links.length && !this.exhausted && this.upToPosition > 0n) {
      const { rows } = await this.db.query<{ position: string; event_id: string; hash: string }>(
        'SELECT position::text AS position, event_id::text AS event_id, hash FROM audit_chain WHERE audit_chain.position > $1 AND audit_chain.position <= $2 ORDER BY audit_chain.position LIMIT $3',
        [this.fetchedTo.toString(), this.upToPosition.toString(), this.pageSize],
      );
      this.links = rows.map((row) => ({ position: BigInt(row.position), eventId: row.event_id, hash: row.hash }));
      this.index = 0;
      this.exhausted = rows.length < this.pageSize;
      if (rows.length > 0) this.fetchedTo = this.links[this.links.length - 1]!.position;
    }
    return this.links[this.index];
  }

  private report(position: bigint, kind: ChainBreak['kind'], reason: string) {
    const verdict = this.verdict;
    verdict.intact = false;
    verdict.firstBreak ??= Number(position);
    verdict.breakCount++;
    if (verdict.breaks.length < MAX_REPORTED) verdict.breaks.push({ position: Number(position), kind, reason });
  }

  private resume(link: { position: bigint; hash: string }, ...alternatives: string[]) {
    this.candidates = [link.hash, ...alternatives];
    this.verdict.head = { position: Number(link.position), hash: link.hash };
  }

  /** The next event of the log, in order. */
  async event(event: RecordedEvent): Promise<void> {
    if (event.position > this.upToPosition) return;
    let link = await this.peek();
    while (link && link.position < event.position) {
      this.report(link.position, 'missing', `the event chained at position ${link.position} (${link.eventId}) is missing from the log`);
      this.resume(link);
      this.index++;
      link = await this.peek();
    }
    if (!link || link.position > event.position) {
      this.report(event.position, 'unchained', `no link for position ${event.position}: the chain never saw this event`);
      return;
    }
    this.index++;
    const computed = this.candidates.map((previous) => linkOf(previous, event));
    this.verdict.checkedEvents++;
    if (computed.includes(link.hash)) this.resume(link);
    else {
      const reason = link.eventId === event.id ? 'the event differs from what was chained' : `another event holds this position (${link.eventId} was chained here)`;
      this.report(event.position, 'altered', reason);
      this.resume(link, computed[0]!);
    }
  }

  /**
   * Links left over once the log has ended are events missing from it. With
   * a checkpoint, the stored link at its position must be the signed hash:
   * a log edited together with its chain table passes the link-by-link
   * comparison, not this one.
   */
  async finish(checkpoint?: OutsideCheckpoint): Promise<ChainVerdict> {
    for (let link = await this.peek(); link; link = await this.peek()) {
      this.report(link.position, 'missing', `the event chained at position ${link.position} (${link.eventId}) is missing from the log`);
      this.resume(link);
      this.index++;
    }
    if (checkpoint) {
      const { rows } = await this.db.query<{ hash: string }>('SELECT hash FROM audit_chain WHERE audit_chain.position = $1', [checkpoint.position]);
      const matches = checkpoint.signatureValid && rows[0]?.hash === checkpoint.hash;
      this.verdict.checkpoint = { source: checkpoint.source, position: checkpoint.position, signedAt: checkpoint.signedAt, matches };
      if (!checkpoint.signatureValid) {
        this.report(BigInt(checkpoint.position), 'checkpoint', `the checkpoint from ${checkpoint.source} does not carry a valid signature (CHAIN_SIGNING_KEY differs, or it was forged)`);
      } else if (!matches) {
        this.report(
          BigInt(checkpoint.position),
          'checkpoint',
          `the chain at position ${checkpoint.position} differs from the head signed at ${checkpoint.signedAt} and kept in ${checkpoint.source}: the log and its chain were rewritten`,
        );
      }
    }
    return this.verdict;
  }
}

/** Recomputes the chain from the log and compares it with the stored links, link by link, and with a signed head from outside when given. */
export async function verifyChain(store: EventStore, db: SqlExecutor, checkpoint?: OutsideCheckpoint): Promise<ChainVerdict> {
  const check = await ChainCheck.begin(db);
  for await (const event of store.readAll({ toPosition: check.upToPosition })) await check.event(event);
  return check.finish(checkpoint);
}
