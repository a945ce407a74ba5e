import { randomUUID } from 'node:crypto';
import WebSocket from 'ws';
import type { ValueChange } from '#events/configuration.ts';
import {
  type Command,
  ENV,
  EXIT,
  Failed,
  OUTPUT,
  type OutputFormat,
  environmentId,
  outputFormat,
  parse,
  serviceId,
} from './command.ts';
import { note, write } from './output.ts';

interface Change {
  serviceId: string;
  environment: string;
  version: number;
  checksum: string | null;
  position: number;
  epoch: number;
  changedKeys: string[];
  changes: ValueChange[];
  changedBy: string;
  changedAt: string;
  removed?: boolean;
}

interface Message {
  id: string;
  type: string;
  data?: Record<string, unknown>;
  acknowledgmentRequired?: boolean;
}

const CLOSE_UNAUTHORIZED = 4401;
const HEARTBEAT_MS = 20_000;
const SILENCE_MS = 60_000;

const short = (value: unknown) => (value === undefined ? '(none)' : JSON.stringify(value));

function printChange(change: Change, output: OutputFormat): void {
  if (output === 'json') {
    const { serviceId, environment, version, position, epoch, checksum, changedKeys, changes, changedBy, changedAt } =
      change;
    write(
      JSON.stringify({
        serviceId,
        environment,
        version,
        position,
        epoch,
        checksum,
        changedKeys,
        changes,
        changedBy,
        changedAt,
      }),
    );
    return;
  }
  const what = change.removed
    ? 'removed'
    : change.changes
        .slice(0, 5)
        .map((c) => `${c.path} ${short(c.oldValue)} -> ${short(c.newValue)}`)
        .join('; ') + (change.changes.length > 5 ? `; and ${change.changes.length - 5} more` : '');
  write(
    `${change.changedAt} ${change.serviceId}/${change.environment} version ${change.version} by ${change.changedBy}: ${what}`,
  );
}

/**
 * Follows `config.<service>.<environment>` over the WebSocket until SIGINT or
 * SIGTERM: acknowledges every push, and after a lost connection subscribes
 * again from the last position it printed, so nothing is missed or printed twice.
 */
function follow(url: string, token: string, pattern: string, output: OutputFormat): Promise<number> {
  const [, service, environment] = pattern.split('.');
  const label = `${service} in ${environment === '*' ? 'every environment' : environment}`;
  return new Promise((resolve, reject) => {
    let socket: WebSocket | undefined;
    let resume: { position: number; epoch: number } | undefined;
    let acked: { position: number; epoch: number } | undefined;
    const printed = new Map<string, number>();
    let subscribedOnce = false;
    let failures = 0;
    let stopping = false;
    let retryTimer: NodeJS.Timeout | undefined;

    const finish = (outcome: () => void) => {
      stopping = true;
      process.off('SIGINT', stop).off('SIGTERM', stop);
      clearTimeout(retryTimer);
      socket?.terminate();
      outcome();
    };
    const stop = () => finish(() => resolve(EXIT.done));
    const fail = (message: string) => finish(() => reject(new Failed(message)));
    process.on('SIGINT', stop).on('SIGTERM', stop);

    const handle = (ws: WebSocket, message: Message) => {
      if (message.acknowledgmentRequired) ws.send(JSON.stringify({ type: 'ack', data: { messageId: message.id } }));
      const data = message.data ?? {};
      if (message.type === 'connect') {
        ws.send(
          JSON.stringify({
            id: randomUUID(),
            type: 'subscribe',
            data: { patterns: [pattern], ...(resume ? { fromPosition: resume.position, epoch: resume.epoch } : {}) },
          }),
        );
      } else if (message.type === 'ack' && data.subscribed === true) {
        failures = 0;
        acked = { position: Number(data.position), epoch: Number(data.epoch) };
        if (!resume || resume.epoch !== acked.epoch) resume = acked;
        note(
          `${subscribedOnce ? 'resumed watching' : 'watching'} ${label} from position ${resume.position} (Ctrl-C to stop)`,
        );
        subscribedOnce = true;
      } else if (message.type === 'configuration_changed') {
        const change = data as unknown as Change;
        const key = `${change.epoch}/${change.environment}`;
        if ((printed.get(key) ?? -1) >= change.position) return;
        printed.set(key, change.position);
        if (!resume || change.epoch !== resume.epoch || change.position > resume.position)
          resume = { position: change.position, epoch: change.epoch };
        printChange(change, output);
      } else if (message.type === 'error') {
        const code = String(data.code);
        if (code === 'RESUME_TOO_OLD') {
          note(
            `warning: the server no longer keeps the changes since position ${resume?.position}; some were missed (read the current configuration with configledger get); following from position ${acked?.position}`,
          );
          resume = acked;
        } else if (
          code === 'OUT_OF_SCOPE' ||
          code === 'FORBIDDEN' ||
          code === 'UNAUTHORIZED' ||
          code.startsWith('INVALID')
        )
          fail(`${code}: ${String(data.message)}`);
        else if (code !== 'ACK_TIMEOUT') note(`${code}: ${String(data.message)}`);
      }
    };

    const connect = () => {
      const ws = new WebSocket(url, ['configledger.v1', `bearer.${token}`], { handshakeTimeout: 10_000 });
      socket = ws;
      let heard = Date.now();
      let refused: number | undefined;
      let lastError = '';
      const heartbeat = setInterval(() => {
        if (Date.now() - heard > SILENCE_MS) ws.terminate();
        else if (ws.readyState === ws.OPEN) ws.send(JSON.stringify({ type: 'heartbeat' }));
      }, HEARTBEAT_MS);
      ws.on('ping', () => {
        heard = Date.now();
      });
      ws.on('unexpected-response', (_request, response) => {
        refused = response.statusCode;
        ws.terminate();
      });
      ws.on('error', (error: Error & { code?: string }) => {
        lastError = error.code ?? error.message;
      });
      ws.on('message', (raw) => {
        heard = Date.now();
        let message: Message;
        try {
          message = JSON.parse(raw.toString()) as Message;
        } catch {
          return;
        }
        handle(ws, message);
      });
      ws.on('close', (code, reason) => {
        clearInterval(heartbeat);
        if (stopping) return;
        if (code === CLOSE_UNAUTHORIZED)
          return fail(`UNAUTHORIZED: the server closed the connection: ${reason.toString() || 'token refused'}`);
        if (refused === 401 || refused === 403 || refused === 404)
          return fail(`the WebSocket upgrade at ${url} was refused with HTTP ${refused}`);
        if (!subscribedOnce)
          return fail(`cannot watch at ${url}: ${refused ? `HTTP ${refused}` : lastError || `closed (${code})`}`);
        const delay = Math.min(10_000, 500 * 2 ** failures++);
        note(
          `connection lost (${refused ? `HTTP ${refused}` : lastError || code}); reconnecting in ${(delay / 1000).toFixed(1)} s from position ${resume?.position}`,
        );
        retryTimer = setTimeout(connect, delay);
      });
    };
    connect();
  });
}

export const watch: Command = {
  usage: `configledger watch SERVICE [--env ENV|*] [--output json|table]

Print each change of SERVICE's effective configuration in an environment (default production; * for
every one) as it happens, over the WebSocket: one readable line per change, or with --output json one
JSON object per line {serviceId, environment, version, position, epoch, checksum, changedKeys, changes,
changedBy, changedAt}. A lost connection is resumed from the last position printed. Ctrl-C stops it
(exit 0).`,
  async run(args, session) {
    const { values, positionals } = parse(args, { ...OUTPUT, ...ENV }, { min: 1 });
    const output = outputFormat(values.output);
    const service = serviceId(positionals[0]!);
    const environment = values.env === '*' ? '*' : environmentId(values.env);
    const api = session.api();
    const url = new URL(`${api.baseUrl}/ws`);
    url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
    return follow(url.toString(), api.token, `config.${service}.${environment}`, output);
  },
};
