/** WebSocket subscribers in a worker thread, so that a thousand of them are not measured through one event loop. */
import { parentPort, workerData } from 'node:worker_threads';
import WebSocket from 'ws';

const { base, token, serviceId, count } = workerData as {
  base: string;
  token: string;
  serviceId: string;
  count: number;
};
const now = () => performance.timeOrigin + performance.now();
const arrivals: Map<number, number>[] = [];
const sockets: WebSocket[] = [];

for (let i = 0; i < count; i++) {
  const arrived = new Map<number, number>();
  const socket = new WebSocket(`${base.replace('http', 'ws')}/ws`, ['configledger.v1', `bearer.${token}`]);
  socket.on('message', (raw) => {
    const at = now();
    const message = JSON.parse(raw.toString()) as {
      id: string;
      type: string;
      data: { changes?: { newValue?: number }[] };
    };
    if (message.type !== 'configuration_changed') return;
    const sequence = message.data.changes?.[0]?.newValue;
    if (typeof sequence === 'number' && !arrived.has(sequence)) arrived.set(sequence, at);
    socket.send(JSON.stringify({ type: 'ack', data: { messageId: message.id } }));
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('open', () => {
      socket.send(JSON.stringify({ type: 'subscribe', data: { patterns: [`config.${serviceId}.production`] } }));
      resolve();
    });
    socket.once('error', reject);
  });
  arrivals.push(arrived);
  sockets.push(socket);
}
parentPort!.postMessage({ type: 'ready' });
parentPort!.on('message', (request: { type: string }) => {
  if (request.type === 'received')
    parentPort!.postMessage({ type: 'received', counts: arrivals.map((arrived) => arrived.size) });
  if (request.type === 'collect') {
    for (const socket of sockets) socket.terminate();
    parentPort!.postMessage({ type: 'arrivals', arrivals: arrivals.map((arrived) => [...arrived]) });
  }
});
