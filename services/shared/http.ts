import { Type, type Static } from '@sinclair/typebox';
import type { FastifyRequest } from 'fastify';
import type { CommandContext } from './command-handler.ts';
import type { Caller } from './context.ts';
import { forceNeedsAdmin, invalidIfMatch, validationFailed } from './errors.ts';

export const ServiceId = Type.String({
  pattern: '^[a-z0-9][a-z0-9-]{0,99}$',
  description: 'lower-case letters, digits and dashes',
});
export const EnvironmentId = Type.String({
  pattern: '^[a-z][a-z0-9_]{0,49}$',
  description: 'lower-case letters, digits and underscores',
});
/** A dotted path whose segments are never `__proto__`, `constructor` or `prototype` (400 INVALID_KEY). */
export const KEY_PATTERN =
  '^(?!(?:[^.]*\\.)*(?:__proto__|constructor|prototype)(?:\\.|$))[A-Za-z0-9_$-]+(?:\\.[A-Za-z0-9_$-]+)*$';
export const Key = Type.String({
  pattern: KEY_PATTERN,
  maxLength: 500,
  description:
    'dotted path, e.g. risk.limits.maxPosition; no segment may be __proto__, constructor or prototype (400 INVALID_KEY)',
});
export const ChangeReason = Type.String({ maxLength: 1000 });
/** Versions are stored as 32-bit integers, positions as 64-bit ones read back as exact JavaScript numbers: past that, a 400. */
export const MAX_VERSION = 2_147_483_647;
export const VersionNumber = (description?: string) =>
  Type.Integer({ minimum: 1, maximum: MAX_VERSION, ...(description ? { description } : {}) });
export const ExpectedVersion = Type.Integer({
  minimum: 0,
  maximum: MAX_VERSION,
  description: 'the version the change was based on; 409 VERSION_CONFLICT otherwise',
});
export const JsonDocument = Type.Object({}, { additionalProperties: true, description: 'a JSON object' });
export const AnyJson = Type.Unknown({ description: 'any JSON value' });
export const Position = Type.Integer({
  minimum: 0,
  maximum: Number.MAX_SAFE_INTEGER,
  description: 'log position; a read with minPosition waits until the read model has it',
});

/** The page size every list takes: `limit` (100 by default, at most 1000); the answer's `nextCursor` asks for the next page. */
export const PAGE = { limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 100 })) };

export const Force = Type.Optional(
  Type.Boolean({
    description:
      'an admin, with a changeReason, applies the change although environments inheriting from this one would fail their schema (recorded)',
  }),
);

export const EnvironmentQuery = Type.Object(
  { environment: Type.Optional(EnvironmentId) },
  { additionalProperties: false },
);
export type EnvironmentQuery = Static<typeof EnvironmentQuery>;

export const DEFAULT_ENVIRONMENT = 'production';

/** The success envelope of every answer. */
export const ok = <T>(data: T) => ({ success: true as const, data, timestamp: new Date().toISOString() });

declare module 'fastify' {
  interface FastifyRequest {
    /** Set once a command of this request is known to be in the log. */
    recorded?: boolean;
  }
}

/** The caller of an application function, from an authenticated request. */
export function callerOf(request: FastifyRequest, reason?: string): Caller {
  const userAgent = request.headers['user-agent'];
  return {
    principal: request.principal!,
    context: commandContext(request, reason),
    ...(userAgent ? { userAgent: String(userAgent).slice(0, 300) } : {}),
  };
}

export function commandContext(request: FastifyRequest, reason?: string): CommandContext {
  const userAgent = request.headers['user-agent'];
  return {
    actor: request.principal?.subject ?? 'anonymous',
    correlationId: String(request.id),
    ...(reason ? { reason } : {}),
    sourceIp: request.ip,
    ...(userAgent ? { userAgent: String(userAgent).slice(0, 300) } : {}),
    now: new Date(),
    ...(request.idempotencyScope ? { idempotencyKey: request.idempotencyScope } : {}),
    onRecorded: () => {
      request.recorded = true;
    },
  };
}

/** `If-Match: 3` or `If-Match: "3"` (the ETag GET returns); a body `expectedVersion` wins when both are given. */
export function expectedVersionOf(request: FastifyRequest, fromBody?: number): number | undefined {
  if (fromBody !== undefined) return fromBody;
  const header = request.headers['if-match'];
  if (header === undefined) return undefined;
  const match = /^\s*(?:W\/)?"?(\d+)"?\s*$/.exec(header);
  if (!match) throw invalidIfMatch();
  return Number(match[1]);
}

/** `?force=true`: only an admin may, and only with a reason, since the change knowingly breaks what inheriting environments read. */
export function forceOf(request: FastifyRequest, reason: string | undefined): true | undefined {
  if ((request.query as { force?: unknown } | undefined)?.force !== true) return undefined;
  if (!request.principal?.roles.includes('admin')) throw forceNeedsAdmin();
  if (!reason)
    throw validationFailed(
      [{ path: 'changeReason', message: 'required with force' }],
      'a forced change needs a changeReason',
    );
  return true;
}
