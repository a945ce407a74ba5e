import { parseEvent } from '#events/parse.ts';
import type { RecordedEvent } from '#infra/eventstore/port.ts';
import type { EffectiveUpdate } from '#projections/effective/fold.ts';
import { actorOf, occurredAt } from '#projections/projection.ts';
import { MessageType, type ServerMessage, serverMessage } from './protocol.ts';

/** One message for the subscribers of (serviceId, environment), serialized once for every connection. */
export interface Push {
  position: bigint;
  serviceId: string;
  environment: string;
  message: ServerMessage;
  /** UTF-8 bytes of the message. */
  text: Buffer;
}

const pushOf = (position: bigint, serviceId: string, environment: string, message: ServerMessage): Push => ({
  position,
  serviceId,
  environment,
  message,
  text: Buffer.from(JSON.stringify(message)),
});

/**
 * `configuration_changed` for one effective configuration an event changed:
 * the effective document with its checksum and position, the effective
 * changes, and the cause
 * (a layer of its chain, or what an environment of it inherits). The message
 * id is the event id for the event's own configuration, the event id and the
 * environment for one inheriting it: the same on every connection and resend.
 */
export function configurationPush(update: EffectiveUpdate, epoch: number): Push {
  const { cause, effective, serviceId, environment } = update;
  const event = parseEvent(cause);
  const layer =
    event.type === 'ConfigurationCreated' ||
    event.type === 'ConfigurationUpdated' ||
    event.type === 'ConfigurationRolledBack'
      ? event
      : undefined;
  const own = layer?.data.environment === environment;
  const causeEnvironment = layer ? layer.data.environment : 'id' in event.data ? String(event.data.id) : undefined;
  const message = {
    ...serverMessage(
      MessageType.configurationChanged,
      {
        serviceId,
        environment,
        version: effective?.version ?? 0,
        checksum: effective?.checksum ?? null,
        position: Number(effective?.position ?? cause.position),
        epoch,
        configuration: effective?.configuration ?? null,
        changedKeys: update.changes.map((change) => change.path),
        changes: update.changes,
        ...(effective && effective.inheritedFrom.length > 0 ? { inheritedFrom: effective.inheritedFrom } : {}),
        ...(effective ? {} : { removed: true }),
        changedBy: actorOf(cause),
        changedAt: occurredAt(cause),
        cause: { type: cause.type, environment: causeEnvironment, position: Number(cause.position), eventId: cause.id },
        ...(own && layer ? { operation: layer.data.operation } : {}),
        ...(own && layer?.data.changeReason ? { changeReason: layer.data.changeReason } : {}),
        ...(own && layer?.type === 'ConfigurationRolledBack' ? { restoredVersion: layer.data.restoredVersion } : {}),
      },
      true,
    ),
    id: own ? cause.id : `${cause.id}:${environment}`,
  };
  return pushOf(cause.position, serviceId, environment, message);
}

/** `credential_rotated` for the service's subscribers: which credential and version, never the value. */
export function credentialPush(recorded: RecordedEvent): Push | undefined {
  const event = parseEvent(recorded);
  if (event.type !== 'CredentialRotated') return undefined;
  const { data } = event;
  const message = {
    ...serverMessage(
      MessageType.credentialRotated,
      {
        credentialKey: data.key,
        serviceId: data.serviceId,
        environment: data.environment,
        rotationId: data.rotationId,
        version: data.secret.version,
        rotatedAt: data.rotatedAt,
        position: Number(event.position),
      },
      true,
    ),
    id: event.id,
  };
  return pushOf(event.position, data.serviceId, data.environment, message);
}
