import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyReply } from 'fastify';
import type { EnvironmentDefinition } from '#events/environments.ts';
import type { EnvironmentEntry } from '#projections/environments/directory.ts';
import { waitForPosition } from '#services/configuration/read.ts';
import { environmentNotFound } from './errors.ts';
import { EnvironmentId, Force, Position, commandContext, forceOf, ok } from '#services/shared/http.ts';
import { type EnvironmentOutcome, defineEnvironment, removeEnvironment } from './application.ts';

const tags = ['environments'];
const EnvironmentType = Type.Unsafe<EnvironmentDefinition['type']>(
  Type.String({ enum: ['development', 'testing', 'staging', 'production', 'custom'] }),
);
const DefinitionFields = {
  name: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
  type: Type.Optional(EnvironmentType),
  inheritsFrom: Type.Optional(
    Type.Array(EnvironmentId, {
      maxItems: 10,
      uniqueItems: true,
      description: 'parents, merged in order; the environment itself wins',
    }),
  ),
  description: Type.Optional(Type.String({ maxLength: 1000 })),
  changeReason: Type.Optional(Type.String({ maxLength: 1000 })),
};
const CreateBody = Type.Object({ id: EnvironmentId, ...DefinitionFields }, { additionalProperties: false });
const UpdateBody = Type.Object(DefinitionFields, { additionalProperties: false });

const view = ({ position, inheritance, ...entry }: EnvironmentEntry) => ({
  ...entry,
  position: Number(position),
  inheritanceChanged: { position: Number(inheritance.position), at: inheritance.changedAt, by: inheritance.changedBy },
});
const DryRunQuery = Type.Object(
  {
    dryRun: Type.Optional(
      Type.Boolean({ description: 'answer which effective configurations would change, and how, without writing' }),
    ),
    force: Force,
  },
  { additionalProperties: false },
);
const RemoveBody = Type.Object(
  { changeReason: Type.Optional(Type.String({ maxLength: 1000 })) },
  { additionalProperties: false },
);

/** 201/200 with the definition, 202 with the change request, or the dry run's account of what would change. */
function answer(reply: FastifyReply, outcome: EnvironmentOutcome) {
  switch (outcome.kind) {
    case 'pending':
      return reply.status(202).send(ok({ changeRequest: outcome.changeRequest }));
    case 'dry-run':
      return reply.send(
        ok({
          dryRun: true,
          ...(outcome.definition ? { definition: outcome.definition } : {}),
          wouldChange: outcome.impact.map(({ serviceId, environment, changes }) => ({
            serviceId,
            environment,
            changes,
          })),
          wouldFailSchema: outcome.failing,
          requiresApprovalBy: outcome.policyIds,
        }),
      );
    case 'applied':
      return reply.status(outcome.created ? 201 : 200).send(
        ok({
          ...outcome.definition,
          position: outcome.position,
          changed: outcome.impact.map(({ serviceId, environment, changedKeys }) => ({
            serviceId,
            environment,
            changedKeys,
          })),
        }),
      );
  }
}

export const environmentRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { ctx } = app;
  const directory = ctx.readModels.environments;

  app.get('/environments', { schema: { tags, summary: 'Every environment with its inheritance' } }, async () =>
    ok(directory.list().map(view)),
  );

  app.post(
    '/environments',
    { schema: { tags, summary: 'Define an environment (409 ENVIRONMENT_EXISTS if it exists)', body: CreateBody } },
    async (request, reply) => {
      const { id, changeReason, ...fields } = request.body;
      return answer(
        reply,
        await defineEnvironment(ctx, request.principal!, commandContext(request, changeReason), {
          type: 'Define',
          id,
          fields,
        }),
      );
    },
  );

  app.get(
    '/environments/:id',
    {
      schema: {
        tags,
        summary: 'One environment',
        params: Type.Object({ id: EnvironmentId }),
        querystring: Type.Object({ minPosition: Type.Optional(Position) }),
      },
    },
    async (request) => {
      await waitForPosition(ctx, request.query.minPosition, 'seen');
      const entry = directory.get(request.params.id);
      if (!entry) throw environmentNotFound(request.params.id);
      return ok(view(entry));
    },
  );

  app.put(
    '/environments/:id',
    {
      schema: {
        tags,
        summary:
          'Create or change an environment; changing inheritsFrom needs an admin and passes the approval policies (?dryRun=true shows its effect)',
        params: Type.Object({ id: EnvironmentId }),
        querystring: DryRunQuery,
        body: UpdateBody,
      },
    },
    async (request, reply) => {
      const { changeReason, ...fields } = request.body;
      const change = {
        type: 'Redefine' as const,
        id: request.params.id,
        fields,
        dryRun: request.query.dryRun,
        force: forceOf(request, changeReason),
      };
      return answer(
        reply,
        await defineEnvironment(ctx, request.principal!, commandContext(request, changeReason), change),
      );
    },
  );

  app.delete(
    '/environments/:id',
    {
      schema: {
        tags,
        summary:
          'Remove an environment (admin; approval policies apply); environments inheriting from it keep their other parents',
        params: Type.Object({ id: EnvironmentId }),
        querystring: DryRunQuery,
        body: Type.Optional(RemoveBody),
      },
    },
    async (request, reply) => {
      const reason = request.body?.changeReason;
      const options = { dryRun: request.query.dryRun, force: forceOf(request, reason) };
      return answer(reply, await removeEnvironment(ctx, commandContext(request, reason), request.params.id, options));
    },
  );
};
