import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { JsonObject } from '#events/metadata.ts';
import { listVersions } from '#projections/configurations/queries.ts';
import { KeyNotFound } from '#services/shared/errors.ts';
import { DEFAULT_ENVIRONMENT, ok } from '#services/shared/http.ts';
import { activeValidator } from './commands.ts';
import { EnvironmentParams, KeyParams, ReadQuery, ServiceParams, ValidateBody, VersionsQuery, WriteQuery, tags } from './http-schemas.ts';
import { getPath } from './paths.ts';
import { readConfiguration, requireEnvironment, waitForPosition } from './read.ts';

const config = { permission: 'read' as const };

export const configurationReadRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { ledger } = app;

  app.get(
    '/configurations/:serviceId',
    { config, schema: { tags, summary: 'The effective configuration of a service in an environment', params: ServiceParams, querystring: ReadQuery } },
    async (request, reply) => {
      const { environment = DEFAULT_ENVIRONMENT, ...options } = request.query;
      const view = await readConfiguration(ledger, request.params.serviceId, environment, options);
      return reply.header('etag', `"${view.version}"`).send(ok(view));
    },
  );

  app.get(
    '/configurations/:serviceId/environments/:environment',
    { config, schema: { tags, summary: 'The effective configuration in one environment', params: EnvironmentParams, querystring: Type.Omit(ReadQuery, ['environment']) } },
    async (request, reply) => {
      const view = await readConfiguration(ledger, request.params.serviceId, request.params.environment, request.query);
      return reply.header('etag', `"${view.version}"`).send(ok(view));
    },
  );

  app.get(
    '/configurations/:serviceId/:key',
    { config, schema: { tags, summary: 'One key (dotted path) of the effective configuration', params: KeyParams, querystring: Type.Omit(ReadQuery, ['explain']) } },
    async (request) => {
      const { environment = DEFAULT_ENVIRONMENT, ...options } = request.query;
      const { params } = request;
      const view = await readConfiguration(ledger, params.serviceId, environment, options);
      const value = getPath(view.configuration, params.key);
      if (value === undefined) throw KeyNotFound(params.key);
      return ok({ key: params.key, value, version: view.version });
    },
  );

  app.get(
    '/configurations/:serviceId/versions',
    { config, schema: { tags, summary: 'Version history, newest first, with every changed path and its old and new value', params: ServiceParams, querystring: VersionsQuery } },
    async (request) => {
      const { environment = DEFAULT_ENVIRONMENT, limit = 100, before, minPosition } = request.query;
      const { serviceId } = request.params;
      await requireEnvironment(ledger, environment);
      await waitForPosition(ledger, minPosition);
      const versions = await listVersions(ledger.db, serviceId, environment, { limit, beforeVersion: before });
      // An empty first page of a configuration that does not exist is a 404, not an empty history.
      if (versions.length === 0 && before === undefined) await readConfiguration(ledger, serviceId, environment);
      return ok(versions);
    },
  );

  app.post(
    '/configurations/:serviceId/validate',
    { config, schema: { tags, summary: 'Validate a document against the active schema without writing', params: ServiceParams, querystring: WriteQuery, body: ValidateBody } },
    async (request) => {
      const { validate, schemaVersion } = await activeValidator(ledger, request.params.serviceId);
      const errors = validate(request.body.configuration as JsonObject);
      return ok({ valid: errors.length === 0, errors, ...(schemaVersion !== undefined ? { schemaVersion } : {}) });
    },
  );
};
