import type { FastifyRequest } from 'fastify';

/** The subprotocol of `/api/v1/ws`; a client may offer its token beside it as `bearer.<token>`. */
export const PROTOCOL = 'configledger.v1';
const BEARER = 'bearer.';

/** Picks `configledger.v1` when offered; a client that offers only other protocols gets none. */
export const selectProtocol = (protocols: Set<string>): string | false => (protocols.has(PROTOCOL) ? PROTOCOL : false);

/**
 * The token a client sent with the upgrade: `Sec-WebSocket-Protocol:
 * configledger.v1, bearer.<token>`, or (deprecated, it ends up in access
 * logs elsewhere) `?token=`. Undefined when it will send a connect message.
 */
export function webSocketToken(request: FastifyRequest): string | undefined {
  const offered = request.headers['sec-websocket-protocol'];
  const bearer = offered
    ?.split(',')
    .map((protocol) => protocol.trim())
    .find((protocol) => protocol.startsWith(BEARER));
  if (bearer) return bearer.slice(BEARER.length);
  const { token } = request.query as { token?: unknown };
  return typeof token === 'string' && token !== '' ? token : undefined;
}
