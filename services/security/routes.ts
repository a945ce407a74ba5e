import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { SECURITY_STREAM, tokenRevocationStream } from '#events/security.ts';
import { recordEvents } from '#services/shared/command-handler.ts';
import { ChangeReason, commandContext, ok } from '#services/shared/http.ts';
import { notLockedOut } from './errors.ts';

const tags = ['security'];

/**
 * An admin's ways to cut access short: revoke one JWT by its id, and lift a
 * lockout before it runs out (from any address, a locked one included). Both
 * are events: audited, and seen by every instance through the log.
 */
export const securityRoutes: FastifyPluginAsyncTypebox<{
  lockout: { lift(address: string): Promise<void>; lockedFor(address: string): Promise<number> };
}> = async (app, { lockout }) => {
  const { ctx } = app;

  app.post(
    '/tokens/revocations',
    {
      schema: {
        tags,
        summary: 'Revoke a JWT by its id (jti): refused on every instance from now on, its open sessions end',
        body: Type.Object(
          {
            // The ids this service gives its JWTs; a service token (clst_...) is revoked with DELETE /service-tokens/:id.
            jti: Type.String({
              format: 'uuid',
              description: "the JWT's jti claim (a UUID); service tokens are revoked with DELETE /service-tokens/:id",
            }),
            reason: Type.Optional(ChangeReason),
          },
          { additionalProperties: false },
        ),
      },
    },
    async (request, reply) => {
      const { jti, reason } = request.body;
      const revokedAt = new Date().toISOString();
      const position = await recordEvents(
        ctx.store,
        tokenRevocationStream(jti),
        [{ type: 'TokenRevoked', data: { jti, revokedAt } }],
        commandContext(request, reason),
      );
      // Refused by this instance from the moment this answers; the others as soon as they see the event.
      await ctx.readModels.runner.waitFor(position, ctx.readYourWritesTimeoutMs, 'seen');
      return reply.status(201).send(ok({ jti, revokedAt, position: Number(position) }));
    },
  );

  app.delete(
    '/lockouts/:address',
    {
      schema: {
        tags,
        summary: "Lift an address's lockout (an admin token is taken from any address, a locked one included)",
        params: Type.Object({ address: Type.String({ minLength: 2, maxLength: 45, pattern: '^[0-9A-Fa-f:.]+$' }) }),
        querystring: Type.Object({ reason: Type.Optional(ChangeReason) }, { additionalProperties: false }),
      },
    },
    async (request, reply) => {
      const { address } = request.params;
      if ((await lockout.lockedFor(address)) === 0) throw notLockedOut(address);
      await lockout.lift(address);
      await recordEvents(
        ctx.store,
        SECURITY_STREAM,
        [{ type: 'LockoutLifted', data: { sourceIp: address } }],
        commandContext(request, request.query.reason),
      );
      return reply.status(204).send();
    },
  );
};
