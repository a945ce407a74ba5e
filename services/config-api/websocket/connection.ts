import { randomUUID } from 'node:crypto';
import type { WebSocket } from 'ws';
import type { Principal } from '#infra/auth/tokens.ts';
import { hasPermission, inScope } from '../permissions.ts';
import { MessageType, type ServerMessage, patternMatches, serverMessage } from './protocol.ts';
import type { Push } from './pushes.ts';

export const CLOSE = { unauthorized: 4401, slowConsumer: 4008, goingAway: 1001 } as const;

interface Pending {
  message: ServerMessage;
  text: string | Buffer;
  sentAt: number;
  attempts: number;
}

/** One WebSocket session: its principal (for as long as its credential lasts), its patterns, its unacknowledged pushes. */
export class Connection {
  readonly id = randomUUID();
  principal?: Principal;
  readonly patterns = new Set<string>();
  readonly pending = new Map<string, Pending>();
  alive = true;
  /** Messages are handled one after another, after a token sent with the upgrade has been checked. */
  queue: Promise<void> = Promise.resolve();
  private expiry?: NodeJS.Timeout;

  constructor(
    readonly socket: WebSocket,
    readonly address: string,
    private readonly maxBufferedBytes: number,
    /** Told whenever the patterns change (the gateway's index of who wants what). */
    private readonly patternsChanged: (connection: Connection) => void = () => undefined,
  ) {}

  addPatterns(patterns: Iterable<string>): void {
    for (const pattern of patterns) this.patterns.add(pattern);
    this.patternsChanged(this);
  }

  removePatterns(patterns: Iterable<string>): void {
    for (const pattern of patterns) this.patterns.delete(pattern);
    this.patternsChanged(this);
  }

  /** The session lasts as long as its credential: closed 4401 when it expires. */
  authenticated(principal: Principal): void {
    this.principal = principal;
    if (principal.expiresAt === undefined) return;
    // setTimeout takes at most 2^31-1 ms; a longer-lived credential is checked again then.
    const wait = Math.min(principal.expiresAt - Date.now(), 2 ** 31 - 1);
    this.expiry = setTimeout(
      () => (Date.now() >= principal.expiresAt! ? this.end('credential expired') : this.authenticated(principal)),
      Math.max(0, wait),
    );
    this.expiry.unref();
  }

  end(reason: string): void {
    clearTimeout(this.expiry);
    this.principal = undefined;
    this.patterns.clear();
    this.patternsChanged(this);
    this.socket.close(CLOSE.unauthorized, reason);
  }

  closed(): void {
    clearTimeout(this.expiry);
  }

  /** `text` is the message already serialized, when the same message goes to many connections. */
  send(message: ServerMessage, text: string | Buffer = JSON.stringify(message)): void {
    if (this.socket.readyState !== this.socket.OPEN) return;
    if (this.socket.bufferedAmount > this.maxBufferedBytes) {
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

  /** Whether the push is for this session: a pattern matches, and the principal may read the service (now). */
  wants(push: Push, patterns: Iterable<string> = this.patterns): boolean {
    const principal = this.principal;
    if (!principal) return false;
    if (principal.expiresAt !== undefined && Date.now() >= principal.expiresAt) {
      this.end('credential expired');
      return false;
    }
    let matched = false;
    for (const pattern of patterns)
      if (patternMatches(pattern, push.serviceId, push.environment)) {
        matched = true;
        break;
      }
    if (!matched) return false;
    return hasPermission(principal, 'read') && inScope(principal, push.serviceId);
  }

  deliver(push: Push): void {
    if (this.wants(push)) this.send(push.message, push.text);
  }
}
