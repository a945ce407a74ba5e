import type { TokenRevoked } from '#events/security.ts';
import type { RecordedEvent } from '#infra/eventstore/port.ts';
import type { SqlExecutor } from '#infra/postgres/database.ts';
import { type Projection, actorOf, metadataOf } from '../projection.ts';

export const revocationsProjection: Projection = {
  name: 'token-revocations',
  async apply(tx, events) {
    const rows = events
      .filter((recorded) => recorded.type === 'TokenRevoked')
      .map((recorded) => ({
        jti: (recorded.data as TokenRevoked['data']).jti,
        revoked_at: (recorded.data as TokenRevoked['data']).revokedAt,
        revoked_by: actorOf(recorded),
        reason: metadataOf(recorded).reason ?? null,
        position: recorded.position.toString(),
      }));
    if (rows.length === 0) return;
    await tx.query(
      `INSERT INTO token_revocations (jti, revoked_at, revoked_by, reason, position)
       SELECT jti, revoked_at, revoked_by, reason, position
       FROM jsonb_to_recordset($1::jsonb) AS r(jti text, revoked_at timestamptz, revoked_by text, reason text, position bigint)
       ON CONFLICT (jti) DO NOTHING`,
      [JSON.stringify(rows)],
    );
  },
};

/** The revoked JWT ids, in memory: a revocation seen in the log is refused at once, on every instance. */
export class RevokedTokens {
  private readonly ids = new Set<string>();
  private readonly listeners = new Set<(jti: string) => void>();

  async load(db: SqlExecutor): Promise<void> {
    const { rows } = await db.query<{ jti: string }>('SELECT jti FROM token_revocations');
    for (const row of rows) this.ids.add(row.jti);
  }

  has(jti: string): boolean {
    return this.ids.has(jti);
  }

  /** Called with each JWT id as its revocation is seen. */
  onRevoked(listener: (jti: string) => void): void {
    this.listeners.add(listener);
  }

  applyEvents(events: RecordedEvent[]): void {
    for (const event of events) {
      if (event.type !== 'TokenRevoked') continue;
      const { jti } = event.data as TokenRevoked['data'];
      if (this.ids.has(jti)) continue;
      this.ids.add(jti);
      for (const listener of this.listeners) listener(jti);
    }
  }
}
