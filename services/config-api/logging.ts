import type { FastifyInstance, FastifyRequest, FastifyServerOptions } from 'fastify';

/** Headers that carry credentials: censored wherever pino would print them. */
export const REDACTED_PATHS = [
  'req.headers.authorization',
  'req.headers["x-service-token"]',
  'req.headers["sec-websocket-protocol"]',
  'req.headers.cookie',
  'headers.authorization',
];

const SECRET_PARAMETER = /^(token|access_token|auth|authorization|password|secret)(\[\])?$/i;
/** A JWT (three base64url parts) or a service token, wherever it turns up. */
const CREDENTIAL = /^(eyJ[\w-]*\.[\w-]+\.[\w-]*|clst_\S+)$/;

/**
 * A URL as it may be logged: the value of the (deprecated) WebSocket
 * `?token=` — however its name is spelled or encoded — and any value that
 * looks like a token becomes `[REDACTED]`.
 */
export function loggableUrl(url: string): string {
  const query = url.indexOf('?');
  const path = (query < 0 ? url : url.slice(0, query))
    .split('/')
    .map((segment) => (CREDENTIAL.test(segment) ? '[REDACTED]' : segment))
    .join('/');
  if (query < 0) return path;
  let parameters: URLSearchParams;
  try {
    parameters = new URLSearchParams(url.slice(query + 1));
  } catch {
    return `${path}?[REDACTED]`;
  }
  const safe = [...parameters].map(([name, value]) => [
    name,
    SECRET_PARAMETER.test(name) || CREDENTIAL.test(value) ? '[REDACTED]' : value,
  ]);
  return `${path}?${safe.map(([name, value]) => `${encodeURIComponent(name!)}=${value === '[REDACTED]' ? value : encodeURIComponent(value!)}`).join('&')}`;
}

/**
 * The service's logger: the given level and destination, secrets redacted
 * from every line; for a person at a terminal, readable lines (pino-pretty),
 * JSON for anything else (a file, a pipe, a log collector).
 */
export function loggerOptions(
  level: string,
  stream?: NodeJS.WritableStream,
  terminal = !stream && process.stdout.isTTY === true,
): Exclude<FastifyServerOptions['logger'], boolean | undefined> {
  return {
    level,
    ...(stream ? { stream } : {}),
    ...(terminal
      ? {
          transport: {
            target: 'pino-pretty',
            options: { colorize: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' },
          },
        }
      : {}),
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

/** Routes polled by probes and scrapers: logged at debug, so a person reading the log sees requests that matter. */
const QUIET_ROUTES = new Set(['/api/v1/health', '/api/v1/health/ready', '/metrics']);

/** One line per request, when it is answered (instead of Fastify's two): method, path, status, time and who asked. */
export function registerRequestLog(app: FastifyInstance): void {
  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? '';
    const level = QUIET_ROUTES.has(route) ? 'debug' : reply.statusCode >= 500 ? 'error' : 'info';
    request.log[level](
      {
        res: { statusCode: reply.statusCode },
        responseTime: Math.round(reply.elapsedTime * 10) / 10,
        ...(request.principal ? { user: request.principal.subject } : {}),
      },
      `${request.method} ${loggableUrl(request.url)} ${reply.statusCode}`,
    );
  });
}
