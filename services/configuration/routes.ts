import { Type, type Static } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { JsonObject, JsonValue } from '#events/metadata.ts';
import { listVersions } from '#projections/configurations/queries.ts';
import {
  AnyJson,
  ChangeReason,
  DEFAULT_ENVIRONMENT,
  EnvironmentId,
  ExpectedVersion,
  JsonDocument,
  Key,
  Position,
  ServiceId,
  expectedVersionOf,
  ok,
} from '#services/shared/http.ts';
import { KeyNotFound } from '#services/shared/errors.ts';
import { activeValidator, documentAtVersion, executeConfigurationCommand, type WriteAnswer } from './commands.ts';
import { getPath } from './paths.ts';
import { readConfiguration, requireEnvironment, waitForPosition } from './read.ts';

const tags = ['configurations'];
const ServiceParams = Type.Object({ serviceId: ServiceId });
const KeyParams = Type.Object({ serviceId: ServiceId, key: Key });
const EnvironmentParams = Type.Object({ serviceId: ServiceId, environment: EnvironmentId });
const WriteQuery = Type.Object({ environment: Type.Optional(EnvironmentId) }, { additionalProperties: false });
const ReadQuery = Type.Object(
  {
    environment: Type.Optional(EnvironmentId),
    version: Type.Optional(Type.Integer({ minimum: 1, description: 'a past version; default: the current one' })),
    explain: Type.Optional(Type.Boolean({ description: 'say which environment each top-level key came from' })),
    minPosition: Type.Optional(Position),
  },
  { additionalProperties: false },
);
const DocumentBody = Type.Object(
  { configuration: JsonDocument, changeReason: Type.Optional(ChangeReason), expectedVersion: Type.Optional(ExpectedVersion) },
  { additionalProperties: false },
);
const PatchBody = Type.Object(
  {
    patch: Type.Object({}, { additionalProperties: true, description: 'an RFC 7396 JSON Merge Patch; null removes a key' }),
    changeReason: Type.Optional(ChangeReason),
    expectedVersion: Type.Optional(ExpectedVersion),
  },
  { additionalProperties: false },
);
const KeyBody = Type.Object(
  { value: AnyJson, changeReason: Type.Optional(ChangeReason), expectedVersion: Type.Optional(ExpectedVersion) },
  { additionalProperties: false },
);
const BatchBody = Type.Object(
  {
    operations: Type.Array(
      Type.Object(
        { id: Type.String({ minLength: 1, maxLength: 100 }), type: Type.Union([Type.Literal('SET'), Type.Literal('DELETE')]), key: Key, value: Type.Optional(AnyJson) },
        { additionalProperties: false },
      ),
      { minItems: 1, maxItems: 1000 },
    ),
    environment: Type.Optional(EnvironmentId),
    changeReason: Type.Optional(ChangeReason),
    expectedVersion: Type.Optional(ExpectedVersion),
  },
  { additionalProperties: false },
);
const WriteAnswerSchema = Type.Object({
  success: Type.Literal(true),
  data: Type.Object({
    serviceId: Type.String(),
    environment: Type.String(),
    version: Type.Integer(),
    checksum: Type.String(),
    position: Type.Integer(),
    changedKeys: Type.Array(Type.String()),
  }),
  timestamp: Type.String({ format: 'date-time' }),
});

const environmentOf = (query: { environment?: string }) => query.environment ?? DEFAULT_ENVIRONMENT;

function sendWrite(reply: FastifyReply, answer: WriteAnswer) {
  const { created, ...data } = answer;
  return reply
    .status(created ? 201 : 200)
    .header('etag', `"${data.version}"`)
    .send(ok(data));
}

export const configurationRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { ledger } = app;
  const read = { permission: 'read' as const };
  const write = { permission: 'write' as const };

  app.get(
    '/configurations/:serviceId',
    { config: read, schema: { tags, summary: 'The effective configuration of a service in an environment', params: ServiceParams, querystring: ReadQuery } },
    async (request, reply) => {
      const { query } = request;
      const view = await readConfiguration(ledger, request.params.serviceId, environmentOf(query), {
        version: query.version,
        explain: query.explain,
        minPosition: query.minPosition,
      });
      return reply.header('etag', `"${view.version}"`).send(ok(view));
    },
  );

  app.post(
    '/configurations/:serviceId',
    {
      config: write,
      schema: { tags, summary: 'Create a configuration (409 CONFIGURATION_EXISTS if there is one)', params: ServiceParams, querystring: WriteQuery, body: DocumentBody, response: { 201: WriteAnswerSchema } },
    },
    async (request, reply) => {
      const { body } = request;
      const answer = await executeConfigurationCommand(ledger, request, {
        type: 'Create',
        serviceId: request.params.serviceId,
        environment: environmentOf(request.query),
        configuration: body.configuration as JsonObject,
        changeReason: body.changeReason,
        expectedVersion: expectedVersionOf(request, body.expectedVersion),
      });
      return sendWrite(reply, answer);
    },
  );

  async function replaceConfiguration(request: FastifyRequest, reply: FastifyReply, serviceId: string, environment: string, body: Static<typeof DocumentBody>) {
    const answer = await executeConfigurationCommand(ledger, request, {
      type: 'Replace',
      serviceId,
      environment,
      configuration: body.configuration as JsonObject,
      changeReason: body.changeReason,
      expectedVersion: expectedVersionOf(request, body.expectedVersion),
    });
    return sendWrite(reply, answer);
  }

  app.put(
    '/configurations/:serviceId',
    { config: write, schema: { tags, summary: 'Replace the whole configuration (creates it when absent: 201)', params: ServiceParams, querystring: WriteQuery, body: DocumentBody, response: { 200: WriteAnswerSchema, 201: WriteAnswerSchema } } },
    (request, reply) => replaceConfiguration(request, reply, request.params.serviceId, environmentOf(request.query), request.body),
  );

  app.patch(
    '/configurations/:serviceId',
    { config: write, schema: { tags, summary: 'Apply an RFC 7396 JSON Merge Patch', params: ServiceParams, querystring: WriteQuery, body: PatchBody, response: { 200: WriteAnswerSchema } } },
    async (request, reply) => {
      const { body } = request;
      const answer = await executeConfigurationCommand(ledger, request, {
        type: 'Patch',
        serviceId: request.params.serviceId,
        environment: environmentOf(request.query),
        patch: body.patch as JsonObject,
        changeReason: body.changeReason,
        expectedVersion: expectedVersionOf(request, body.expectedVersion),
      });
      return sendWrite(reply, answer);
    },
  );

  app.post(
    '/configurations/:serviceId/batch',
    { config: write, schema: { tags, summary: 'SET/DELETE operations applied atomically as one new version', params: ServiceParams, querystring: WriteQuery, body: BatchBody } },
    async (request, reply) => {
      const { body } = request;
      const answer = await executeConfigurationCommand(ledger, request, {
        type: 'Batch',
        serviceId: request.params.serviceId,
        environment: request.query.environment ?? body.environment ?? DEFAULT_ENVIRONMENT,
        operations: body.operations.map((operation) => ({ ...operation, value: operation.value as JsonValue | undefined })),
        changeReason: body.changeReason,
        expectedVersion: expectedVersionOf(request, body.expectedVersion),
      });
      const { created: _created, ...data } = answer;
      return reply.header('etag', `"${data.version}"`).send(
        ok({ ...data, operations: body.operations.map((operation) => ({ id: operation.id, type: operation.type, key: operation.key, success: true })) }),
      );
    },
  );

  app.get(
    '/configurations/:serviceId/versions',
    {
      config: read,
      schema: {
        tags,
        summary: 'Version history, newest first, with every changed path and its old and new value',
        params: ServiceParams,
        querystring: Type.Object(
          {
            environment: Type.Optional(EnvironmentId),
            limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 100 })),
            before: Type.Optional(Type.Integer({ minimum: 1, description: 'versions older than this one (paging)' })),
            minPosition: Type.Optional(Position),
          },
          { additionalProperties: false },
        ),
      },
    },
    async (request) => {
      const { query, params } = request;
      const environment = environmentOf(query);
      await requireEnvironment(ledger, environment);
      await waitForPosition(ledger, query.minPosition);
      const versions = await listVersions(ledger.db, params.serviceId, environment, { limit: query.limit ?? 100, beforeVersion: query.before });
      if (versions.length === 0 && query.before === undefined) await readConfiguration(ledger, params.serviceId, environment);
      return ok(versions);
    },
  );

  app.post(
    '/configurations/:serviceId/versions/:version/rollback',
    {
      config: write,
      schema: {
        tags,
        summary: 'Restore an earlier version as a new version (history is never rewritten)',
        params: Type.Object({ serviceId: ServiceId, version: Type.Integer({ minimum: 1 }) }),
        querystring: WriteQuery,
        body: Type.Optional(Type.Object({ changeReason: Type.Optional(ChangeReason), expectedVersion: Type.Optional(ExpectedVersion) }, { additionalProperties: false })),
      },
    },
    async (request, reply) => {
      const { params } = request;
      const environment = environmentOf(request.query);
      const answer = await executeConfigurationCommand(ledger, request, {
        type: 'Rollback',
        serviceId: params.serviceId,
        environment,
        targetVersion: params.version,
        targetConfiguration: await documentAtVersion(ledger, params.serviceId, environment, params.version),
        changeReason: request.body?.changeReason,
        expectedVersion: expectedVersionOf(request, request.body?.expectedVersion),
      });
      return sendWrite(reply, { ...answer, created: false });
    },
  );

  app.post(
    '/configurations/:serviceId/validate',
    {
      config: read,
      schema: {
        tags,
        summary: 'Validate a document against the active schema without writing',
        params: ServiceParams,
        querystring: WriteQuery,
        body: Type.Object({ configuration: JsonDocument }, { additionalProperties: false }),
      },
    },
    async (request) => {
      const { validate, schemaVersion } = await activeValidator(ledger, request.params.serviceId);
      const errors = validate(request.body.configuration as JsonObject);
      return ok({ valid: errors.length === 0, errors, ...(schemaVersion !== undefined ? { schemaVersion } : {}) });
    },
  );

  app.get(
    '/configurations/:serviceId/environments/:environment',
    { config: read, schema: { tags, summary: 'The effective configuration in one environment', params: EnvironmentParams, querystring: Type.Omit(ReadQuery, ['environment']) } },
    async (request, reply) => {
      const { query } = request;
      const view = await readConfiguration(ledger, request.params.serviceId, request.params.environment, {
        version: query.version,
        explain: query.explain,
        minPosition: query.minPosition,
      });
      return reply.header('etag', `"${view.version}"`).send(ok(view));
    },
  );

  app.put(
    '/configurations/:serviceId/environments/:environment',
    { config: write, schema: { tags, summary: 'Replace the configuration of one environment', params: EnvironmentParams, body: DocumentBody } },
    (request, reply) => replaceConfiguration(request, reply, request.params.serviceId, request.params.environment, request.body),
  );

  app.get(
    '/configurations/:serviceId/:key',
    {
      config: read,
      schema: { tags, summary: 'One key (dotted path) of the effective configuration', params: KeyParams, querystring: Type.Omit(ReadQuery, ['explain']) },
    },
    async (request) => {
      const { query, params } = request;
      const view = await readConfiguration(ledger, params.serviceId, environmentOf(query), { version: query.version, minPosition: query.minPosition });
      const value = getPath(view.configuration, params.key);
      if (value === undefined) throw KeyNotFound(params.key);
      return ok({ key: params.key, value, version: view.version });
    },
  );

  app.put(
    '/configurations/:serviceId/:key',
    { config: write, schema: { tags, summary: 'Set one key', params: KeyParams, querystring: WriteQuery, body: KeyBody, response: { 200: WriteAnswerSchema } } },
    async (request, reply) => {
      const { body, params } = request;
      const answer = await executeConfigurationCommand(ledger, request, {
        type: 'SetKey',
        serviceId: params.serviceId,
        environment: environmentOf(request.query),
        key: params.key,
        value: body.value as JsonValue,
        changeReason: body.changeReason,
        expectedVersion: expectedVersionOf(request, body.expectedVersion),
      });
      return sendWrite(reply, { ...answer, created: false });
    },
  );

  app.delete(
    '/configurations/:serviceId/:key',
    {
      config: write,
      schema: {
        tags,
        summary: 'Delete one key (404 KEY_NOT_FOUND when absent)',
        params: KeyParams,
        querystring: Type.Object({ environment: Type.Optional(EnvironmentId), changeReason: Type.Optional(ChangeReason) }, { additionalProperties: false }),
      },
    },
    async (request, reply) => {
      const { params, query } = request;
      const answer = await executeConfigurationCommand(ledger, request, {
        type: 'DeleteKey',
        serviceId: params.serviceId,
        environment: environmentOf(query),
        key: params.key,
        changeReason: query.changeReason,
        expectedVersion: expectedVersionOf(request),
      });
      return sendWrite(reply, { ...answer, created: false });
    },
  );
};
