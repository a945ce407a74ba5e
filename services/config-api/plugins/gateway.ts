import websocket from '@fastify/websocket';
import fp from 'fastify-plugin';
import type { FailureStage } from '#projections/follow.ts';
import type { Authenticator } from '../auth.ts';
import { type Gateway, type GatewaySettings, createGateway } from '../websocket/gateway.ts';
import { selectProtocol, webSocketToken } from '../websocket/handshake.ts';

declare module 'fastify' {
  interface FastifyInstance {
    gateway: Gateway;
  }
}

/**
 * WebSocket push at `/ws` (under the prefix it is registered with): clients
 * authenticate with a JWT or a service token like HTTP ones, and a session
 * ends with its credential.
 */
export const gatewayPlugin = fp<{ authenticator: Authenticator; settings?: GatewaySettings; prefix: string }>(
  async (app, { authenticator, settings, prefix }) => {
    const readModels = app.readModels;
    const gateway = createGateway({
      store: app.eventStore,
      db: app.projectionDb,
      readModelsAt: (position) => readModels.runner.waitFor(position, 60_000),
      readModelsPosition: () => readModels.runner.position,
      epoch: () => readModels.epoch.current,
      authenticate: (token, address) => authenticator.authenticate(token, address),
      logger: app.log,
      onFailure: (stage: FailureStage) => app.metrics.followerFailures.inc({ follower: 'websocket-gateway', stage }),
      ...settings,
    });
    readModels.serviceTokens.onRevoked((entry) =>
      gateway.endSessions(
        (principal) => principal.credential?.kind === 'service-token' && principal.credential.id === entry.id,
        'service token revoked',
      ),
    );
    readModels.revokedTokens.onRevoked((jti) =>
      gateway.endSessions(
        (principal) => principal.credential?.kind === 'jwt' && principal.credential.id === jti,
        'token revoked',
      ),
    );
    await gateway.start();
    app.decorate('gateway', gateway);
    app.addHook('preClose', async () => gateway.stop());
    app.metrics.observe({ webSocketConnections: () => gateway.connectionCount });
    await app.register(websocket, { options: { maxPayload: 64 * 1024, handleProtocols: selectProtocol } });
    app.get(
      `${prefix}/ws`,
      // An upgrade refused over HTTP (locked out) ends there: its socket will never carry a session.
      { websocket: true, schema: { hide: true }, onResponse: async (request) => void request.raw.socket?.destroy() },
      (socket, request) => gateway.attach(socket, webSocketToken(request), request.ip),
    );
  },
  { name: 'gateway', dependencies: ['read-models'] },
);
