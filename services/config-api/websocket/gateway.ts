import { randomUUID } from 'node:crypto';
import type { WebSocket } from 'ws';
import type { Principal, TokenVerifier } from '#infra/auth/tokens.ts';
import type { EventStore, Subscription } from '#infra/eventstore/port.ts';
import { hasPermission, inScope } from '../permissions.ts';
import { MessageType, type ServerMessage, parseClientMessage, patternMatches, serverMessage } from './protocol.ts';
import { type Push, pushOf } from './pushes.ts';

export interface GatewayOptions {
  store: EventStore;
  verifyToken: TokenVerifier;
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

    constructor(readonly socket: WebSocket) {}

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

  async function authenticate(connection: Connection, token: string): Promise<boolean> {
    try {
      connection.principal = await options.verifyToken(token);
      connection.send(serverMessage(MessageType.connect, { connectionId: connection.id, serverTime: new Date().toISOString(), subject: connection.principal.subject }));
      return true;
    } catch {
      connection.socket.close(CLOSE.unauthorized, 'invalid token');
      return false;
    }
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

    attach(socket: WebSocket, token: string | undefined): void {
      const connection = new Connection(socket);
      connections.add(connection);
      socket.on('pong', () => (connection.alive = true));
      socket.on('close', () => connections.delete(connection));
      socket.on('error', () => socket.terminate());
      socket.on('message', (raw, isBinary) => {
        if (isBinary) return connection.error('INVALID_MESSAGE', 'send JSON text frames');
        connection.queue = connection.queue
          .then(() => onMessage(connection, raw.toString()))
          .catch((error: unknown) => connection.error('INTERNAL_ERROR', error instanceof Error ? error.message : 'error'));
      });
      if (token) connection.queue = authenticate(connection, token).then(() => undefined);
      else {
        setTimeout(() => {
          if (!connection.principal) socket.close(CLOSE.unauthorized, 'no token: pass ?token= or send a connect message first');
        }, options.authTimeoutMs ?? 5000).unref();
      }
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
