import { createHash, randomUUID } from 'node:crypto';
import { EVENT_SCHEMA_VERSIONS, type DomainEvent } from '#events/index.ts';
import { parseEvent } from '#events/parse.ts';
import type { EventMetadata } from '#events/metadata.ts';
import { type EventStore, type RecordedEvent, WrongExpectedRevision } from '#infra/eventstore/port.ts';

export interface Decider<Command, State, Event extends DomainEvent> {
  decide(command: Command, state: State): Event[];
  evolve(state: State, event: Event): State;
  initialState: State;
  /** True when every event carries the whole state, so loading needs only the stream's last event. */
  stateInLastEvent?: boolean;
}

/** Who and why, supplied by the edge for every command. */
export interface CommandContext {
  actor: string;
  correlationId: string;
  causationId?: string;
  reason?: string;
  sourceIp?: string;
  /** The client program, when the command came in a request. */
  userAgent?: string;
  now: Date;
  /**
   * The request's idempotency key, scoped to its caller and target: the
   * command's events get ids derived from it, so a repeat of the command is
   * recognised in the log and answered with what the first one recorded.
   */
  idempotencyKey?: string;
  /** Told once the command's events are known to be in the log: a failure after that must never be answered "not written". */
  onRecorded?: () => void;
}

/** A UUID (version 8, name-based) from a name: the same name, the same id. */
export function nameBasedUuid(name: string): string {
  const bytes = createHash('sha256').update(name).digest().subarray(0, 16);
  bytes[6] = (bytes[6]! & 0x0f) | 0x80;
  bytes[8] = (bytes[8]! & 0x3f) | 0x80;
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** Ids for a command's events: random, or, for a request with an idempotency key, derived from it, the stream and the command's kind. */
const eventIdFor = (context: CommandContext, stream: string, kind: string, index: number) =>
  context.idempotencyKey
    ? nameBasedUuid(`${context.idempotencyKey}\u0000${stream}\u0000${kind}\u0000${index}`)
    : randomUUID();

const kindOf = (command: unknown) => String((command as { type?: unknown } | null)?.type ?? '');

/** What an idempotent command already recorded in `stream`, if it did: its events, in order. */
async function recordedBefore(
  store: EventStore,
  stream: string,
  kind: string,
  context: CommandContext,
): Promise<RecordedEvent[]> {
  if (!context.idempotencyKey) return [];
  const ids = Array.from({ length: 16 }, (_, index) => eventIdFor(context, stream, kind, index));
  return store.readEvents(stream, ids);
}

export interface HandleResult<State, Event> {
  state: State;
  events: Event[];
  /** Stream revision after the command, -1n when the stream does not exist. */
  revision: bigint;
  /** Log position of the last event written, or of the newest event read when nothing was written. */
  position: bigint;
  /** The command had been recorded before (a repeat): this is what it recorded then. */
  replayed?: true;
}

const MAX_ATTEMPTS = 10;

export async function loadState<Command, State, Event extends DomainEvent>(
  store: EventStore,
  stream: string,
  decider: Decider<Command, State, Event>,
  initialState: State = decider.initialState,
): Promise<{ state: State; revision: bigint; position: bigint }> {
  let state = initialState;
  let revision = -1n;
  let position = 0n;
  const events = decider.stateInLastEvent
    ? store.readStream(stream, { direction: 'backwards', maxCount: 1 })
    : store.readStream(stream);
  for await (const recorded of events) {
    state = decider.evolve(state, parseEvent<Event>(recorded));
    revision = recorded.revision;
    position = recorded.position;
  }
  return { state, revision, position };
}

type Loaded<State> = { state: State; revision: bigint; position: bigint };

/**
 * The last state this process saw per stream. A command may decide on it
 * without reading the stream: the append carries the revision, so a stale
 * entry can only fail the append, never overwrite. Entries are forgotten when
 * the log shows a newer revision (`observeLog`) or an append conflicts.
 */
class StreamStates {
  private readonly entries = new Map<string, Loaded<unknown>>();
  private static readonly MAX_ENTRIES = 20_000;

  get<State>(stream: string): Loaded<State> | undefined {
    return this.entries.get(stream) as Loaded<State> | undefined;
  }

  set(stream: string, loaded: Loaded<unknown>): void {
    this.entries.delete(stream);
    if (this.entries.size >= StreamStates.MAX_ENTRIES) this.entries.delete(this.entries.keys().next().value!);
    this.entries.set(stream, loaded);
  }

  forget(stream: string): void {
    this.entries.delete(stream);
  }

  observe(events: RecordedEvent[]): void {
    for (const event of events) {
      const known = this.entries.get(event.streamName);
      if (known && event.revision > known.revision) this.entries.delete(event.streamName);
    }
  }
}

/** Runs commands against one store; one per app, so two apps in one process share no state. */
export interface Commands {
  /**
   * Fold the stream, decide, append at the revision read. A concurrent append
   * to the same stream makes the append fail; the command is then decided
   * again on the fresh state, so no update is lost and a stale
   * `expectedVersion` in the command surfaces as the decider's own conflict.
   * A decision on a cached state counts only if its append succeeds: a refusal
   * or a no-op is re-decided on the stream as stored.
   */
  handle<Command, State, Event extends DomainEvent>(
    stream: string,
    decider: Decider<Command, State, Event>,
    command: Command,
    context: CommandContext,
    initialState?: State,
  ): Promise<HandleResult<State, Event>>;
  /** The last known state of a stream: this process's cached one, else read from the store. */
  loadCachedState<Command, State, Event extends DomainEvent>(
    stream: string,
    decider: Decider<Command, State, Event>,
    initialState?: State,
  ): Promise<Loaded<State> & { cached: boolean }>;
  /** Called with every event the process sees in the log, so cached stream states never outlive a newer revision. */
  observe(events: RecordedEvent[]): void;
}

export function createCommands(store: EventStore): Commands {
  const states = new StreamStates();
  // Commands on one stream run one after another inside this process, so a hot stream costs no retries;
  // conflicts then only come from other instances.
  const queues = new Map<string, Promise<unknown>>();

  async function serialized<T>(stream: string, work: () => Promise<T>): Promise<T> {
    const previous = queues.get(stream) ?? Promise.resolve();
    const current = previous.then(work, work);
    const tail = current.catch(() => undefined);
    queues.set(stream, tail);
    try {
      return await current;
    } finally {
      if (queues.get(stream) === tail) queues.delete(stream);
    }
  }

  async function loadCachedState<Command, State, Event extends DomainEvent>(
    stream: string,
    decider: Decider<Command, State, Event>,
    initialState?: State,
  ): Promise<Loaded<State> & { cached: boolean }> {
    const known = states.get<State>(stream);
    if (known) return { ...known, cached: true };
    const loaded = await loadState(store, stream, decider, initialState);
    states.set(stream, loaded);
    return { ...loaded, cached: false };
  }

  function handle<Command, State, Event extends DomainEvent>(
    stream: string,
    decider: Decider<Command, State, Event>,
    command: Command,
    context: CommandContext,
    initialState?: State,
  ): Promise<HandleResult<State, Event>> {
    return serialized(stream, async () => {
      // A repeat of a command that was recorded (its answer lost) is answered from the log, never decided again.
      const earlier = await recordedBefore(store, stream, kindOf(command), context);
      if (earlier.length > 0) {
        context.onRecorded?.();
        return replayed(store, stream, decider, earlier, initialState);
      }
      for (let attempt = 1; ; attempt++) {
        const loaded = await loadCachedState(stream, decider, initialState);
        let events: Event[];
        try {
          events = decider.decide(command, loaded.state);
        } catch (error) {
          if (!loaded.cached) throw error;
          states.forget(stream);
          continue;
        }
        if (events.length === 0) {
          if (loaded.cached) {
            states.forget(stream);
            continue;
          }
          return { state: loaded.state, events, revision: loaded.revision, position: loaded.position };
        }
        const expected = loaded.revision < 0n ? 'no_stream' : loaded.revision;
        try {
          const stored = events.map((event, index) =>
            toStored(event, context, eventIdFor(context, stream, kindOf(command), index)),
          );
          const appended = await store.append(stream, stored, expected);
          context.onRecorded?.();
          if (appended.recorded) {
            states.forget(stream);
            return replayed(
              store,
              stream,
              decider,
              await store.readEvents(
                stream,
                stored.map((event) => event.id),
              ),
              initialState,
            );
          }
          const state = events.reduce(decider.evolve, loaded.state);
          states.set(stream, { state, revision: appended.nextRevision, position: appended.position });
          return { state, events, revision: appended.nextRevision, position: appended.position };
        } catch (error) {
          states.forget(stream);
          if (!(error instanceof WrongExpectedRevision) || attempt >= MAX_ATTEMPTS) throw error;
          // Another instance wrote the stream: back off a little, with jitter, before deciding again.
          if (!loaded.cached) await new Promise((resolve) => setTimeout(resolve, Math.random() * 5 * attempt));
        }
      }
    });
  }

  return { loadCachedState, observe: (events) => states.observe(events), handle };
}

/**
 * The outcome of a command whose events the log already holds: the state as
 * stored, and those events, with their revision and position.
 */
async function replayed<Command, State, Event extends DomainEvent>(
  store: EventStore,
  stream: string,
  decider: Decider<Command, State, Event>,
  events: RecordedEvent[],
  initialState?: State,
): Promise<HandleResult<State, Event>> {
  const last = events[events.length - 1]!;
  let state = initialState ?? decider.initialState;
  for await (const recorded of store.readStream(stream, { fromRevision: 0n, maxCount: Number(last.revision) + 1 }))
    state = decider.evolve(state, parseEvent<Event>(recorded));
  return {
    state,
    events: events.map((recorded) => parseEvent<Event>(recorded)),
    revision: last.revision,
    position: last.position,
    replayed: true,
  };
}

/** Appends facts that need no decision (an access, a key rotation) to a stream of their own. */
export async function recordEvents(
  store: EventStore,
  stream: string,
  events: DomainEvent[],
  context: CommandContext,
): Promise<bigint> {
  const { position } = await store.append(
    stream,
    events.map((event, index) => toStored(event, context, eventIdFor(context, stream, event.type, index))),
    'any',
  );
  context.onRecorded?.();
  return position;
}

function toStored(event: DomainEvent, context: CommandContext, id: string) {
  // The event's time is the one the store records at commit: one clock for history, audit and reading the past.
  const metadata: EventMetadata = {
    actor: context.actor,
    correlationId: context.correlationId,
    ...(context.causationId ? { causationId: context.causationId } : {}),
    ...(context.reason ? { reason: context.reason } : {}),
    ...(context.sourceIp ? { sourceIp: context.sourceIp } : {}),
    ...(context.userAgent ? { userAgent: context.userAgent } : {}),
    ...(context.idempotencyKey ? { idempotencyKey: context.idempotencyKey } : {}),
    schemaVersion: EVENT_SCHEMA_VERSIONS[event.type],
  };
  return { id, type: event.type, data: { ...event.data }, metadata: { ...metadata } };
}
