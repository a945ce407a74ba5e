/** Metadata carried by every event (DESIGN §3). */
export interface EventMetadata {
  /** Token subject of whoever caused the event. */
  actor: string;
  correlationId: string;
  causationId?: string;
  reason?: string;
  sourceIp?: string;
  /** The client program that sent the request, when there was one (its User-Agent, shortened). */
  userAgent?: string;
  /** Version of the event's data shape; an upcaster lifts older versions. */
  schemaVersion: number;
  /** Events written before the one clock carried the accepting instance's time here; the event's time is the store's recorded one. */
  occurredAt?: string;
  /** The scoped idempotency key of the request that caused the event, when it had one. */
  idempotencyKey?: string;
}

export type JsonValue = string | number | boolean | null | JsonValue[] | JsonObject;
export interface JsonObject {
  [key: string]: JsonValue;
}
