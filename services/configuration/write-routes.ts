import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { JsonObject, JsonValue } from '#events/metadata.ts';
import type { AppContext } from '#services/shared/context.ts';
import { DEFAULT_ENVIRONMENT, commandContext, expectedVersionOf, forceOf, ok } from '#services/shared/http.ts';
import { type CommandWithoutSchema, documentAtVersion, executeConfigurationCommand } from './commands.ts';
import {
  BatchBody,
  DeleteKeyQuery,
  DocumentBody,
  EnvironmentParams,
  ForceQuery,
  KeyBody,
  KeyParams,
  PatchBody,
  RollbackBody,
  RollbackParams,
  ServiceParams,
  WriteAnswerSchema,
  ChangeRequestAnswerSchema,
  WriteQuery,
  tags,
} from './http-schemas.ts';

const answers = { 200: WriteAnswerSchema, 201: WriteAnswerSchema, 202: ChangeRequestAnswerSchema };

/**
 * Runs the command and answers the write: 201 when it created the
 * configuration, the new version as ETag; 202 with the change request when the
 * change needs approval first.
 */
async function write(
  ctx: AppContext,
  request: FastifyRequest,
  reply: FastifyReply,
  command: CommandWithoutSchema,
  extra: Record<string, unknown> = {},
) {
  const outcome = await executeConfigurationCommand(ctx, commandContext(request, command.changeReason), command);
  if (outcome.kind === 'pending') return reply.status(202).send(ok({ changeRequest: outcome.changeRequest }));
  const { created, ...answer } = outcome.answer;
  return reply
    .status(created ? 201 : 200)
    .header('etag', `"${answer.version}"`)
    .send(ok({ ...answer, ...extra }));
}

/** What every write takes from the request: who it targets, why, and the version it was based on. */
const target = (
  request: FastifyRequest,
  serviceId: string,
  environment: string | undefined,
  body?: { changeReason?: string; expectedVersion?: number },
) => ({
  serviceId,
  environment: environment ?? DEFAULT_ENVIRONMENT,
  changeReason: body?.changeReason,
  expectedVersion: expectedVersionOf(request, body?.expectedVersion),
  force: forceOf(request, body?.changeReason),
});

export const configurationWriteRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { ctx } = app;

  app.post(
    '/configurations/:serviceId',
    {
      schema: {
        tags,
        summary: 'Create a configuration (409 CONFIGURATION_EXISTS if there is one)',
        params: ServiceParams,
        querystring: WriteQuery,
        body: DocumentBody,
        response: answers,
      },
    },
    (request, reply) =>
      write(ctx, request, reply, {
        type: 'Create',
        ...target(request, request.params.serviceId, request.query.environment, request.body),
        configuration: request.body.configuration as JsonObject,
      }),
  );

  app.put(
    '/configurations/:serviceId',
    {
      schema: {
        tags,
        summary: 'Replace the whole configuration (creates it when absent: 201)',
        params: ServiceParams,
        querystring: WriteQuery,
        body: DocumentBody,
        response: answers,
      },
    },
    (request, reply) =>
      write(ctx, request, reply, {
        type: 'Replace',
        ...target(request, request.params.serviceId, request.query.environment, request.body),
        configuration: request.body.configuration as JsonObject,
      }),
  );

  app.put(
    '/configurations/:serviceId/environments/:environment',
    {
      schema: {
        tags,
        summary: 'Replace the configuration of one environment',
        params: EnvironmentParams,
        querystring: ForceQuery,
        body: DocumentBody,
        response: answers,
      },
    },
    (request, reply) =>
      write(ctx, request, reply, {
        type: 'Replace',
        ...target(request, request.params.serviceId, request.params.environment, request.body),
        configuration: request.body.configuration as JsonObject,
      }),
  );

  app.patch(
    '/configurations/:serviceId',
    {
      schema: {
        tags,
        summary: 'Apply an RFC 7396 JSON Merge Patch',
        params: ServiceParams,
        querystring: WriteQuery,
        body: PatchBody,
        response: answers,
      },
    },
    (request, reply) =>
      write(ctx, request, reply, {
        type: 'Patch',
        ...target(request, request.params.serviceId, request.query.environment, request.body),
        patch: request.body.patch as JsonObject,
      }),
  );

  app.put(
    '/configurations/:serviceId/:key',
    {
      schema: {
        tags,
        summary: 'Set one key (missing parents are created)',
        params: KeyParams,
        querystring: WriteQuery,
        body: KeyBody,
        response: answers,
      },
    },
    (request, reply) =>
      write(ctx, request, reply, {
        type: 'SetKey',
        ...target(request, request.params.serviceId, request.query.environment, request.body),
        key: request.params.key,
        value: request.body.value as JsonValue,
      }),
  );

  app.delete(
    '/configurations/:serviceId/:key',
    {
      schema: {
        tags,
        summary: 'Delete one key (404 KEY_NOT_FOUND when absent)',
        params: KeyParams,
        querystring: DeleteKeyQuery,
        response: answers,
      },
    },
    (request, reply) =>
      write(ctx, request, reply, {
        type: 'DeleteKey',
        ...target(request, request.params.serviceId, request.query.environment, {
          changeReason: request.query.changeReason,
        }),
        key: request.params.key,
      }),
  );

  app.post(
    '/configurations/:serviceId/batch',
    {
      schema: {
        tags,
        summary: 'SET/DELETE operations applied atomically as one new version',
        params: ServiceParams,
        querystring: WriteQuery,
        body: BatchBody,
      },
    },
    (request, reply) => {
      const { operations, environment } = request.body;
      return write(
        ctx,
        request,
        reply,
        {
          type: 'Batch',
          ...target(request, request.params.serviceId, request.query.environment ?? environment, request.body),
          operations: operations.map((operation) => ({
            ...operation,
            value: operation.value as JsonValue | undefined,
          })),
        },
        { operations: operations.map(({ id, type, key }) => ({ id, type, key, success: true })) },
      );
    },
  );

  app.post(
    '/configurations/:serviceId/versions/:version/rollback',
    {
      schema: {
        tags,
        summary: 'Restore an earlier version as a new version (history is never rewritten)',
        params: RollbackParams,
        querystring: WriteQuery,
        body: RollbackBody,
        response: answers,
      },
    },
    async (request, reply) => {
      const { serviceId, version } = request.params;
      const where = target(request, serviceId, request.query.environment, request.body);
      return write(ctx, request, reply, {
        type: 'Rollback',
        ...where,
        targetVersion: version,
        targetConfiguration: await documentAtVersion(ctx, serviceId, where.environment, version),
      });
    },
  );
};
