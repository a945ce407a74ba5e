import type { ConfigurationChange } from '#events/configuration.ts';
import type { CredentialRotated } from '#events/credentials.ts';
import type { RecordedEvent } from '#infra/eventstore/port.ts';
import { actorOf } from '#projections/projection.ts';
import { MessageType, type ServerMessage, serverMessage } from './protocol.ts';

/** One change, ready to send: the message id is the event id, the same on every connection and every resend. */
export interface Push {
  event: RecordedEvent;
  serviceId: string;
  environment: string;
  message: ServerMessage;
  /** UTF-8 bytes of the message, encoded once for every connection. */
  text: Buffer;
}

export function pushOf(event: RecordedEvent): Push | undefined {
  let message: ServerMessage;
  let target: { serviceId: string; environment: string };
  if (event.type.startsWith('Configuration')) {
    const data = event.data as unknown as ConfigurationChange & { restoredVersion?: number };
    target = data;
    message = serverMessage(MessageType.configurationChanged, changeMessage(event, data), true);
  } else if (event.type === 'CredentialRotated') {
    const data = event.data as CredentialRotated['data'];
    target = data;
    message = serverMessage(MessageType.credentialRotated, {
      credentialKey: data.key,
      serviceId: data.serviceId,
      environment: data.environment,
      rotationId: data.rotationId,
      version: data.secret.version,
      rotatedAt: data.rotatedAt,
      position: Number(event.position),
    }, true);
  } else {
    return undefined;
  }
  message = { ...message, id: event.id };
  return { event, serviceId: target.serviceId, environment: target.environment, message, text: Buffer.from(JSON.stringify(message)) };
}

function changeMessage(event: RecordedEvent, data: ConfigurationChange & { restoredVersion?: number }) {
  return {
    serviceId: data.serviceId,
    environment: data.environment,
    version: data.version,
    checksum: data.checksum,
    operation: data.operation,
    changedKeys: data.changedKeys,
    changes: data.changes,
    changedBy: actorOf(event),
    ...(data.changeReason ? { changeReason: data.changeReason } : {}),
    ...(data.restoredVersion !== undefined ? { restoredVersion: data.restoredVersion } : {}),
    position: Number(event.position),
    changedAt: event.metadata.occurredAt ?? event.recordedAt.toISOString(),
  };
}
