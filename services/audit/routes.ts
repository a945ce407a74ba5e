import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { type OutsideEvidence, verifyChain } from '#projections/audit/chain.ts';
import { queryAudit } from '#projections/audit/queries.ts';
import { waitForPosition } from '#services/configuration/read.ts';
import { EnvironmentId, ok, PAGE, Position, ServiceId } from '#services/shared/http.ts';

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
    ...PAGE,
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
      const limit = q.limit ?? 100;
      const services = request.principal!.services;
      const entries = await queryAudit(ctx.db, {
        ...q,
        order: q.order ?? 'newest',
        limit,
        ...(services.includes('*') ? {} : { services }),
      });
      return ok({
        entries,
        nextCursor: entries.length === limit ? (entries[entries.length - 1]!.position as number) : null,
      });
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
