import { Type, type Static } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { randomUUID } from 'node:crypto';

/** Message types of `/api/v1/ws`, as in the original protocol. */
export const MessageType = {
  connect: 'connect',
  subscribe: 'subscribe',
  unsubscribe: 'unsubscribe',
  heartbeat: 'heartbeat',
  configurationChanged: 'configuration_changed',
  credentialRotated: 'credential_rotated',
  ack: 'ack',
  nack: 'nack',
  error: 'error',
} as const;

/** `config.<serviceId>.<environment>`, either part may be `*`. */
const Pattern = Type.String({ pattern: '^config\\.([a-z0-9][a-z0-9-]{0,99}|\\*)\\.([a-z][a-z0-9_]{0,49}|\\*)$' });

const ClientMessage = Type.Union([
  Type.Object({
    id: Type.Optional(Type.String()),
    type: Type.Literal('connect'),
    data: Type.Object({ token: Type.String() }),
  }),
  Type.Object({
    id: Type.Optional(Type.String()),
    type: Type.Literal('subscribe'),
    data: Type.Object({
      patterns: Type.Array(Pattern, { minItems: 1, maxItems: 100 }),
      /** Resume: every matching change after this log position is sent first, in order. */
      fromPosition: Type.Optional(Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER })),
      /** The epoch `fromPosition` belongs to: from another epoch (a restored log) there is nothing to resume. */
      epoch: Type.Optional(Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER })),
    }),
  }),
  Type.Object({
    id: Type.Optional(Type.String()),
    type: Type.Literal('unsubscribe'),
    data: Type.Object({ patterns: Type.Array(Pattern, { minItems: 1 }) }),
  }),
  Type.Object({
    id: Type.Optional(Type.String()),
    type: Type.Literal('heartbeat'),
    data: Type.Optional(Type.Unknown()),
  }),
  Type.Object({
    id: Type.Optional(Type.String()),
    type: Type.Literal('ack'),
    data: Type.Object({ messageId: Type.String() }),
  }),
  Type.Object({
    id: Type.Optional(Type.String()),
    type: Type.Literal('nack'),
    data: Type.Object({ messageId: Type.String(), reason: Type.Optional(Type.String({ maxLength: 1000 })) }),
  }),
]);
export type ClientMessage = Static<typeof ClientMessage>;

const checkClientMessage = TypeCompiler.Compile(ClientMessage);

export type Parsed =
  | { ok: true; message: ClientMessage }
  | { ok: false; code: string; message: string; requestId?: string };

export function parseClientMessage(raw: string): Parsed {
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    return { ok: false, code: 'INVALID_JSON', message: 'the message is not JSON' };
  }
  if (checkClientMessage.Check(value)) return { ok: true, message: value };
  const { type, id } = typeof value === 'object' && value !== null ? (value as { type?: unknown; id?: unknown }) : {};
  const requestId = typeof id === 'string' ? { requestId: id } : {};
  if (typeof type === 'string' && !Object.values(MessageType).includes(type as never)) {
    return { ok: false, code: 'UNKNOWN_MESSAGE_TYPE', message: `unknown message type ${type}`, ...requestId };
  }
  const first = [...checkClientMessage.Errors(value)].sort((a, b) => b.path.length - a.path.length)[0];
  return {
    ok: false,
    code: 'INVALID_MESSAGE',
    message: first ? `${first.path || '/'}: ${first.message}` : 'invalid message',
    ...requestId,
  };
}

export interface ServerMessage {
  id: string;
  type: (typeof MessageType)[keyof typeof MessageType];
  timestamp: number;
  data?: unknown;
  acknowledgmentRequired?: boolean;
}

export const serverMessage = (
  type: ServerMessage['type'],
  data?: unknown,
  acknowledgmentRequired?: boolean,
): ServerMessage => ({
  id: randomUUID(),
  type,
  timestamp: Date.now(),
  ...(data !== undefined ? { data } : {}),
  ...(acknowledgmentRequired ? { acknowledgmentRequired } : {}),
});

export function patternMatches(pattern: string, serviceId: string, environment: string): boolean {
  const [, service, env] = pattern.split('.');
  return (service === '*' || service === serviceId) && (env === '*' || env === environment);
}
