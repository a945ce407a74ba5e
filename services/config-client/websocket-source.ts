import WebSocket from 'ws';
import type { LocalConfiguration, Snapshot } from './local-state.ts';

interface Target {
  url: string;
  token: string;
  serviceId: string;
  environment: string;
}

interface View extends Snapshot {
  inheritedFrom?: string[];
}

const RECONNECT_MAX_MS = 5000;

/** The effective configuration from the HTTP API, at least as new as `minPosition`; undefined when none exists yet. */
export async function fetchSnapshot(target: Target, minPosition?: number): Promise<View | undefined> {
  const query = new URLSearchParams({ environment: target.environment, ...(minPosition ? { minPosition: String(minPosition) } : {}) });
  const response = await fetch(`${target.url}/configurations/${target.serviceId}?${query}`, { headers: { authorization: `Bearer ${target.token}` } });
  if (response.status === 404) return undefined;
  if (!response.ok) throw new Error(`configledger answered ${response.status}: ${await response.text()}`);
  return ((await response.json()) as { data: View }).data;
}

/**
 * For services without Kafka: bootstraps over HTTP, then follows
 * `/api/v1/ws`, acknowledging each change and fetching the new effective
 * document. A reconnect resumes from the last position applied.
 */
export async function followWebSocket(target: Target, state: LocalConfiguration): Promise<{ close(): Promise<void> }> {
  const bootstrap = await fetchSnapshot(target);
  if (bootstrap) state.offer(bootstrap);
  const environments = [target.environment, ...(bootstrap?.inheritedFrom ?? [])];
  const patterns = environments.map((environment) => `config.${target.serviceId}.${environment}`);
  let closed = false;
  let socket: WebSocket | undefined;
  let attempt = 0;
  let applying: Promise<void> = Promise.resolve();

  const connect = () => {
    // The token travels in the subprotocol offer, never in the URL (which proxies and access logs keep).
    const ws = new WebSocket(`${target.url.replace(/^http/, 'ws')}/ws`, ['configledger.v1', `bearer.${target.token}`]);
    socket = ws;
    ws.on('open', () => {
      attempt = 0;
      ws.send(JSON.stringify({ type: 'subscribe', data: { patterns, fromPosition: state.position } }));
    });
    ws.on('message', (raw) => {
      const message = JSON.parse(raw.toString()) as { id: string; type: string; data?: { position?: number } };
      if (message.type !== 'configuration_changed') return;
      const position = message.data?.position ?? 0;
      applying = applying
        .then(async () => {
          if (position > state.position) {
            const snapshot = await fetchSnapshot(target, position);
            if (snapshot) state.offer(snapshot);
          }
          ws.send(JSON.stringify({ type: 'ack', data: { messageId: message.id } }));
        })
        .catch(() => ws.send(JSON.stringify({ type: 'nack', data: { messageId: message.id, reason: 'fetch failed' } })));
    });
    ws.on('error', () => ws.terminate());
    ws.on('close', () => {
      if (closed) return;
      const delay = Math.min(RECONNECT_MAX_MS, 100 * 2 ** attempt++);
      setTimeout(connect, delay);
    });
  };
  connect();
  return {
    async close() {
      closed = true;
      socket?.close();
    },
  };
}
