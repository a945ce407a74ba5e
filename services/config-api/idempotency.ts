import { createHash, randomUUID } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Database, Row } from '#infra/postgres/database.ts';
import { canonicalJson } from '#infra/json/canonical.ts';
import { idempotencyKeyInProgress, idempotencyKeyReused, invalidIdempotencyKey } from './errors.ts';
import { ruleOf } from './permissions.ts';

declare module 'fastify' {
  interface FastifyRequest {
    /** The request's Idempotency-Key, scoped to its caller, method and target; its events' ids derive from it. */
    idempotencyScope?: string;
  }
}

export const IDEMPOTENCY_SCHEMA = `
CREATE TABLE IF NOT EXISTS idempotency_keys (
  scope       text PRIMARY KEY,
  fingerprint text NOT NULL,
  status      integer,
  response    text,
  etag        text,
  owner       text,
  lease_until timestamptz NOT NULL,
  expires_at  timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS idempotency_keys_expires ON idempotency_keys (expires_at);
ALTER TABLE idempotency_keys ADD COLUMN IF NOT EXISTS owner text;
`;

/** How long a request may hold its key before a retry may take over (its process died, say). */
const LEASE_SECONDS = 20;
const WRITE_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
/** The draft's structured-field string, or the bare token many clients send. */
const QUOTED = /^"([\x20\x21\x23-\x5b\x5d-\x7e]{1,255})"$/;
const BARE = /^[A-Za-z0-9._~:+/=-]{1,255}$/;

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

function keyOf(header: string | string[] | undefined): string | undefined {
  if (header === undefined) return undefined;
  const value = Array.isArray(header) ? header[0]! : header;
  const key = QUOTED.exec(value)?.[1] ?? (BARE.test(value) ? value : undefined);
  if (!key) throw invalidIdempotencyKey();
  return key;
}

interface StoredKey extends Row {
  fingerprint: string;
  status: number | null;
  response: string | null;
  etag: string | null;
}

/**
 * Idempotency-Key on every write (the IETF httpapi draft's semantics): a
 * repeat with the same key and body is answered with the first outcome
 * (`Idempotent-Replayed: true`) and appends nothing; the same key with another
 * body is 422 IDEMPOTENCY_KEY_REUSED; a repeat while the first is in flight is
 * 409 IDEMPOTENCY_KEY_IN_PROGRESS. A key is scoped to the caller, the method and
 * the target (path and query); bodies are compared in canonical JSON. Answers
 * are kept `ttlHours` in the database, so every instance and a restart know
 * them; and since the command's events take ids derived from the key, a repeat
 * whose first answer was lost (a crash, an OUTCOME_UNKNOWN) is recognised in
 * the log itself and never applied twice.
 */
export async function registerIdempotency(app: FastifyInstance, db: Database, ttlHours: number): Promise<void> {
  await db.exec(IDEMPOTENCY_SCHEMA);
  // This instance, and the keys whose requests it is handling now: a key it holds but no longer handles (its answer
  // was a 5xx it could not record, the database being away) is free for the retry at once, not after the lease.
  const instance = randomUUID();
  const inFlight = new Set<string>();
  const sweep = setInterval(
    () => void db.query('DELETE FROM idempotency_keys WHERE expires_at < now()').catch(() => undefined),
    3_600_000,
  );
  sweep.unref();
  app.addHook('onClose', async () => clearInterval(sweep));

  app.addHook('preHandler', async (request: FastifyRequest, reply: FastifyReply) => {
    if (!WRITE_METHODS.has(request.method) || !request.principal || !request.routeOptions.url) return;
    const rule = ruleOf(request.method, request.routeOptions.url);
    if (!rule || rule.permission === 'public') return;
    const key = keyOf(request.headers['idempotency-key']);
    if (!key) return;
    const scope = sha256(`${request.principal.subject}\u0000${request.method}\u0000${request.url}\u0000${key}`);
    const fingerprint = sha256(canonicalJson(request.body ?? null));
    // A request of this process holds (or is claiming) the key: in flight, whatever the database says yet.
    if (inFlight.has(scope)) throw idempotencyKeyInProgress();
    inFlight.add(scope);
    const { rows: claimed } = await db
      .query(
        `INSERT INTO idempotency_keys (scope, fingerprint, owner, lease_until, expires_at)
       VALUES ($1, $2, $5, now() + make_interval(secs => $3), now() + make_interval(hours => $4))
       ON CONFLICT (scope) DO UPDATE SET fingerprint = EXCLUDED.fingerprint, status = NULL, response = NULL, etag = NULL,
         owner = EXCLUDED.owner, lease_until = EXCLUDED.lease_until, expires_at = EXCLUDED.expires_at
       WHERE idempotency_keys.expires_at < now()
          OR (idempotency_keys.status IS NULL AND idempotency_keys.fingerprint = EXCLUDED.fingerprint
              AND (idempotency_keys.lease_until < now() OR idempotency_keys.owner = $5))
       RETURNING scope`,
        [scope, fingerprint, LEASE_SECONDS, ttlHours, instance],
      )
      .catch((error: unknown) => {
        inFlight.delete(scope);
        throw error;
      });
    if (claimed.length > 0) {
      request.idempotencyScope = scope;
      return;
    }
    inFlight.delete(scope);
    const { rows } = await db.query<StoredKey>(
      'SELECT fingerprint, status, response, etag FROM idempotency_keys WHERE scope = $1',
      [scope],
    );
    const stored = rows[0];
    if (!stored) throw idempotencyKeyInProgress();
    if (stored.fingerprint !== fingerprint) throw idempotencyKeyReused();
    if (stored.status === null) throw idempotencyKeyInProgress();
    if (stored.etag) reply.header('etag', stored.etag);
    return reply
      .status(stored.status)
      .header('idempotent-replayed', 'true')
      .type('application/json; charset=utf-8')
      .send(stored.response ?? '');
  });

  // The first answer is what a repeat gets; an answer that says nothing certain (5xx) frees the key for the retry.
  app.addHook('onSend', async (request, reply, payload) => {
    const scope = request.idempotencyScope;
    if (!scope) return payload;
    request.idempotencyScope = undefined;
    // Released only once the outcome is recorded (or the key freed): a repeat in between still finds it in flight.
    try {
      if (reply.statusCode >= 500) {
        await db
          .query('UPDATE idempotency_keys SET lease_until = now() WHERE scope = $1 AND status IS NULL', [scope])
          .catch(() => undefined);
        return payload;
      }
      const etag = reply.getHeader('etag');
      await db.query('UPDATE idempotency_keys SET status = $2, response = $3, etag = $4 WHERE scope = $1', [
        scope,
        reply.statusCode,
        typeof payload === 'string' ? payload : null,
        typeof etag === 'string' ? etag : null,
      ]);
      return payload;
    } finally {
      inFlight.delete(scope);
    }
  });
}
