export type ExpectedRevision = 'any' | 'no_stream' | 'stream_exists' | bigint;

export interface EventToAppend {
  id: string;
  type: string;
  data: Record<string, unknown>;
  metadata: Record<string, unknown>;
  /** When the event happened; only a restore gives it (each event keeps its own). Otherwise the store's clock, at commit. */
  recordedAt?: Date;
}

export interface RecordedEvent {
  id: string;
  type: string;
  streamName: string;
  /** 0-based revision of the event within its stream. */
  revision: bigint;
  /**
   * Position in the global log: strictly increasing in commit order, so
   * positions compare; not a count of events, so they do not subtract. The
   * SQL stores number events 1, 2, 3, ...; EventStoreDB gives the commit's
   * byte offset in its transaction file. How many events lie between two
   * positions is the store's to say (`eventsAfter`).
   */
  position: bigint;
  data: Record<string, unknown>;
  metadata: Record<string, unknown>;
  recordedAt: Date;
}

export interface AppendResult {
  /** Revision of the last event written; pass it as `expected` for the next append. */
  nextRevision: bigint;
  /** Global position of the last event written. */
  position: bigint;
  /**
   * The events were already in the log (the same ids): an earlier append of
   * them committed, and nothing was written now. Revision and position are theirs.
   */
  recorded?: true;
}

export interface EventFilter {
  streamPrefixes?: string[];
  eventTypes?: string[];
}

export interface ReadStreamOptions {
  fromRevision?: bigint;
  direction?: 'forwards' | 'backwards';
  maxCount?: number;
}

export interface ReadAllOptions {
  /** Exclusive: events strictly after this position. 0n (default) is the beginning of the log. */
  fromPosition?: bigint;
  /** Inclusive upper bound. */
  toPosition?: bigint;
  direction?: 'forwards' | 'backwards';
  maxCount?: number;
  filter?: EventFilter;
}

export interface SubscribeOptions {
  /** Exclusive checkpoint: the subscription yields events strictly after it. */
  fromPosition: bigint;
  filter?: EventFilter;
  /** Called each time the subscription has read everything stored so far (it is live): the store answers. */
  onCaughtUp?: () => void;
}

/** A catch-up subscription: every stored event after the checkpoint, then live ones, in global order. */
export interface Subscription extends AsyncIterable<RecordedEvent> {
  close(): Promise<void>;
  /** How far the subscription has read the log, matching events or not. */
  readonly position: bigint;
}

export interface EventStore {
  readonly kind: 'postgres' | 'pglite' | 'eventstoredb';
  append(stream: string, events: EventToAppend[], expected: ExpectedRevision): Promise<AppendResult>;
  readStream(stream: string, options?: ReadStreamOptions): AsyncIterable<RecordedEvent>;
  readAll(options?: ReadAllOptions): AsyncIterable<RecordedEvent>;
  subscribeAll(options: SubscribeOptions): Subscription;
  /** The events of `stream` among `ids` (an append's own ids: was it written?), in revision order. */
  readEvents(stream: string, ids: string[]): Promise<RecordedEvent[]>;
  /** Position of the newest event in the log, 0n when empty. */
  headPosition(): Promise<bigint>;
  /** How many events lie after `position` (up to `upTo`, inclusive, when given); undefined when the store cannot tell without reading them. */
  eventsAfter(position: bigint, upTo?: bigint): Promise<number | undefined>;
  close(): Promise<void>;
}

/** The append was not written: it never reached the store, or the store refused it before committing. Retrying is safe. */
export class StoreUnavailable extends Error {
  override readonly name = 'StoreUnavailable';
}

/** The append may or may not have been written, and the store could not be asked: retry with the same event ids (or Idempotency-Key). */
export class OutcomeUnknown extends Error {
  override readonly name = 'OutcomeUnknown';
}

export class WrongExpectedRevision extends Error {
  constructor(
    readonly stream: string,
    readonly expected: ExpectedRevision,
    /** Current revision, -1n when the stream does not exist. */
    readonly actual: bigint,
  ) {
    super(`stream ${stream} is at revision ${actual}, expected ${String(expected)}`);
    this.name = 'WrongExpectedRevision';
  }
}

export function matchesFilter(event: { streamName: string; type: string }, filter?: EventFilter): boolean {
  if (!filter) return true;
  if (filter.streamPrefixes && !filter.streamPrefixes.some((prefix) => event.streamName.startsWith(prefix)))
    return false;
  if (filter.eventTypes && !filter.eventTypes.includes(event.type)) return false;
  return true;
}
