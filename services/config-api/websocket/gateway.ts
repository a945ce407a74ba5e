import { randomUUID } from 'node:crypto';
import type { WebSocket } from 'ws';
import type { Principal } from '#infra/auth/tokens.ts';
import type { EventStore, Subscription } from '#infra/eventstore/port.ts';
import { hasPermission, inScope } from '../permissions.ts';
import { MessageType, type ServerMessage, parseClientMessage, patternMatches, serverMessage } from './protocol.ts';
import { type Push, pushOf } from './pushes.ts';

export interface GatewayOptions {
  store: EventStore;
  /** The principal of a token (JWT or service token); a refusal counts toward the address's lockout. */
  authenticate(token: string, address: string): Promise<Principal>;
  ackTimeoutMs?: number;
  /** Sends of one unacknowledged message before it is reported to the client as ACK_TIMEOUT. */
  maxAttempts?: number;
  /** A client whose unsent bytes exceed this is disconnected: one slow reader must not exhaust the server. */
  maxBufferedBytes?: number;
  authTimeoutMs?: number;
  heartbeatMs?: number;
}

export const CLOSE = { unauthorized: 4401, slowConsumer: 4008, goingAway: 1001 } as const;

/** Configuration streams and credential streams (whose rotations are announced, never their values). */
const PUSHED_STREAMS = ['config-', 'credential-'];

interface Pending {
  message: ServerMessage;
  text: string | Buffer;
  sentAt: number;
  attempts: number;
}

/**
 * Pushes configuration changes to WebSocket subscribers. It follows the log
 * like any projection (never the request path), filters by each subscriber's
 * patterns and read permission, and resumes a reconnecting client from the log
 * position it last saw.
 */
export function createGateway(options: GatewayOptions) {
  const ackTimeoutMs = options.ackTimeoutMs ?? 5000;
  const maxAttempts = options.maxAttempts ?? 3;
  const maxBufferedBytes = options.maxBufferedBytes ?? 1024 * 1024;
  const connections = new Set<Connection>();
  let subscription: Subscription | undefined;
  let following: Promise<void> | undefined;
  let livePosition = 0n;
  let stopped = false;

  class Connection {
    readonly id = randomUUID();
    principal?: Principal;
    readonly patterns = new Set<string>();
    readonly pending = new Map<string, Pending>();
    /** While a resume reads the log, live events wait here. */
    backlog: Push[] | undefined;
    lastSentPosition = 0n;
    alive = true;
    /** Messages are handled one after another, after a query-string token has been checked. */
    queue: Promise<void> = Promise.resolve();
    private expiry?: NodeJS.Timeout;

    constructor(
      readonly socket: WebSocket,
      readonly address: string,
    ) {}

    /** The session lasts as long as its credential: closed 4401 when it expires. */
    authenticated(principal: Principal): void {
      this.principal = principal;
      if (principal.expiresAt === undefined) return;
      // setTimeout takes at most 2^31-1 ms; a longer-lived credential is checked again then.
      const wait = Math.min(principal.expiresAt - Date.now(), 2 ** 31 - 1);
      this.expiry = setTimeout(() => (Date.now() >= principal.expiresAt! ? this.end('credential expired') : this.authenticated(principal)), Math.max(0, wait));
      this.expiry.unref();
    }

    end(reason: string): void {
      clearTimeout(this.expiry);
      this.principal = undefined;
      this.patterns.clear();
      this.socket.close(CLOSE.unauthorized, reason);
    }

    forget(): void {
      clearTimeout(this.expiry);
      connections.delete(this);
    }

    /** `text` is the message already serialized, when the same message goes to many connections. */
    send(message: ServerMessage, text: string | Buffer = JSON.stringify(message)): void {
      if (this.socket.readyState !== this.socket.OPEN) return;
      if (this.socket.bufferedAmount > maxBufferedBytes) {
        this.socket.close(CLOSE.slowConsumer, 'slow consumer: send buffer over its limit');
        return;
      }
      this.socket.send(text, { binary: false });
      if (message.acknowledgmentRequired) {
        const known = this.pending.get(message.id);
        this.pending.set(message.id, { message, text, sentAt: Date.now(), attempts: (known?.attempts ?? 0) + 1 });
      }
    }

    error(code: string, message: string, details?: Record<string, unknown>): void {
      this.send(serverMessage(MessageType.error, { code, message, ...details }));
    }

    offer(push: Push): void {
      if (this.backlog) {
        this.backlog.push(push);
        return;
      }
      this.deliver(push);
    }

    deliver({ event, serviceId, environment, message, text }: Push): void {
      if (event.position <= this.lastSentPosition || !this.principal) return;
      if (this.principal.expiresAt !== undefined && Date.now() >= this.principal.expiresAt) return this.end('credential expired');
      if (![...this.patterns].some((pattern) => patternMatches(pattern, serviceId, environment))) return;
      if (!hasPermission(this.principal, 'read') || !inScope(this.principal, serviceId)) return;
      this.lastSentPosition = event.position;
      this.send(message, text);
    }

    async resume(fromPosition: bigint): Promise<void> {
      this.backlog = [];
      const upTo = livePosition;
      try {
        for await (const event of options.store.readAll({ fromPosition, toPosition: upTo, filter: { streamPrefixes: PUSHED_STREAMS } })) {
          if (this.socket.readyState !== this.socket.OPEN) return;
          const push = pushOf(event);
          if (push) this.deliver(push);
        }
      } finally {
        const waiting = this.backlog;
        this.backlog = undefined;
        for (const push of waiting) this.deliver(push);
      }
    }
  }

  async function authenticate(connection: Connection, token: string): Promise<void> {
    let principal: Principal;
    try {
      principal = await options.authenticate(token, connection.address);
    } catch {
      connection.socket.close(CLOSE.unauthorized, 'invalid token');
      return;
    }
    connection.authenticated(principal);
    connection.send(serverMessage(MessageType.connect, { connectionId: connection.id, serverTime: new Date().toISOString(), subject: principal.subject }));
  }

  /** Patterns naming a service outside the principal's scope are refused; wildcards only ever match what is in scope. */
  function refusedPatterns(principal: Principal, patterns: string[]): string[] {
    if (!hasPermission(principal, 'read')) return patterns;
    return patterns.filter((pattern) => {
      const service = pattern.split('.')[1]!;
      return service !== '*' && !inScope(principal, service);
    });
  }

  async function onMessage(connection: Connection, raw: string): Promise<void> {
    const parsed = parseClientMessage(raw);
    if (!parsed.ok) return connection.error(parsed.code, parsed.message);
    const { message } = parsed;
    if (message.type === 'connect') {
      if (!connection.principal) await authenticate(connection, message.data.token);
      return;
    }
    if (!connection.principal) return connection.error('UNAUTHORIZED', 'send {"type":"connect","data":{"token":...}} first');
    switch (message.type) {
      case 'subscribe': {
        const refused = refusedPatterns(connection.principal, message.data.patterns);
        if (refused.length > 0) {
          const code = hasPermission(connection.principal, 'read') ? 'OUT_OF_SCOPE' : 'FORBIDDEN';
          return connection.error(code, `${connection.principal.subject} may not subscribe to ${refused.join(', ')}`, { requestId: message.id, patterns: refused });
        }
        message.data.patterns.forEach((pattern) => connection.patterns.add(pattern));
        connection.send(serverMessage(MessageType.ack, { requestId: message.id, patterns: message.data.patterns, subscribed: true, position: Number(livePosition) }));
        if (message.data.fromPosition !== undefined) await connection.resume(BigInt(message.data.fromPosition));
        else connection.lastSentPosition = connection.lastSentPosition > livePosition ? connection.lastSentPosition : livePosition;
        return;
      }
      case 'unsubscribe':
        message.data.patterns.forEach((pattern) => connection.patterns.delete(pattern));
        return connection.send(serverMessage(MessageType.ack, { requestId: message.id, patterns: message.data.patterns, subscribed: false }));
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
          connection.error('ACK_TIMEOUT', `message ${id} was not acknowledged after ${pending.attempts} sends`, { messageId: id });
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

  async function follow(): Promise<void> {
    while (!stopped) {
      try {
        subscription = options.store.subscribeAll({ fromPosition: livePosition, filter: { streamPrefixes: PUSHED_STREAMS } });
        for await (const event of subscription) {
          livePosition = event.position;
          if (connections.size === 0) continue;
          // Built and serialized once, whatever the number of subscribers.
          const push = pushOf(event);
          if (push) for (const connection of connections) connection.offer(push);
        }
      } catch {
        if (!stopped) await new Promise((resolve) => setTimeout(resolve, 500));
      }
    }
  }

  return {
    async start(): Promise<void> {
      livePosition = await options.store.headPosition();
      following = follow();
    },

    attach(socket: WebSocket, token: string | undefined, address: string): void {
      const connection = new Connection(socket, address);
      connections.add(connection);
      socket.on('pong', () => (connection.alive = true));
      socket.on('close', () => connection.forget());
      socket.on('error', () => socket.terminate());
      socket.on('message', (raw, isBinary) => {
        if (isBinary) return connection.error('INVALID_MESSAGE', 'send JSON text frames');
        connection.queue = connection.queue
          .then(() => onMessage(connection, raw.toString()))
          .catch((error: unknown) => connection.error('INTERNAL_ERROR', error instanceof Error ? error.message : 'error'));
      });
      if (token) connection.queue = authenticate(connection, token);
      else {
        setTimeout(() => {
          if (!connection.principal) socket.close(CLOSE.unauthorized, 'no token: offer it as the subprotocol bearer.<token> or send a connect message first');
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

    async stop(): Promise<void> {
      stopped = true;
      clearInterval(ackTimer);
      clearInterval(heartbeatTimer);
      for (const connection of connections) connection.socket.close(CLOSE.goingAway, 'server shutting down');
      await subscription?.close();
      await following;
    },
  };
}

export type Gateway = ReturnType<typeof createGateway>;
