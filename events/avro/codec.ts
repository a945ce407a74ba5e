import avro from 'avsc';
import type { ValueChange } from '#events/configuration.ts';
import { EVENT_SCHEMA_VERSIONS, type DomainEventType } from '#events/index.ts';
import type { RecordedEvent } from '#infra/eventstore/port.ts';
import { AVRO_SCHEMAS } from './schemas.ts';
import { UPCASTERS } from '../upcasters.ts';

export const HEADER = {
  eventId: 'event-id',
  eventType: 'event-type',
  schemaVersion: 'schema-version',
  correlationId: 'correlation-id',
  /** Metadata the Avro envelope of the first contract has no field for; headers, so every shipped schema stays as it is. */
  userAgent: 'user-agent',
  idempotencyKey: 'idempotency-key',
} as const;

const types = new Map<string, avro.Type>();
const typeFor = (eventType: string, version: number): avro.Type | undefined => {
  const key = `${eventType}@${version}`;
  if (!types.has(key)) {
    const schema = AVRO_SCHEMAS[eventType as DomainEventType]?.[version];
    if (!schema) return undefined;
    types.set(key, avro.Type.forSchema(schema as avro.Schema));
  }
  return types.get(key);
};

type Data = Record<string, unknown>;
const json = (value: unknown) => (value === undefined ? null : JSON.stringify(value));
const parsed = (text: unknown) => (typeof text === 'string' ? JSON.parse(text) : undefined);
const withoutNulls = (record: Data) => Object.fromEntries(Object.entries(record).filter(([, value]) => value !== null));

/** Event data <-> its Avro record: JSON-valued fields travel as JSON text. */
const dataCodecs: Record<
  'configuration' | 'schema' | 'environment' | 'json',
  { toAvro(data: Data): Data; fromAvro(record: Data): Data }
> = {
  configuration: {
    toAvro: (data) => ({
      serviceId: data.serviceId,
      environment: data.environment,
      version: data.version,
      configurationJson: JSON.stringify(data.configuration),
      checksum: data.checksum,
      changedKeys: data.changedKeys,
      changes: (data.changes as ValueChange[]).map((change) => ({
        path: change.path,
        oldValueJson: 'oldValue' in change ? json(change.oldValue) : null,
        newValueJson: 'newValue' in change ? json(change.newValue) : null,
      })),
      operation: data.operation,
      changeReason: data.changeReason ?? null,
      validatedAgainstSchema: data.validatedAgainstSchema ?? null,
      restoredVersion: data.restoredVersion ?? null,
      approvalJson: json(data.approval),
      forcedJson: json(data.forced),
    }),
    fromAvro: ({ configurationJson, changes, approvalJson, forcedJson, ...rest }) => ({
      ...withoutNulls(rest),
      ...(approvalJson !== null ? { approval: parsed(approvalJson) } : {}),
      ...(typeof forcedJson === 'string' ? { forced: parsed(forcedJson) } : {}),
      configuration: parsed(configurationJson),
      changes: (changes as { path: string; oldValueJson: string | null; newValueJson: string | null }[]).map(
        (change) => ({
          path: change.path,
          ...(change.oldValueJson !== null ? { oldValue: parsed(change.oldValueJson) } : {}),
          ...(change.newValueJson !== null ? { newValue: parsed(change.newValueJson) } : {}),
        }),
      ),
    }),
  },
  schema: {
    toAvro: ({ schema, ...rest }) => ({ ...rest, schemaJson: JSON.stringify(schema) }),
    fromAvro: ({ schemaJson, ...rest }) => ({ ...rest, schema: parsed(schemaJson) }),
  },
  environment: {
    toAvro: ({ impact, forced, ...data }) => ({
      ...data,
      description: data.description ?? null,
      impactJson: json(impact),
      forcedJson: json(forced),
    }),
    fromAvro: ({ impactJson, forcedJson, ...record }) => ({
      ...withoutNulls(record),
      ...(typeof impactJson === 'string' ? { impact: parsed(impactJson) } : {}),
      ...(typeof forcedJson === 'string' ? { forced: parsed(forcedJson) } : {}),
    }),
  },
  json: {
    toAvro: (data) => ({ dataJson: JSON.stringify(data) }),
    fromAvro: ({ dataJson }) => parsed(dataJson) as Data,
  },
};

function familyOf(eventType: string) {
  if (eventType.startsWith('Configuration')) return dataCodecs.configuration;
  if (eventType.startsWith('Schema')) return dataCodecs.schema;
  if (eventType === 'EnvironmentDefined' || eventType === 'EnvironmentUpdated') return dataCodecs.environment;
  return dataCodecs.json;
}

export interface EncodedEvent {
  key: string;
  value: Buffer;
  headers: Record<string, string>;
}

export function encodeEvent(event: RecordedEvent): EncodedEvent {
  const version = Number(event.metadata.schemaVersion ?? 1);
  const type = typeFor(event.type, version);
  if (!type) throw new Error(`no Avro schema for ${event.type} version ${version}`);
  const metadata = event.metadata;
  const value = type.toBuffer({
    eventId: event.id,
    eventType: event.type,
    streamName: event.streamName,
    revision: Number(event.revision),
    position: Number(event.position),
    recordedAt: event.recordedAt.toISOString(),
    metadata: {
      actor: String(metadata.actor ?? 'unknown'),
      correlationId: String(metadata.correlationId ?? ''),
      causationId: metadata.causationId ?? null,
      reason: metadata.reason ?? null,
      sourceIp: metadata.sourceIp ?? null,
      schemaVersion: version,
      occurredAt: String(metadata.occurredAt ?? event.recordedAt.toISOString()),
    },
    data: familyOf(event.type).toAvro(event.data),
  });
  return {
    key: event.streamName,
    value,
    headers: {
      [HEADER.eventId]: event.id,
      [HEADER.eventType]: event.type,
      [HEADER.schemaVersion]: String(version),
      [HEADER.correlationId]: String(metadata.correlationId ?? ''),
      ...(typeof metadata.userAgent === 'string' ? { [HEADER.userAgent]: metadata.userAgent } : {}),
      ...(typeof metadata.idempotencyKey === 'string' ? { [HEADER.idempotencyKey]: metadata.idempotencyKey } : {}),
    },
  };
}

const withoutRecordedTime = (metadata: Data, recordedAt: string) => {
  if (metadata.occurredAt !== recordedAt) return metadata;
  const { occurredAt: _same, ...rest } = metadata;
  return rest;
};

export type Decoded = { status: 'decoded'; event: RecordedEvent } | { status: 'skipped'; reason: string };

/**
 * Decodes a message of `configledger.events.v1`. An unknown event type, or a
 * schema version newer than this code knows, is skipped with the reason and
 * never throws: the consumer carries on and can be upgraded.
 */
export function decodeEvent(message: {
  value: Buffer | null;
  headers?: Record<string, Buffer | string | (Buffer | string)[] | undefined>;
}): Decoded {
  const header = (name: string) => {
    const raw = message.headers?.[name];
    const first = Array.isArray(raw) ? raw[0] : raw;
    return first === undefined ? undefined : first.toString();
  };
  const eventType = header(HEADER.eventType);
  const version = Number(header(HEADER.schemaVersion));
  if (!eventType || !Number.isInteger(version) || !message.value)
    return { status: 'skipped', reason: 'not a configledger event (headers missing)' };
  const known = EVENT_SCHEMA_VERSIONS[eventType as DomainEventType];
  if (known === undefined) return { status: 'skipped', reason: `unknown event type ${eventType}` };
  if (version > known)
    return {
      status: 'skipped',
      reason: `${eventType} schema version ${version} is newer than this consumer knows (${known})`,
    };
  const type = typeFor(eventType, version);
  if (!type) return { status: 'skipped', reason: `no Avro schema for ${eventType} version ${version}` };

  const record = type.fromBuffer(message.value) as Data & { metadata: Data; data: Data };
  const userAgent = header(HEADER.userAgent);
  const idempotencyKey = header(HEADER.idempotencyKey);
  let data = familyOf(eventType).fromAvro(record.data);
  for (let from = version; from < known; from++) {
    const upcast = UPCASTERS[`${eventType}@${from}`];
    if (!upcast) return { status: 'skipped', reason: `no upcaster from ${eventType} version ${from}` };
    data = upcast(data);
  }
  return {
    status: 'decoded',
    event: {
      id: String(record.eventId),
      type: eventType,
      streamName: String(record.streamName),
      revision: BigInt(record.revision as number),
      position: BigInt(record.position as number),
      recordedAt: new Date(String(record.recordedAt)),
      data,
      // The envelope carries a time in occurredAt for consumers that want one; an event that had none has the recorded one there.
      metadata: withoutRecordedTime(
        {
          ...withoutNulls(record.metadata),
          schemaVersion: known,
          ...(userAgent ? { userAgent } : {}),
          ...(idempotencyKey ? { idempotencyKey } : {}),
        },
        String(record.recordedAt),
      ),
    },
  };
}
