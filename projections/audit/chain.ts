import type { LogRestored } from '#events/log.ts';
import type { EventStore, RecordedEvent } from '#infra/eventstore/port.ts';
import type { SqlExecutor } from '#infra/postgres/database.ts';
import { canonicalJson, sha256Hex } from '#infra/json/canonical.ts';
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
    const { rows } = await tx.query<{ hash: string }>(
      'SELECT hash FROM audit_chain WHERE position < $1 ORDER BY position DESC LIMIT 1',
      [events[0]!.position.toString()],
    );
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
  /**
   * Restores that accepted a history they could not vouch for (an operator's reason, recorded in the log):
   * the chain since is intact, what came before it was not proven.
   */
  caveats: { position: number; reason: string }[];
  /** What the signed heads kept outside the database said, when they were asked. */
  checkpoint?: {
    source: string;
    found: boolean;
    position?: number;
    signedAt?: string;
    matches?: boolean;
    newerEpoch?: number;
    note?: string;
  };
}

/** Signed chain heads kept outside the database (the Kafka topic, a backup manifest), checked against our key already. */
export interface OutsideEvidence {
  source: string;
  /** The newest head signed for the log's own epoch. */
  head?: { position: number; hash: string; signedAt: string };
  /** A head signed for a later epoch than the log's: a record of a restore was removed. */
  newerEpoch?: number;
  /** A head that claims to be ours but whose signature fails. */
  forged?: boolean;
  note?: string;
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
  private readonly verdict: ChainVerdict = {
    intact: true,
    checkedEvents: 0,
    firstBreak: null,
    breakCount: 0,
    breaks: [],
    caveats: [],
    head: { position: 0, hash: GENESIS },
  };

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
    return new ChainCheck(
      db,
      options.upTo !== undefined && options.upTo < newest ? options.upTo : newest,
      options.pageSize ?? 5000,
    );
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
    const accepted =
      event.type === 'LogRestored' ? (event.data as Partial<LogRestored['data']>).acceptedBrokenChain : undefined;
    if (accepted) {
      this.verdict.caveats.push({
        position: Number(event.position),
        reason: `restored from a backup whose history could not be vouched for, accepted by ${String(event.metadata.actor)}: ${accepted.reason}`,
      });
    }
    let link = await this.peek();
    while (link && link.position < event.position) {
      this.report(
        link.position,
        'missing',
        `the event chained at position ${link.position} (${link.eventId}) is missing from the log`,
      );
      this.resume(link);
      this.index++;
      link = await this.peek();
    }
    if (!link || link.position > event.position) {
      this.report(
        event.position,
        'unchained',
        `no link for position ${event.position}: the chain never saw this event`,
      );
      return;
    }
    this.index++;
    const computed = this.candidates.map((previous) => linkOf(previous, event));
    this.verdict.checkedEvents++;
    if (computed.includes(link.hash)) this.resume(link);
    else {
      const reason =
        link.eventId === event.id
          ? 'the event differs from what was chained'
          : `another event holds this position (${link.eventId} was chained here)`;
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
  async finish(evidence?: OutsideEvidence): Promise<ChainVerdict> {
    for (let link = await this.peek(); link; link = await this.peek()) {
      this.report(
        link.position,
        'missing',
        `the event chained at position ${link.position} (${link.eventId}) is missing from the log`,
      );
      this.resume(link);
      this.index++;
    }
    if (evidence) {
      const { source, head, newerEpoch, forged, note } = evidence;
      const found = head !== undefined;
      let matches: boolean | undefined;
      if (head) {
        const { rows } = await this.db.query<{ hash: string }>(
          'SELECT hash FROM audit_chain WHERE audit_chain.position = $1',
          [head.position],
        );
        matches = rows[0]?.hash === head.hash;
        if (!matches) {
          this.report(
            BigInt(head.position),
            'checkpoint',
            `the chain at position ${head.position} differs from the head signed at ${head.signedAt} and kept in ${source}: the log and its chain were rewritten`,
          );
        }
      }
      if (forged)
        this.report(
          this.upToPosition,
          'checkpoint',
          `the head in ${source} does not carry a valid signature: it was forged, or CHAIN_SIGNING_KEY is not the one it was signed with`,
        );
      if (newerEpoch !== undefined) {
        this.report(
          this.upToPosition,
          'checkpoint',
          `${source} holds a head signed for epoch ${newerEpoch}, later than this log's: the record of a restore (LogRestored) was removed`,
        );
      }
      this.verdict.checkpoint = {
        source,
        found,
        ...(head ? { position: head.position, signedAt: head.signedAt, matches } : {}),
        ...(newerEpoch !== undefined ? { newerEpoch } : {}),
        ...(note ? { note } : {}),
      };
    }
    return this.verdict;
  }
}

/** Recomputes the chain from the log and compares it with the stored links, link by link, and with a signed head from outside when given. */
export async function verifyChain(
  store: EventStore,
  db: SqlExecutor,
  evidence?: OutsideEvidence,
): Promise<ChainVerdict> {
  const check = await ChainCheck.begin(db);
  for await (const event of store.readAll({ toPosition: check.upToPosition })) await check.event(event);
  return check.finish(evidence);
}
