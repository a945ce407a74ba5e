import type { FastifyError, FastifyInstance } from 'fastify';
import { WrongExpectedRevision } from '#infra/eventstore/port.ts';
import { DomainError } from '#services/shared/errors.ts';

interface ErrorBody {
  success: false;
  error: string;
  code: string;
  details?: Record<string, unknown>;
  timestamp: string;
}

const body = (code: string, error: string, details?: Record<string, unknown>): ErrorBody => ({
  success: false,
  error,
  code,
  ...(details ? { details } : {}),
  timestamp: new Date().toISOString(),
});

const FASTIFY_CODES: Record<string, string> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'PAYLOAD_TOO_LARGE',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'INVALID_JSON',
  FST_ERR_CTP_INVALID_JSON_BODY: 'INVALID_JSON',
};

/** The one place errors become responses: typed domain errors keep their code, bad input is a 4xx, the rest a 500 without internals. */
export function registerErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler<FastifyError | DomainError | WrongExpectedRevision>((error, request, reply) => {
    if (error instanceof DomainError) {
      return reply.status(error.statusCode).send(body(error.code, error.message, error.details));
    }
    if (error instanceof WrongExpectedRevision) {
      return reply.status(409).send(body('VERSION_CONFLICT', 'the configuration changed concurrently; retry with the current version'));
    }
    if (error.validation) {
      const errors = error.validation.map((issue) => ({
        path: [issue.instancePath.split('/').slice(1).join('.'), (issue.params as { missingProperty?: string }).missingProperty]
          .filter(Boolean)
          .join('.'),
        message: issue.message ?? issue.keyword,
      }));
      return reply.status(400).send(body('VALIDATION_ERROR', `invalid ${error.validationContext ?? 'request'}: ${error.message}`, { errors }));
    }
    const status = error.statusCode ?? 500;
    if (status >= 400 && status < 500) {
      const code = FASTIFY_CODES[error.code] ?? (error instanceof SyntaxError ? 'INVALID_JSON' : 'BAD_REQUEST');
      return reply.status(status).send(body(code, error.message));
    }
    request.log.error({ err: error }, 'request failed');
    return reply.status(500).send(body('INTERNAL_ERROR', 'internal error; the request id identifies it in the logs', { requestId: request.id }));
  });

  app.setNotFoundHandler((request, reply) => {
    reply.status(404).send(body('NOT_FOUND', `no route ${request.method} ${request.url.split('?')[0]}`));
  });
}
