import { randomBytes } from 'node:crypto';
import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { serviceTokenStream } from '#events/service-tokens.ts';
import { ServiceId, commandContext, ok } from '#services/shared/http.ts';
import { serviceTokenDecider } from './decider.ts';
import { inScope, requireScope } from '#services/config-api/permissions.ts';
import { SERVICE_TOKEN_PREFIX, hashServiceToken } from '#projections/service-tokens/directory.ts';

const tags = ['service tokens'];

export const serviceTokenRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { ctx } = app;

  app.post(
    '/service-tokens',
    {
      schema: {
        tags,
        summary: 'Issue a service token (X-Service-Token); it is shown once, only its hash is kept',
        body: Type.Object(
          {
            serviceId: ServiceId,
            description: Type.Optional(Type.String({ maxLength: 500 })),
            expiresInDays: Type.Optional(Type.Integer({ minimum: 1, maximum: 3650 })),
          },
          { additionalProperties: false },
        ),
      },
    },
    async (request, reply) => {
      const { serviceId, description, expiresInDays } = request.body;
      const id = randomBytes(8).toString('hex');
      const token = `${SERVICE_TOKEN_PREFIX}${id}_${randomBytes(32).toString('base64url')}`;
      const issuedAt = new Date();
      const expiresAt = expiresInDays
        ? new Date(issuedAt.getTime() + expiresInDays * 86_400_000).toISOString()
        : undefined;
      const result = await ctx.commands.handle(
        serviceTokenStream(id),
        serviceTokenDecider,
        {
          type: 'IssueServiceToken',
          token: {
            id,
            serviceId,
            tokenHash: hashServiceToken(token),
            issuedAt: issuedAt.toISOString(),
            ...(description ? { description } : {}),
            ...(expiresAt ? { expiresAt } : {}),
          },
        },
        commandContext(request),
      );
      // Usable as soon as the answer arrives.
      await ctx.readModels.runner.waitFor(result.position, ctx.readYourWritesTimeoutMs, 'seen');
      return reply
        .status(201)
        .header('cache-control', 'no-store')
        .send(ok({ id, serviceId, token, issuedAt: issuedAt.toISOString(), expiresAt: expiresAt ?? null }));
    },
  );

  app.get(
    '/service-tokens',
    { schema: { tags, summary: 'Issued service tokens (never the tokens themselves)' } },
    async (request) =>
      ok(ctx.readModels.serviceTokens.list().filter((entry) => inScope(request.principal!, entry.serviceId))),
  );

  app.delete(
    '/service-tokens/:id',
    {
      schema: {
        tags,
        summary: 'Revoke a service token; refused from the moment this answers',
        params: Type.Object({ id: Type.String({ pattern: '^[0-9a-f]{16}$' }) }),
      },
    },
    async (request, reply) => {
      const { id } = request.params;
      const entry = ctx.readModels.serviceTokens.get(id);
      if (entry) requireScope(request.principal!, entry.serviceId);
      const result = await ctx.commands.handle(
        serviceTokenStream(id),
        serviceTokenDecider,
        { type: 'RevokeServiceToken', id, now: new Date().toISOString() },
        commandContext(request),
      );
      await ctx.readModels.runner.waitFor(result.position, ctx.readYourWritesTimeoutMs, 'seen');
      return reply.status(204).send();
    },
  );
};
