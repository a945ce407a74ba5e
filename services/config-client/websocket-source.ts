import WebSocket from 'ws';
import type { LocalConfiguration, Snapshot } from './local-state.ts';

interface Target {
  url: string;
  token: string;
  serviceId: string;
  environment: string;
}

const RECONNECT_MAX_MS = 30_000;
/** The close code of a session whose token was refused, revoked or expired. */
const UNAUTHORIZED = 4401;

/** The effective configuration from the HTTP API, at least as new as `minPosition`; undefined when none exists yet. */
export async function fetchSnapshot(target: Target, minPosition?: number): Promise<Snapshot | undefined> {
  const query = new URLSearchParams({
    environment: target.environment,
    ...(minPosition ? { minPosition: String(minPosition) } : {}),
  });
  const response = await fetch(`${target.url}/configurations/${target.serviceId}?${query}`, {
    headers: { authorization: `Bearer ${target.token}` },
  });
  if (response.status === 404) return undefined;
  if (!response.ok) throw new Error(`configledger answered ${response.status}: ${await response.text()}`);
  return ((await response.json()) as { data: Snapshot }).data;
}

/**
 * For services without Kafka: bootstraps over HTTP, then follows
 * `/api/v1/ws` for its one environment. The server pushes every change of
 * the effective configuration — a parent's, a re-parenting, its own — so the
 * client subscribes to nothing else and follows inheritance changes without a
 * restart. Each push carries the new effective document and is acknowledged
 * once applied; a reconnect resumes from the last position applied, and when
 * the server no longer keeps what was missed (RESUME_TOO_OLD) the client reads
 * the current document over HTTP instead.
 */
export async function followWebSocket(
  target: Target,
  state: LocalConfiguration,
  onFailure: (error: Error) => void,
): Promise<{ close(): Promise<void> }> {
  const bootstrap = await fetchSnapshot(target);
  if (bootstrap) state.offer(bootstrap);
  const pattern = `config.${target.serviceId}.${target.environment}`;
  let closed = false;
  let socket: WebSocket | undefined;
  let reconnect: NodeJS.Timeout | undefined;
  let attempt = 0;
  let applying: Promise<void> = Promise.resolve();
  const catchUp = (minPosition?: number) =>
    (applying = applying.then(async () => {
      const snapshot = await fetchSnapshot(target, minPosition);
      if (snapshot) state.offer(snapshot);
    }));

  const connect = () => {
    // The token travels in the subprotocol offer, never in the URL (which proxies and access logs keep).
    const ws = new WebSocket(`${target.url.replace(/^http/, 'ws')}/ws`, ['configledger.v1', `bearer.${target.token}`]);
    socket = ws;
    ws.on('open', () => {
      attempt = 0;
      ws.send(
        JSON.stringify({
          type: 'subscribe',
          data: { patterns: [pattern], fromPosition: state.position, epoch: state.epoch },
        }),
      );
    });
    ws.on('message', (raw) => {
      const message = JSON.parse(raw.toString()) as {
        id: string;
        type: string;
        data?: Partial<Snapshot> & { code?: string };
      };
      if (message.type === 'error' && message.data?.code === 'RESUME_TOO_OLD') {
        catchUp().catch(() => ws.terminate());
        return;
      }
      if (message.type !== 'configuration_changed') return;
      // Each push carries the whole effective document: applied in position order, once (a removed environment leaves the last one held).
      applying = applying.then(() => {
        if (message.data?.configuration) state.offer(message.data as Snapshot);
        ws.send(JSON.stringify({ type: 'ack', data: { messageId: message.id } }));
      });
    });
    ws.on('error', () => ws.terminate());
    ws.on('close', (code) => {
      if (closed) return;
      // A token refused, revoked or expired is not fixed by trying again: stop, and say so, rather than hammer the server.
      if (code === UNAUTHORIZED) {
        closed = true;
        onFailure(
          new Error(
            'configledger refused the token (unknown, revoked or expired): this client no longer follows changes; start it with a valid token',
          ),
        );
        return;
      }
      const delay = Math.min(RECONNECT_MAX_MS, 100 * 2 ** attempt++) * (0.5 + Math.random() / 2);
      reconnect = setTimeout(connect, delay);
    });
  };
  connect();
  return {
    async close() {
      closed = true;
      clearTimeout(reconnect);
      socket?.close();
    },
  };
}
