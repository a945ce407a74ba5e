import type { WebSocket } from 'ws';
import type { Principal } from '#infra/auth/tokens.ts';
import type { EventStore } from '#infra/eventstore/port.ts';
import type { SqlExecutor } from '#infra/postgres/database.ts';
import { EffectiveFold } from '#projections/effective/fold.ts';
import { type FollowOptions, type FollowerLogger, followLog } from '#projections/follow.ts';
import { hasPermission, inScope } from '../permissions.ts';
import { CLOSE, Connection } from './connection.ts';
import { MessageType, parseClientMessage, serverMessage } from './protocol.ts';
import { type Push, configurationPush, credentialPush } from './pushes.ts';
import { RecentPushes } from './recent-pushes.ts';
import { SubscriptionIndex } from './subscriptions.ts';

export { CLOSE } from './connection.ts';

export interface GatewayOptions {
  store: EventStore;
  db: SqlExecutor;
  /** Resolves once the read models hold `position` (the gateway's fold is seeded from them). */
  readModelsAt(position: bigint): Promise<boolean>;
  /** Where the read models are: the gateway starts there. */
  readModelsPosition(): bigint;
  /** The log's epoch, in every push; a client resuming from another epoch reads the current document instead. */
  epoch(): number;
  /** The principal of a token (JWT or service token); a refusal counts toward the address's lockout. */
  authenticate(token: string, address: string): Promise<Principal>;
  ackTimeoutMs?: number;
  /** Sends of one unacknowledged message before it is reported to the client as ACK_TIMEOUT. */
  maxAttempts?: number;
  /** A client whose unsent bytes exceed this is disconnected: one slow reader must not exhaust the server. */
  maxBufferedBytes?: number;
  authTimeoutMs?: number;
  heartbeatMs?: number;
  /** Pushes kept to replay to a client that resumes from a position (`subscribe` with `fromPosition`). */
  recentPushes?: number;
  logger?: FollowerLogger;
  onFailure?: FollowOptions['onFailure'];
}

/** What an operator (or a test) may tune. */
export type GatewaySettings = Pick<
  GatewayOptions,
  'ackTimeoutMs' | 'maxAttempts' | 'maxBufferedBytes' | 'authTimeoutMs' | 'heartbeatMs' | 'recentPushes'
>;

/**
 * Pushes effective configuration changes to WebSocket subscribers. It follows
 * the log like any projection (never the request path) with its own fold of
 * the configurations, so a parent's change, a re-parenting or a parent's
 * removal reaches the subscribers of every environment beneath it; filters by
 * each subscriber's patterns and read permission; and replays the recent
 * pushes to a client resuming from the position it last saw.
 */
export function createGateway(options: GatewayOptions) {
  const ackTimeoutMs = options.ackTimeoutMs ?? 5000;
  const maxAttempts = options.maxAttempts ?? 3;
  const maxBufferedBytes = options.maxBufferedBytes ?? 1024 * 1024;
  const connections = new Set<Connection>();
  const subscriptions = new SubscriptionIndex();
  const recent = new RecentPushes(options.recentPushes ?? 10_000);
  let fold: EffectiveFold | undefined;
  let position = 0n;

  const broadcast = (push: Push) => {
    recent.add(push);
    for (const connection of subscriptions.candidates(push.serviceId)) connection.deliver(push);
  };

  const follower = followLog({
    name: 'websocket gateway',
    store: options.store,
    logger: options.logger,
    onFailure: options.onFailure,
    filter: { streamPrefixes: ['config-', 'environment-', 'credential-'] },
    checkpoint: async () => {
      if (fold) return position;
      const start = options.readModelsPosition();
      await options.readModelsAt(start);
      const seeded = new EffectiveFold();
      await seeded.seed(options.store, options.db, start);
      fold = seeded;
      position = start;
      recent.startAt(start);
      return position;
    },
    handle: async (batch) => {
      for (const event of batch) {
        // A batch is handled once: the fold moves on, so a retry must not apply it again.
        if (event.position <= position) continue;
        const credential = credentialPush(event);
        if (credential) broadcast(credential);
        for (const update of fold!.apply(event)) broadcast(configurationPush(update, options.epoch()));
        position = event.position;
      }
    },
  });

  async function authenticate(connection: Connection, token: string): Promise<void> {
    let principal: Principal;
    try {
      principal = await options.authenticate(token, connection.address);
    } catch {
      connection.socket.close(CLOSE.unauthorized, 'invalid token');
      return;
    }
    connection.authenticated(principal);
    connection.send(
      serverMessage(MessageType.connect, {
        connectionId: connection.id,
        serverTime: new Date().toISOString(),
        subject: principal.subject,
      }),
    );
  }

  /** Patterns naming a service outside the principal's scope are refused; wildcards only ever match what is in scope. */
  function refusedPatterns(principal: Principal, patterns: string[]): string[] {
    if (!hasPermission(principal, 'read')) return patterns;
    return patterns.filter((pattern) => {
      const service = pattern.split('.')[1]!;
      return service !== '*' && !inScope(principal, service);
    });
  }

  /**
   * Adds patterns; with `fromPosition`, first replays what the new patterns
   * missed since then (what the patterns already held got live). All in one
   * turn of the event loop, so no live push slips between replay and subscription.
   */
  function subscribe(
    connection: Connection,
    requestId: string | undefined,
    patterns: string[],
    fromPosition?: number,
    epoch?: number,
  ): void {
    const added = patterns.filter((pattern) => !connection.patterns.has(pattern));
    const current = options.epoch();
    connection.send(
      serverMessage(MessageType.ack, {
        requestId,
        patterns,
        subscribed: true,
        position: Number(position),
        epoch: current,
      }),
    );
    if (fromPosition !== undefined && epoch !== undefined && epoch !== current) {
      connection.error(
        'RESUME_TOO_OLD',
        `position ${fromPosition} belongs to epoch ${epoch}; the log was restored since (epoch ${current}): read the current configuration, then follow from its position`,
        {
          requestId,
          epoch: current,
        },
      );
    } else if (fromPosition !== undefined) {
      const missed = recent.since(BigInt(fromPosition));
      if (missed === undefined) {
        connection.error(
          'RESUME_TOO_OLD',
          `changes after position ${fromPosition} are no longer kept here; read the current configuration, then follow from its position`,
          {
            requestId,
            oldestPosition: Number(recent.coveredFrom),
          },
        );
      } else {
        const held = [...connection.patterns];
        for (const push of missed) {
          if (connection.wants(push, added) && !connection.wants(push, held)) connection.send(push.message, push.text);
        }
      }
    }
    connection.addPatterns(added);
  }

  async function onMessage(connection: Connection, raw: string): Promise<void> {
    const parsed = parseClientMessage(raw);
    if (!parsed.ok)
      return connection.error(
        parsed.code,
        parsed.message,
        parsed.requestId ? { requestId: parsed.requestId } : undefined,
      );
    const { message } = parsed;
    if (message.type === 'connect') {
      if (!connection.principal) await authenticate(connection, message.data.token);
      return;
    }
    if (!connection.principal)
      return connection.error('UNAUTHORIZED', 'send {"type":"connect","data":{"token":...}} first');
    switch (message.type) {
      case 'subscribe': {
        const refused = refusedPatterns(connection.principal, message.data.patterns);
        if (refused.length > 0) {
          const code = hasPermission(connection.principal, 'read') ? 'OUT_OF_SCOPE' : 'FORBIDDEN';
          return connection.error(code, `${connection.principal.subject} may not subscribe to ${refused.join(', ')}`, {
            requestId: message.id,
            patterns: refused,
          });
        }
        return subscribe(connection, message.id, message.data.patterns, message.data.fromPosition, message.data.epoch);
      }
      case 'unsubscribe':
        connection.removePatterns(message.data.patterns);
        return connection.send(
          serverMessage(MessageType.ack, { requestId: message.id, patterns: message.data.patterns, subscribed: false }),
        );
      case 'heartbeat':
        return connection.send(serverMessage(MessageType.heartbeat, { serverTime: new Date().toISOString() }));
      case 'ack':
        connection.pending.delete(message.data.messageId);
        return;
      case 'nack': {
        // The client could not apply it: send it once more, counting the attempt.
        const pending = connection.pending.get(message.data.messageId);
        if (pending && pending.attempts < maxAttempts) connection.send(pending.message, pending.text);
        return;
      }
      default: {
        const unknownMessage: never = message;
        return connection.error('UNKNOWN_MESSAGE_TYPE', `unknown message ${JSON.stringify(unknownMessage)}`);
      }
    }
  }

  function checkAcknowledgements(): void {
    const now = Date.now();
    for (const connection of connections) {
      for (const [id, pending] of connection.pending) {
        if (now - pending.sentAt < ackTimeoutMs) continue;
        if (pending.attempts < maxAttempts) connection.send(pending.message, pending.text);
        else {
          connection.pending.delete(id);
          connection.error('ACK_TIMEOUT', `message ${id} was not acknowledged after ${pending.attempts} sends`, {
            messageId: id,
          });
        }
      }
    }
  }

  function checkHeartbeats(): void {
    for (const connection of connections) {
      if (!connection.alive) {
        connection.socket.terminate();
        continue;
      }
      connection.alive = false;
      connection.socket.ping();
    }
  }

  const ackTimer = setInterval(checkAcknowledgements, Math.min(1000, ackTimeoutMs));
  const heartbeatTimer = setInterval(checkHeartbeats, options.heartbeatMs ?? 30_000);

  return {
    start: () => follower.start(),

    attach(socket: WebSocket, token: string | undefined, address: string): void {
      const connection = new Connection(socket, address, maxBufferedBytes, (changed) => subscriptions.update(changed));
      connections.add(connection);
      socket.on('pong', () => (connection.alive = true));
      socket.on('close', () => {
        connection.closed();
        connections.delete(connection);
        subscriptions.remove(connection);
      });
      // A protocol error (a frame over the size limit, say) ends the connection; it is the client's, so no stack trace.
      socket.on('error', (error) => {
        options.logger?.info({ connection: connection.id, err: error.message }, 'WebSocket closed on a protocol error');
        socket.terminate();
      });
      socket.on('message', (raw, isBinary) => {
        if (isBinary) return connection.error('INVALID_MESSAGE', 'send JSON text frames');
        connection.queue = connection.queue
          .then(() => onMessage(connection, raw.toString()))
          .catch((error: unknown) => {
            options.logger?.warn(
              { connection: connection.id, err: error instanceof Error ? error.message : String(error) },
              'a WebSocket message failed',
            );
            connection.error(
              'INTERNAL_ERROR',
              'the message could not be handled; the connection id identifies it in the logs',
              { connectionId: connection.id },
            );
          });
      });
      if (token) connection.queue = authenticate(connection, token);
      else {
        setTimeout(() => {
          if (!connection.principal)
            socket.close(
              CLOSE.unauthorized,
              'no token: offer it as the subprotocol bearer.<token> or send a connect message first',
            );
        }, options.authTimeoutMs ?? 5000).unref();
      }
    },

    /** Closes (4401) every session whose principal matches: its credential was revoked. */
    endSessions(matches: (principal: Principal) => boolean, reason: string): number {
      let ended = 0;
      for (const connection of connections) {
        if (connection.principal && matches(connection.principal)) {
          connection.end(reason);
          ended++;
        }
      }
      return ended;
    },

    get connectionCount(): number {
      return connections.size;
    },

    get position(): bigint {
      return position;
    },

    async stop(): Promise<void> {
      clearInterval(ackTimer);
      clearInterval(heartbeatTimer);
      for (const connection of connections) connection.socket.close(CLOSE.goingAway, 'server shutting down');
      await follower.stop();
    },
  };
}

export type Gateway = ReturnType<typeof createGateway>;
