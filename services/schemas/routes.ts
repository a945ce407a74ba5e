import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { schemaStream } from '#events/schemas.ts';
import type { JsonObject } from '#events/metadata.ts';
import { loadSchema } from '#projections/schemas/queries.ts';
import { waitForPosition } from '#services/configuration/read.ts';
import { schemaNotFound } from './errors.ts';
import { JsonDocument, Position, ServiceId, VersionNumber, commandContext, ok } from '#services/shared/http.ts';
import { schemaDecider } from './decider.ts';

const tags = ['schemas'];
const params = Type.Object({ serviceId: ServiceId });

export const schemaRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { ctx } = app;

  app.get(
    '/configurations/:serviceId/schema',
    {
      schema: {
        tags,
        summary: 'The active JSON Schema of a service, or a given version',
        params,
        querystring: Type.Object(
          { version: Type.Optional(VersionNumber()), minPosition: Type.Optional(Position) },
          { additionalProperties: false },
        ),
      },
    },
    async (request) => {
      await waitForPosition(ctx, request.query.minPosition);
      const schema = await loadSchema(ctx.db, request.params.serviceId, request.query.version);
      if (!schema) throw schemaNotFound(request.params.serviceId);
      return ok(schema);
    },
  );

  app.put(
    '/configurations/:serviceId/schema',
    {
      schema: {
        tags,
        summary:
          'Register a new schema version (JSON Schema draft 2020-12, or draft-07 via $schema); later writes are validated against it',
        params,
        body: Type.Object(
          { schema: JsonDocument, changeReason: Type.Optional(Type.String({ maxLength: 1000 })) },
          { additionalProperties: false },
        ),
      },
    },
    async (request, reply) => {
      const { serviceId } = request.params;
      const result = await ctx.commands.handle(
        schemaStream(serviceId),
        schemaDecider,
        {
          type: 'RegisterSchema',
          serviceId,
          schema: request.body.schema as JsonObject,
          problem: ctx.validators.problemOf(request.body.schema as JsonObject),
        },
        commandContext(request, request.body.changeReason),
      );
      if (result.state.status !== 'active') throw new Error('registering a schema left no schema');
      const created = result.events.length > 0;
      return reply.status(created ? 201 : 200).send(
        ok({
          serviceId,
          version: result.state.version,
          checksum: result.state.checksum,
          position: Number(result.position),
        }),
      );
    },
  );
};
