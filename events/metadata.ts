/** Metadata carried by every event (DESIGN §3). */
export interface EventMetadata {
  /** Token subject of whoever caused the event. */
  actor: string;
  correlationId: string;
  causationId?: string;
  reason?: string;
  sourceIp?: string;
  /** Version of the event's data shape; an upcaster lifts older versions. */
  schemaVersion: number;
  /** RFC 3339 instant the command was accepted. */
  occurredAt: string;
}

export type JsonValue = string | number | boolean | null | JsonValue[] | JsonObject;
export interface JsonObject {
  [key: string]: JsonValue;
}
