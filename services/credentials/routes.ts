import { randomUUID } from 'node:crypto';
import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyRequest } from 'fastify';
import {
  CREDENTIAL_TYPES,
  type CredentialDescription,
  SENSITIVITIES,
  VAULT_KEYS_STREAM,
  credentialStream,
} from '#events/credentials.ts';
import { credentialServiceOf, listAccess, listCredentials } from '#projections/credentials/queries.ts';
import type { AppContext } from '#services/shared/context.ts';
import { waitForPosition } from '#services/configuration/read.ts';
import { loadState, recordEvents } from '#services/shared/command-handler.ts';
import { callerOf, commandContext, EnvironmentId, ok, PAGE, Position, ServiceId } from '#services/shared/http.ts';
import { type CredentialCommand, type CredentialState, credentialDecider, serviceOfCredential } from './decider.ts';
import { credentialNotFound, keyRotationUnavailable } from './errors.ts';
import { openChangeRequest } from '#services/approvals/open.ts';
import type { JsonObject } from '#events/metadata.ts';
import { readCredential } from './read.ts';
import { requireScope, unrestricted } from '#services/config-api/permissions.ts';
import { generateValue } from './vault.ts';

const tags = ['credentials'];
const CredentialKey = Type.String({ pattern: '^[a-zA-Z0-9._-]{1,200}$' });
const KeyParams = Type.Object({ key: CredentialKey });
const Value = Type.String({ minLength: 1, maxLength: 64 * 1024 });
const StoreBody = Type.Object(
  {
    key: CredentialKey,
    value: Value,
    type: Type.Union(CREDENTIAL_TYPES.map((type) => Type.Literal(type))),
    serviceId: ServiceId,
    environment: EnvironmentId,
    description: Type.Optional(Type.String({ maxLength: 1000 })),
    sensitivity: Type.Optional(Type.Union(SENSITIVITIES.map((level) => Type.Literal(level)))),
    expiresAt: Type.Optional(Type.String({ format: 'date-time' })),
    tags: Type.Optional(Type.Record(Type.String(), Type.String({ maxLength: 200 }))),
    rotationIntervalDays: Type.Optional(Type.Integer({ minimum: 1, maximum: 3650 })),
    grantedTo: Type.Optional(
      Type.Array(ServiceId, { maxItems: 100, uniqueItems: true, description: 'other services that may decrypt it' }),
    ),
  },
  { additionalProperties: false },
);
const RotateBody = Type.Object(
  {
    value: Type.Optional(Value),
    gracePeriodSeconds: Type.Optional(
      Type.Integer({
        minimum: 0,
        maximum: 30 * 86_400,
        description: 'how long the previous value still reads (?version=previous); default 3600',
      }),
    ),
    reason: Type.Optional(Type.String({ maxLength: 1000 })),
  },
  { additionalProperties: false },
);

const DEFAULT_GRACE_SECONDS = 3600;

/**
 * A store or rotation that an approval policy covers (by environment and
 * sensitivity) becomes a change request. The value in it is already sealed for
 * its version: the request holds ciphertext only.
 */
async function proposeIfRequired(
  ctx: AppContext,
  request: FastifyRequest,
  description: CredentialDescription,
  command: CredentialCommand,
  baseVersion: number,
  reason?: string,
) {
  const policies = ctx.readModels.policies.matchingCredential(description.environment, description.sensitivity);
  if (policies.length === 0) return undefined;
  const change = {
    kind: 'credential' as const,
    serviceId: description.serviceId,
    environment: description.environment,
    command: command as unknown as JsonObject,
    baseVersion,
    changedKeys: [description.key],
  };
  return openChangeRequest(ctx, commandContext(request, reason), change, policies, reason);
}

const metadataOf = (state: Extract<CredentialState, { status: 'active' }>) => ({
  ...state.description,
  version: state.current.secret.version,
  createdAt: state.storedAt,
  rotatedAt: state.previous ? state.current.since : null,
  nextRotationAt: state.nextRotationAt ?? null,
});

export const credentialRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { ctx } = app;

  app.post(
    '/credentials',
    { schema: { tags, summary: 'Store a credential, encrypted; the answer carries metadata only', body: StoreBody } },
    async (request, reply) => {
      const { value, ...fields } = request.body;
      const description: CredentialDescription = {
        ...fields,
        sensitivity: fields.sensitivity ?? 'internal',
        tags: fields.tags ?? {},
      };
      const stream = credentialStream(description.key);
      const { state } = await loadState(ctx.store, stream, credentialDecider);
      const version = (state.status === 'deleted' ? state.versions : 0) + 1;
      const secret = await ctx.vault.seal(description.key, version, value);
      const command: CredentialCommand = {
        type: 'StoreCredential',
        description,
        secret,
        now: new Date().toISOString(),
      };
      const pending = await proposeIfRequired(ctx, request, description, command, version - 1);
      if (pending) return reply.status(202).send(ok({ changeRequest: pending }));
      const result = await ctx.commands.handle(stream, credentialDecider, command, commandContext(request));
      if (result.state.status !== 'active') throw new Error('storing left no credential');
      return reply.status(201).send(ok({ ...metadataOf(result.state), position: Number(result.position) }));
    },
  );

  app.get(
    '/credentials',
    {
      schema: {
        tags,
        summary: 'Credential metadata, never values',
        querystring: Type.Object(
          {
            serviceId: Type.Optional(ServiceId),
            environment: Type.Optional(EnvironmentId),
            ...PAGE,
            cursor: Type.Optional(Type.String({ maxLength: 200, description: 'the nextCursor of the previous page' })),
            minPosition: Type.Optional(Position),
          },
          { additionalProperties: false },
        ),
      },
    },
    async (request) => {
      const { minPosition, limit = 100, ...filter } = request.query;
      await waitForPosition(ctx, minPosition);
      const principal = request.principal!;
      const items = await listCredentials(ctx.db, {
        ...filter,
        limit,
        ...(unrestricted(principal) ? {} : { services: principal.services }),
      });
      return ok({ items, nextCursor: items.length === limit ? String(items[items.length - 1]!.key) : null });
    },
  );

  app.get(
    '/credentials/:key',
    {
      schema: {
        tags,
        summary: 'Decrypt and return a credential; every attempt, granted or not, is recorded',
        params: KeyParams,
        querystring: Type.Object(
          { version: Type.Optional(Type.Union([Type.Literal('current'), Type.Literal('previous')])) },
          { additionalProperties: false },
        ),
      },
    },
    async (request, reply) => {
      const credential = await readCredential(
        ctx,
        callerOf(request),
        request.params.key,
        request.query.version ?? 'current',
      );
      return reply.header('cache-control', 'no-store').send(ok(credential));
    },
  );

  app.post(
    '/credentials/:key/rotate',
    {
      schema: {
        tags,
        summary:
          'Rotate: a supplied value, or one generated for the type; the previous one reads during the grace period',
        params: KeyParams,
        body: RotateBody,
      },
    },
    async (request, reply) => {
      const { key } = request.params;
      const body = request.body ?? {};
      const stream = credentialStream(key);
      const { state } = await loadState(ctx.store, stream, credentialDecider);
      const serviceId = serviceOfCredential(state);
      if (serviceId) requireScope(request.principal!, serviceId);
      if (state.status !== 'active') throw credentialNotFound(key);
      const value = body.value ?? generateValue(state.description.type);
      const secret = await ctx.vault.seal(key, state.current.secret.version + 1, value, false);
      const rotationId = randomUUID();
      const command: CredentialCommand = {
        type: 'RotateCredential',
        key,
        rotationId,
        secret,
        graceSeconds: body.gracePeriodSeconds ?? DEFAULT_GRACE_SECONDS,
        generated: body.value === undefined,
        now: new Date().toISOString(),
      };
      const pending = await proposeIfRequired(
        ctx,
        request,
        state.description,
        command,
        state.current.secret.version,
        body.reason,
      );
      if (pending) return reply.status(202).send(ok({ changeRequest: pending }));
      const result = await ctx.commands.handle(
        stream,
        credentialDecider,
        command,
        commandContext(request, body.reason),
      );
      if (result.state.status !== 'active') throw new Error('rotation left no credential');
      return ok({
        rotationId,
        success: true,
        version: result.state.current.secret.version,
        rotatedAt: result.state.current.since,
        graceUntil: result.state.previous?.graceUntil ?? null,
        nextRotationAt: result.state.nextRotationAt ?? null,
        position: Number(result.position),
      });
    },
  );

  app.delete(
    '/credentials/:key',
    {
      schema: {
        tags,
        summary: 'Delete: the events stay, the keys are destroyed, nothing of the value can be read again',
        params: KeyParams,
      },
    },
    async (request, reply) => {
      const { key } = request.params;
      const { state } = await loadState(ctx.store, credentialStream(key), credentialDecider);
      const serviceId = serviceOfCredential(state);
      if (serviceId) requireScope(request.principal!, serviceId);
      await ctx.commands.handle(
        credentialStream(key),
        credentialDecider,
        { type: 'DeleteCredential', key, now: new Date().toISOString() },
        commandContext(request),
      );
      await ctx.vault.shred(key);
      return reply.status(204).send();
    },
  );

  app.get(
    '/audit/credentials/:key',
    {
      schema: {
        tags,
        summary: 'Every operation on a credential, newest first: who, from where, what happened',
        params: KeyParams,
        querystring: Type.Object(
          {
            ...PAGE,
            minPosition: Type.Optional(Position),
          },
          { additionalProperties: false },
        ),
      },
    },
    async (request) => {
      await waitForPosition(ctx, request.query.minPosition);
      const principal = request.principal!;
      const serviceId = await credentialServiceOf(ctx.db, request.params.key);
      if (serviceId !== undefined) requireScope(principal, serviceId);
      return ok(
        await listAccess(
          ctx.db,
          request.params.key,
          request.query.limit ?? 100,
          unrestricted(principal) ? undefined : principal.services,
        ),
      );
    },
  );

  app.post(
    '/vault/rotate-key',
    { schema: { tags, summary: 'Rotate the key-encryption key and re-wrap every credential key; no value changes' } },
    async (request) => rotateKeyEncryptionKey(ctx, request),
  );
};

async function rotateKeyEncryptionKey(ctx: AppContext, request: FastifyRequest) {
  const previousKekId = ctx.vault.currentKekId;
  let kekId: string;
  try {
    kekId = await ctx.vault.rotateKeyEncryptionKey();
  } catch (error) {
    throw keyRotationUnavailable(error instanceof Error ? error.message : String(error));
  }
  const rewrappedKeys = await ctx.vault.rewrapAll();
  const position = await recordEvents(
    ctx.store,
    VAULT_KEYS_STREAM,
    [{ type: 'KeyEncryptionKeyRotated', data: { kekId, previousKekId, rewrappedKeys } }],
    commandContext(request),
  );
  return ok({ kekId, previousKekId, rewrappedKeys, position: Number(position) });
}
