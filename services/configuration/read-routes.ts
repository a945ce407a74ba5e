import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { JsonObject } from '#events/metadata.ts';
import { listServices, listVersions } from '#projections/configurations/queries.ts';
import { keyNotFound } from './errors.ts';
import { assertDepth } from '#events/documents.ts';
import { callerOf, DEFAULT_ENVIRONMENT, EnvironmentId, ok, PAGE, Position } from '#services/shared/http.ts';
import { unrestricted } from '#services/config-api/permissions.ts';
import { activeValidator } from './commands.ts';
import { effectiveView } from './judge.ts';
import {
  DiffQuery,
  EnvironmentParams,
  KeyParams,
  ReadQuery,
  ServiceParams,
  ValidateBody,
  VersionsQuery,
  WriteQuery,
  tags,
} from './http-schemas.ts';
import { diffDocuments, getPath } from '#events/paths.ts';
import { parsePointInTime } from './history.ts';
import { effectiveAt } from './effective-at.ts';
import { type ConfigurationView, readConfiguration, requireEnvironment, viewOf, waitForPosition } from './read.ts';
import { resolveSecrets } from '#services/credentials/read.ts';

/**
 * While the log or the database is failing, reads are still answered from the
 * in-process cache, saying so and since when.
 */
function markStale(request: FastifyRequest, reply: FastifyReply): void {
  const since = request.server.ctx.readModels.runner.unhealthySince;
  if (!since) return;
  reply
    .header('x-configuration-stale', 'true')
    .header('x-configuration-age', Math.ceil((Date.now() - since.getTime()) / 1000));
}

/** The view as JSON, its version as ETag; with secrets resolved on request, never to be cached. */
async function sendView(
  request: FastifyRequest,
  reply: FastifyReply,
  view: ConfigurationView,
  resolve: boolean | undefined,
) {
  reply.header('etag', `"${view.version}"`);
  markStale(request, reply);
  if (!resolve) return reply.send(ok(view));
  const configuration = await resolveSecrets(request.server.ctx, callerOf(request), view.configuration);
  return reply.header('cache-control', 'no-store').send(ok({ ...view, configuration }));
}

export const configurationReadRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { ctx } = app;

  app.get(
    '/configurations',
    {
      schema: {
        tags,
        summary:
          'The services with a configuration, each with its environments, versions and last change; paged by service id',
        querystring: Type.Object(
          {
            ...PAGE,
            cursor: Type.Optional(Type.String({ maxLength: 200, description: 'the nextCursor of the previous page' })),
            prefix: Type.Optional(Type.String({ maxLength: 200, description: 'only service ids that start with it' })),
            environment: Type.Optional(EnvironmentId),
            minPosition: Type.Optional(Position),
          },
          { additionalProperties: false },
        ),
      },
    },
    async (request) => {
      const { limit = 100, minPosition, ...filter } = request.query;
      await waitForPosition(ctx, minPosition);
      const principal = request.principal!;
      const items = await listServices(ctx.db, {
        limit,
        ...filter,
        ...(unrestricted(principal) ? {} : { services: principal.services }),
      });
      return ok({ items, nextCursor: items.length === limit ? items[items.length - 1]!.serviceId : null });
    },
  );

  app.get(
    '/configurations/:serviceId',
    {
      schema: {
        tags,
        summary: 'The effective configuration of a service in an environment',
        params: ServiceParams,
        querystring: ReadQuery,
      },
    },
    async (request, reply) => {
      const { environment = DEFAULT_ENVIRONMENT, resolveSecrets, ...options } = request.query;
      const view = await readConfiguration(ctx, request.params.serviceId, environment, options);
      return sendView(request, reply, view, resolveSecrets);
    },
  );

  app.get(
    '/configurations/:serviceId/environments/:environment',
    {
      schema: {
        tags,
        summary: 'The effective configuration in one environment',
        params: EnvironmentParams,
        querystring: Type.Omit(ReadQuery, ['environment']),
      },
    },
    async (request, reply) => {
      const { resolveSecrets, ...options } = request.query;
      const view = await readConfiguration(ctx, request.params.serviceId, request.params.environment, options);
      return sendView(request, reply, view, resolveSecrets);
    },
  );

  app.get(
    '/configurations/:serviceId/:key',
    {
      schema: {
        tags,
        summary: 'One key (dotted path) of the effective configuration',
        params: KeyParams,
        querystring: Type.Omit(ReadQuery, ['explain']),
      },
    },
    async (request, reply) => {
      const { environment = DEFAULT_ENVIRONMENT, resolveSecrets: resolve, ...options } = request.query;
      const { params } = request;
      const view = await readConfiguration(ctx, params.serviceId, environment, options);
      const value = getPath(view.configuration, params.key);
      if (value === undefined) throw keyNotFound(params.key);
      markStale(request, reply);
      if (!resolve) return ok({ key: params.key, value, version: view.version });
      const resolved = await resolveSecrets(ctx, callerOf(request), { value });
      return reply
        .header('cache-control', 'no-store')
        .send(ok({ key: params.key, value: resolved.value, version: view.version }));
    },
  );

  app.get(
    '/configurations/:serviceId/versions',
    {
      schema: {
        tags,
        summary: 'Version history, newest first, with every changed path and its old and new value',
        params: ServiceParams,
        querystring: VersionsQuery,
      },
    },
    async (request) => {
      const { environment = DEFAULT_ENVIRONMENT, limit = 100, before, minPosition } = request.query;
      const { serviceId } = request.params;
      await requireEnvironment(ctx, environment);
      await waitForPosition(ctx, minPosition);
      const versions = await listVersions(ctx.db, serviceId, environment, { limit, beforeVersion: before });
      // An empty first page of a configuration that does not exist is a 404, not an empty history.
      if (versions.length === 0 && before === undefined) await readConfiguration(ctx, serviceId, environment);
      return ok(versions);
    },
  );

  app.get(
    '/configurations/:serviceId/diff',
    {
      schema: {
        tags,
        summary: 'Every changed path, with old and new value, between two versions, instants or environments',
        params: ServiceParams,
        querystring: DiffQuery,
      },
    },
    async (request) => {
      const {
        environment = DEFAULT_ENVIRONMENT,
        fromEnvironment = environment,
        toEnvironment = environment,
        from,
        to,
      } = request.query;
      const { serviceId } = request.params;
      const side = async (env: string, point: string | undefined) => {
        await requireEnvironment(ctx, env);
        return point === undefined
          ? readConfiguration(ctx, serviceId, env)
          : viewOf(await effectiveAt(ctx.store, serviceId, env, parsePointInTime(point)), ctx.readModels.epoch.current);
      };
      const [before, after] = await Promise.all([side(fromEnvironment, from), side(toEnvironment, to)]);
      const summary = ({ environment: env, version, checksum, position }: typeof before) => ({
        environment: env,
        version,
        checksum,
        position,
      });
      return ok({
        serviceId,
        from: summary(before),
        to: summary(after),
        changes: diffDocuments(before.configuration, after.configuration),
      });
    },
  );

  app.post(
    '/configurations/:serviceId/validate',
    {
      schema: {
        tags,
        summary:
          "Judge a document as the environment's own layer, without writing: its effective document and those of the environments inheriting from it, against the active schema",
        params: ServiceParams,
        querystring: WriteQuery,
        body: ValidateBody,
      },
    },
    async (request) => {
      const { serviceId } = request.params;
      const environment = request.query.environment ?? DEFAULT_ENVIRONMENT;
      await requireEnvironment(ctx, environment);
      assertDepth(request.body.configuration);
      const { validate, schemaVersion } = await activeValidator(ctx, serviceId);
      const { errors, inherited } = (await effectiveView(ctx, serviceId, environment)).judge(validate)(
        request.body.configuration as JsonObject,
      );
      return ok({
        valid: errors.length === 0 && inherited.length === 0,
        errors,
        inherited,
        ...(schemaVersion !== undefined ? { schemaVersion } : {}),
      });
    },
  );
};
