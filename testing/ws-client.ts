import WebSocket from 'ws';

export interface Message {
  id: string;
  type: string;
  // biome-ignore lint/suspicious/noExplicitAny: tests assert the messages' fields one by one.
  data?: any;
  acknowledgmentRequired?: boolean;
}

/** A real WebSocket client that keeps every message, so a test can wait for the one it expects. */
export class WsClient {
  readonly messages: Message[] = [];
  readonly socket: WebSocket;
  readonly closed: Promise<{ code: number; reason: string; at: number }>;
  private waiters: (() => void)[] = [];

  constructor(url: string, protocols?: string[]) {
    this.socket = new WebSocket(url, protocols);
    this.socket.on('message', (raw) => {
      this.messages.push(JSON.parse(raw.toString()));
      for (const wake of this.waiters) wake();
    });
    this.closed = new Promise((resolve) =>
      this.socket.on('close', (code, reason) => resolve({ code, reason: reason.toString(), at: Date.now() })),
    );
    this.socket.on('error', () => undefined);
  }

  /** Resolves when the upgrade succeeded; rejects with the HTTP status when it was refused. */
  opened() {
    return new Promise<void>((resolve, reject) => {
      this.socket.once('open', () => resolve());
      this.socket.once('unexpected-response', (_request, response) =>
        reject(new Error(`upgrade refused with ${response.statusCode}`)),
      );
      this.socket.once('error', reject);
    });
  }

  send(message: object) {
    this.socket.send(JSON.stringify(message));
  }

  async next(predicate: (message: Message) => boolean, timeoutMs = 5000): Promise<Message> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.messages.find(predicate);
      if (found) {
        this.messages.splice(this.messages.indexOf(found), 1);
        return found;
      }
      if (Date.now() > deadline)
        throw new Error(`no such message; have ${JSON.stringify(this.messages.map((m) => m.type))}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 50);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  close() {
    this.socket.close();
  }
}
