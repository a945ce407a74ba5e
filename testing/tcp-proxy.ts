import { createServer, connect, type Server, type Socket } from 'node:net';

/** A TCP proxy a test can cut (every connection dropped, new ones refused), reset, slow down and restore. */
export async function startTcpProxy(targetHost: string, initialPort: number) {
  let targetPort = initialPort;
  const sockets = new Set<Socket>();
  let delayMs = 0;
  let server: Server | undefined;
  let port = 0;

  const listen = () =>
    new Promise<void>((resolve) => {
      if (server?.listening) return resolve();
      server = createServer((client) => {
        const upstream = connect(targetPort, targetHost);
        sockets.add(client).add(upstream);
        const forward = (from: Socket, to: Socket) =>
          from.on('data', (chunk) => {
            if (delayMs === 0) to.write(chunk);
            else setTimeout(() => to.writable && to.write(chunk), delayMs);
          });
        forward(client, upstream);
        forward(upstream, client);
        const close = () => {
          client.destroy();
          upstream.destroy();
          sockets.delete(client);
          sockets.delete(upstream);
        };
        client.on('error', close).on('close', close);
        upstream.on('error', close).on('close', close);
      });
      server.listen(port, '127.0.0.1', () => {
        const address = server!.address();
        if (address && typeof address === 'object') port = address.port;
        resolve();
      });
    });
  await listen();

  return {
    get port() {
      return port;
    },
    /** Drops every connection and refuses new ones. */
    async cut() {
      await new Promise<void>((resolve) => {
        server!.close(() => resolve());
        for (const socket of sockets) socket.destroy();
        sockets.clear();
      });
    },
    restore: listen,
    /** Resets every open connection (both ends see it drop mid-stream); new ones are accepted. */
    reset() {
      for (const socket of sockets) socket.resetAndDestroy();
      sockets.clear();
    },
    /** New connections go to another port of the host (a failover); open ones stay where they are. */
    retarget(port: number) {
      targetPort = port;
    },
    slow(ms: number) {
      delayMs = ms;
    },
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => (server?.listening ? server.close(() => resolve()) : resolve()));
    },
  };
}
