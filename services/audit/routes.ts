import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { type OutsideEvidence, verifyChain } from '#projections/audit/chain.ts';
import { waitForPosition } from '#services/configuration/read.ts';
import { EnvironmentId, Position, ServiceId, ok } from '#services/shared/http.ts';

const tags = ['audit'];
const AuditQuery = Type.Object(
  {
    serviceId: Type.Optional(ServiceId),
    environment: Type.Optional(EnvironmentId),
    actor: Type.Optional(Type.String({ maxLength: 200 })),
    eventType: Type.Optional(Type.String({ pattern: '^[A-Za-z]{1,100}$' })),
    since: Type.Optional(Type.String({ format: 'date-time' })),
    until: Type.Optional(Type.String({ format: 'date-time' })),
    order: Type.Optional(Type.Union([Type.Literal('newest'), Type.Literal('oldest')], { default: 'newest' })),
    cursor: Type.Optional(
      Type.Integer({
        minimum: 0,
        maximum: Number.MAX_SAFE_INTEGER,
        description: 'the nextCursor of the previous page',
      }),
    ),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 100 })),
    minPosition: Type.Optional(Position),
  },
  { additionalProperties: false },
);

export const auditRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { ctx } = app;

  app.get(
    '/audit',
    { schema: { tags, summary: 'Every recorded operation, filtered, paged by log position', querystring: AuditQuery } },
    async (request) => {
      const q = request.query;
      await waitForPosition(ctx, q.minPosition);
      const newest = (q.order ?? 'newest') === 'newest';
      const limit = q.limit ?? 100;
      const services = request.principal!.services;
      const { rows } = await ctx.db.query<Record<string, unknown> & { position: string }>(
        `SELECT position, event_id AS "eventId", event_type AS "eventType", stream_name AS "streamName", service_id AS "serviceId",
                environment, actor, correlation_id AS "correlationId", reason, source_ip AS "sourceIp", summary, occurred_at AS "occurredAt"
         FROM audit_log
         WHERE ($1::text IS NULL OR service_id = $1 OR $1 = ANY(affected_services)) AND ($2::text IS NULL OR environment = $2) AND ($3::text IS NULL OR actor = $3)
           AND ($4::text IS NULL OR event_type = $4) AND ($5::timestamptz IS NULL OR occurred_at >= $5) AND ($6::timestamptz IS NULL OR occurred_at < $6)
           AND ($7::bigint IS NULL OR position ${newest ? '<' : '>'} $7)
           AND ($8::text[] IS NULL OR service_id = ANY($8) OR affected_services && $8)
         ORDER BY position ${newest ? 'DESC' : 'ASC'} LIMIT $9`,
        [
          q.serviceId ?? null,
          q.environment ?? null,
          q.actor ?? null,
          q.eventType ?? null,
          q.since ?? null,
          q.until ?? null,
          q.cursor ?? null,
          services.includes('*') ? null : services,
          limit,
        ],
      );
      const entries = rows.map((row) => ({ ...row, position: Number(row.position) }));
      return ok({ entries, nextCursor: entries.length === limit ? entries[entries.length - 1]!.position : null });
    },
  );

  app.get(
    '/audit/verify',
    {
      schema: {
        tags,
        summary:
          'Recompute the hash chain over the log and report every break; with Kafka, also hold it to the newest signed checkpoint kept there',
      },
    },
    async (request) => {
      let checkpoint: OutsideEvidence | undefined;
      let checkpointUnavailable: string | undefined;
      try {
        checkpoint = await app.chainCheckpoints?.();
      } catch (error) {
        checkpointUnavailable = error instanceof Error ? error.message : String(error);
        request.log.warn({ err: error }, 'the chain checkpoint on Kafka could not be read; verifying without it');
      }
      return ok({
        ...(await verifyChain(ctx.store, ctx.db, checkpoint)),
        ...(checkpointUnavailable ? { checkpointUnavailable } : {}),
      });
    },
  );
};
