import { Type, type Static } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyRequest } from 'fastify';
import { environmentStream, type EnvironmentDefinition } from '#events/environments.ts';
import type { EnvironmentEntry } from '#projections/environments/directory.ts';
import { waitForPosition } from '#services/configuration/read.ts';
import { handle } from '#services/shared/command-handler.ts';
import { EnvironmentNotFound } from '#services/shared/errors.ts';
import { EnvironmentId, Position, commandContext, ok } from '#services/shared/http.ts';
import { environmentDecider, initialStateFor } from './decider.ts';

const tags = ['environments'];
const EnvironmentType = Type.Union(['development', 'testing', 'staging', 'production', 'custom'].map((type) => Type.Literal(type)));
const DefinitionFields = {
  name: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
  type: Type.Optional(EnvironmentType),
  inheritsFrom: Type.Optional(Type.Array(EnvironmentId, { maxItems: 10, uniqueItems: true, description: 'parents, merged in order; the environment itself wins' })),
  description: Type.Optional(Type.String({ maxLength: 1000 })),
  changeReason: Type.Optional(Type.String({ maxLength: 1000 })),
};
const CreateBody = Type.Object({ id: EnvironmentId, ...DefinitionFields }, { additionalProperties: false });
const UpdateBody = Type.Object(DefinitionFields, { additionalProperties: false });

const view = ({ position, ...entry }: EnvironmentEntry) => ({ ...entry, position: Number(position) });

export const environmentRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { ledger } = app;
  const directory = ledger.readModels.environments;

  async function define(request: FastifyRequest, type: 'Define' | 'Redefine', id: string, body: Static<typeof UpdateBody>) {
    const current = directory.get(id);
    const definition: EnvironmentDefinition = {
      id,
      name: body.name ?? current?.name ?? id,
      type: (body.type ?? current?.type ?? 'custom') as EnvironmentDefinition['type'],
      inheritsFrom: body.inheritsFrom ?? current?.inheritsFrom ?? [],
      ...((body.description ?? current?.description) !== undefined ? { description: body.description ?? current?.description } : {}),
    };
    const result = await handle(
      ledger.store,
      environmentStream(id),
      environmentDecider,
      { type, definition, parentsOf: directory.parentsOf() },
      commandContext(request, body.changeReason),
      initialStateFor(id),
    );
    return { definition, created: result.events[0]?.type === 'EnvironmentDefined', position: Number(result.position) };
  }

  app.get('/environments', { config: { permission: 'read' }, schema: { tags, summary: 'Every environment with its inheritance' } }, async () =>
    ok(directory.list().map(view)),
  );

  app.post(
    '/environments',
    { config: { permission: 'write' }, schema: { tags, summary: 'Define an environment (409 ENVIRONMENT_EXISTS if it exists)', body: CreateBody } },
    async (request, reply) => {
      const { id, ...rest } = request.body;
      const result = await define(request, 'Define', id, rest);
      return reply.status(201).send(ok({ ...result.definition, position: result.position }));
    },
  );

  app.get(
    '/environments/:id',
    {
      config: { permission: 'read' },
      schema: { tags, summary: 'One environment', params: Type.Object({ id: EnvironmentId }), querystring: Type.Object({ minPosition: Type.Optional(Position) }) },
    },
    async (request) => {
      await waitForPosition(ledger, request.query.minPosition);
      const entry = directory.get(request.params.id);
      if (!entry) throw EnvironmentNotFound(request.params.id);
      return ok(view(entry));
    },
  );

  app.put(
    '/environments/:id',
    { config: { permission: 'write' }, schema: { tags, summary: 'Create or change an environment', params: Type.Object({ id: EnvironmentId }), body: UpdateBody } },
    async (request, reply) => {
      const result = await define(request, 'Redefine', request.params.id, request.body);
      return reply.status(result.created ? 201 : 200).send(ok({ ...result.definition, position: result.position }));
    },
  );
};
