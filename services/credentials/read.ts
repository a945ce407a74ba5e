import { type AccessOutcome, credentialAccessStream, credentialStream } from '#events/credentials.ts';
import type { JsonObject, JsonValue } from '#events/metadata.ts';
import { ROLES_FOR, hasPermission, mayReadCredential } from '#services/config-api/permissions.ts';
import type { AppContext, Caller } from '#services/shared/context.ts';
import { loadState, recordEvents } from '#services/shared/command-handler.ts';
import { credentialDecider, serviceOfCredential } from './decider.ts';
import {
  credentialExpired,
  credentialNotFound,
  credentialOutOfScope,
  credentialReadForbidden,
  credentialShredded,
  gracePeriodOver,
} from './errors.ts';

function record(
  ctx: AppContext,
  caller: Caller,
  key: string,
  outcome: AccessOutcome,
  details: { version?: number; serviceId?: string; reason?: string } = {},
) {
  ctx.observe.credentialAccess(outcome);
  return recordEvents(
    ctx.store,
    credentialAccessStream(key),
    [
      {
        type: 'CredentialAccessed',
        data: {
          key,
          operation: 'retrieve',
          outcome,
          ...details,
          ...(caller.userAgent ? { userAgent: caller.userAgent } : {}),
        },
      },
    ],
    caller.context,
  );
}

/**
 * Decrypts one credential for the caller. Every attempt is an event, granted
 * or not; the value leaves only after its read was recorded.
 */
export async function readCredential(
  ctx: AppContext,
  caller: Caller,
  key: string,
  which: 'current' | 'previous' = 'current',
) {
  const { state } = await loadState(ctx.store, credentialStream(key), credentialDecider);
  const serviceId = serviceOfCredential(state);
  const { principal } = caller;
  const description = state.status === 'active' ? state.description : serviceId ? { serviceId } : undefined;
  if (!hasPermission(principal, 'secret') || (description && !mayReadCredential(principal, description))) {
    await record(ctx, caller, key, 'denied', {
      serviceId,
      reason: `${principal.subject} may not read this credential`,
    });
    if (!hasPermission(principal, 'secret')) throw credentialReadForbidden(principal.subject, ROLES_FOR.secret);
    throw credentialOutOfScope(principal.subject, key, serviceId);
  }
  if (state.status === 'deleted') {
    await record(ctx, caller, key, 'shredded', { serviceId });
    throw credentialShredded(key);
  }
  if (state.status !== 'active') {
    await record(ctx, caller, key, 'not_found');
    throw credentialNotFound(key);
  }
  const now = Date.now();
  if (state.description.expiresAt && Date.parse(state.description.expiresAt) <= now) {
    await record(ctx, caller, key, 'expired', { serviceId, version: state.current.secret.version });
    throw credentialExpired(key, state.description.expiresAt);
  }
  let secret = state.current.secret;
  if (which === 'previous') {
    const previous = state.previous;
    if (!previous?.graceUntil || Date.parse(previous.graceUntil) <= now) {
      await record(ctx, caller, key, 'grace_period_over', { serviceId, version: previous?.secret.version });
      throw gracePeriodOver(key, previous?.graceUntil);
    }
    secret = previous.secret;
  }
  const value = await ctx.vault.open(key, secret);
  await record(ctx, caller, key, 'granted', { serviceId, version: secret.version });
  return {
    key,
    value,
    version: secret.version,
    type: state.description.type,
    expiresAt: state.description.expiresAt ?? null,
  };
}

const REFERENCE = /\$\{SECRET:([a-zA-Z0-9._-]{1,200})\}/g;

/**
 * A copy of `document` with every `${SECRET:name}` replaced by the credential's
 * value, each read as the caller (permission checked, access recorded). The
 * stored configuration keeps its references.
 */
export async function resolveSecrets(ctx: AppContext, caller: Caller, document: JsonObject): Promise<JsonObject> {
  const names = new Set<string>();
  const collect = (value: JsonValue): void => {
    if (typeof value === 'string') for (const match of value.matchAll(REFERENCE)) names.add(match[1]!);
    else if (Array.isArray(value)) value.forEach(collect);
    else if (value && typeof value === 'object') Object.values(value).forEach(collect);
  };
  collect(document);
  if (names.size === 0) return document;
  const values = new Map<string, string>();
  for (const name of names) values.set(name, (await readCredential(ctx, caller, name)).value);
  const substitute = (value: JsonValue): JsonValue => {
    if (typeof value === 'string') return value.replace(REFERENCE, (_, name: string) => values.get(name)!);
    if (Array.isArray(value)) return value.map(substitute);
    if (value && typeof value === 'object')
      return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, substitute(v)]));
    return value;
  };
  return substitute(document) as JsonObject;
}
