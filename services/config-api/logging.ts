import type { FastifyRequest, FastifyServerOptions } from 'fastify';

/** Headers that carry credentials: censored wherever pino would print them. */
export const REDACTED_PATHS = [
  'req.headers.authorization',
  'req.headers["x-service-token"]',
  'req.headers["sec-websocket-protocol"]',
  'req.headers.cookie',
  'headers.authorization',
];

/** A URL as it may be logged: the (deprecated) WebSocket `?token=` is replaced by `[REDACTED]`. */
export function loggableUrl(url: string): string {
  const query = url.indexOf('?');
  if (query < 0) return url;
  return url.slice(0, query) + url.slice(query).replace(/([?&](?:token|access_token)=)[^&#]*/gi, '$1[REDACTED]');
}

/** The service's logger: the given level and destination, secrets redacted from every line. */
export function loggerOptions(level: string, stream?: NodeJS.WritableStream): Exclude<FastifyServerOptions['logger'], boolean | undefined> {
  return {
    level,
    ...(stream ? { stream } : {}),
    redact: { paths: REDACTED_PATHS, censor: '[REDACTED]' },
    serializers: {
      req: (request: FastifyRequest) => ({
        method: request.method,
        url: loggableUrl(request.url),
        host: request.host,
        remoteAddress: request.ip,
        remotePort: request.socket?.remotePort,
      }),
    },
  };
}
