import { createHash } from 'node:crypto';
import type { ServiceTokenEvent, ServiceTokenIssued } from '#events/service-tokens.ts';
import type { Principal } from '#infra/auth/tokens.ts';
import type { RecordedEvent } from '#infra/eventstore/port.ts';
import type { SqlExecutor } from '#infra/postgres/database.ts';
import { parseEvent } from '#events/parse.ts';
import { type Projection, actorOf } from '../projection.ts';

export interface ServiceTokenEntry extends Omit<ServiceTokenIssued['data'], 'tokenHash'> {
  revokedAt?: string;
}

const TYPES = new Set(['ServiceTokenIssued', 'ServiceTokenRevoked']);

export const SERVICE_TOKEN_PREFIX = 'clst_';
export const hashServiceToken = (token: string) => createHash('sha256').update(token).digest('hex');

/** A service principal: it reads only its own service (and the credentials granted to it). */
export const servicePrincipal = (serviceId: string): Principal => ({
  subject: serviceId,
  roles: ['service'],
  services: [serviceId],
});

export const serviceTokensProjection: Projection = {
  name: 'service-tokens',
  async apply(tx, events) {
    for (const recorded of events) {
      if (!TYPES.has(recorded.type)) continue;
      const event = parseEvent<ServiceTokenEvent>(recorded);
      if (event.type === 'ServiceTokenIssued') {
        const d = event.data;
        await tx.query(
          `INSERT INTO service_tokens (id, service_id, token_hash, description, issued_at, issued_by, expires_at, position)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (id) DO NOTHING`,
          [
            d.id,
            d.serviceId,
            d.tokenHash,
            d.description ?? null,
            d.issuedAt,
            actorOf(recorded),
            d.expiresAt ?? null,
            recorded.position.toString(),
          ],
        );
      } else {
        await tx.query(
          'UPDATE service_tokens SET revoked_at = $2, position = $3 WHERE id = $1 AND revoked_at IS NULL',
          [event.data.id, event.data.revokedAt, recorded.position.toString()],
        );
      }
    }
  },
};

/** Every service token by hash, in memory, so authentication costs no query and a revocation applies at once. */
export class ServiceTokenDirectory {
  private readonly byHash = new Map<string, ServiceTokenEntry>();
  private readonly hashById = new Map<string, string>();
  private readonly revocationListeners: ((entry: ServiceTokenEntry) => void)[] = [];

  /** Called for each revocation this process sees in the log, so sessions opened with the token can end. */
  onRevoked(listener: (entry: ServiceTokenEntry) => void): void {
    this.revocationListeners.push(listener);
  }

  async load(db: SqlExecutor): Promise<void> {
    const { rows } = await db.query<{
      id: string;
      service_id: string;
      token_hash: string;
      description: string | null;
      issued_at: Date | string;
      expires_at: Date | string | null;
      revoked_at: Date | string | null;
    }>('SELECT id, service_id, token_hash, description, issued_at, expires_at, revoked_at FROM service_tokens');
    for (const row of rows) {
      this.put(row.token_hash, {
        id: row.id,
        serviceId: row.service_id,
        issuedAt: new Date(row.issued_at).toISOString(),
        ...(row.description !== null ? { description: row.description } : {}),
        ...(row.expires_at !== null ? { expiresAt: new Date(row.expires_at).toISOString() } : {}),
        ...(row.revoked_at !== null ? { revokedAt: new Date(row.revoked_at).toISOString() } : {}),
      });
    }
  }

  applyEvents(events: RecordedEvent[]): void {
    for (const recorded of events) {
      if (!TYPES.has(recorded.type)) continue;
      const event = parseEvent<ServiceTokenEvent>(recorded);
      if (event.type === 'ServiceTokenIssued') {
        const { tokenHash, ...entry } = event.data;
        this.put(tokenHash, entry);
      } else {
        const hash = this.hashById.get(event.data.id);
        const entry = hash && this.byHash.get(hash);
        if (entry && !entry.revokedAt) {
          entry.revokedAt = event.data.revokedAt;
          for (const listener of this.revocationListeners) listener(entry);
        }
      }
    }
  }

  /** The live token with this hash: not revoked, not expired. */
  valid(hash: string, now = Date.now()): ServiceTokenEntry | undefined {
    const entry = this.byHash.get(hash);
    if (!entry || entry.revokedAt || (entry.expiresAt && Date.parse(entry.expiresAt) <= now)) return undefined;
    return entry;
  }

  /** Whether the token is one this service issued, live or not. */
  knows(token: string): boolean {
    return this.byHash.has(hashServiceToken(token));
  }

  /** The principal a live service token stands for, whoever presents it (HTTP header or WebSocket). */
  principalFor(token: string): Principal | undefined {
    const entry = this.valid(hashServiceToken(token));
    if (!entry) return undefined;
    return {
      ...servicePrincipal(entry.serviceId),
      credential: { kind: 'service-token', id: entry.id },
      ...(entry.expiresAt ? { expiresAt: Date.parse(entry.expiresAt) } : {}),
    };
  }

  get(id: string): ServiceTokenEntry | undefined {
    const hash = this.hashById.get(id);
    return hash === undefined ? undefined : this.byHash.get(hash);
  }

  list(): ServiceTokenEntry[] {
    return [...this.byHash.values()].sort((a, b) => a.issuedAt.localeCompare(b.issuedAt));
  }

  private put(hash: string, entry: ServiceTokenEntry): void {
    this.byHash.set(hash, entry);
    this.hashById.set(entry.id, hash);
  }
}
