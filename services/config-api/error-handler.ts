import type { FastifyError, FastifyInstance, FastifyReply } from 'fastify';
import { OutcomeUnknown, StoreUnavailable, WrongExpectedRevision } from '#infra/eventstore/port.ts';
import { DatabaseUnavailable } from '#infra/postgres/database.ts';
import { DomainError } from '#events/errors.ts';
import { KEY_PATTERN } from '#services/shared/http.ts';

interface ErrorBody {
  success: false;
  error: string;
  code: string;
  details?: Record<string, unknown>;
  timestamp: string;
}

export const errorBody = (code: string, error: string, details?: Record<string, unknown>): ErrorBody => ({
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

/** An answer that says: try again in a second (nothing decided, or a keyed retry settles it). */
const retryLater = (reply: FastifyReply, code: string, message: string) =>
  reply.status(503).header('retry-after', 1).send(errorBody(code, message));

/** The one place errors become responses: typed domain errors keep their code, bad input is a 4xx, the rest a 500 without internals. */
export function registerErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler<FastifyError | DomainError | WrongExpectedRevision>((error, request, reply) => {
    if (error instanceof DomainError) {
      return reply.status(error.statusCode).send(errorBody(error.code, error.message, error.details));
    }
    // The write is in the log; only its answer failed. "Nothing was written" would be a lie a retry turns into a second change.
    if (
      request.recorded &&
      (error instanceof StoreUnavailable || error instanceof OutcomeUnknown || error instanceof DatabaseUnavailable)
    ) {
      request.log.warn({ err: error.message }, 'a write was recorded; its answer could not be completed');
      return retryLater(
        reply,
        'OUTCOME_UNKNOWN',
        'the write was recorded, but its answer could not be completed: retry with the same Idempotency-Key to get it (without one, read the history before writing again)',
      );
    }
    if (error instanceof StoreUnavailable) {
      request.log.warn({ err: error.message }, 'store unavailable; nothing was written');
      return retryLater(reply, 'STORE_UNAVAILABLE', 'the event store is unreachable; nothing was written: retry');
    }
    if (error instanceof OutcomeUnknown) {
      request.log.warn({ err: error.message }, 'outcome of a write unknown');
      return retryLater(
        reply,
        'OUTCOME_UNKNOWN',
        'the write may or may not have been recorded: retry with the same Idempotency-Key, which applies it at most once',
      );
    }
    if (error instanceof WrongExpectedRevision) {
      return reply
        .status(409)
        .send(errorBody('VERSION_CONFLICT', 'the configuration changed concurrently; retry with the current version'));
    }
    if (error.validation) {
      const errors = error.validation.map((issue) => ({
        path: [
          issue.instancePath.split('/').slice(1).join('.'),
          (issue.params as { missingProperty?: string }).missingProperty,
        ]
          .filter(Boolean)
          .join('.'),
        message: issue.message ?? issue.keyword,
      }));
      // A dotted key that breaks the key rules is an INVALID_KEY wherever it appears (path, batch, promote).
      const code = error.validation.some((issue) => issue.keyword === 'pattern' && issue.params.pattern === KEY_PATTERN)
        ? 'INVALID_KEY'
        : 'VALIDATION_ERROR';
      return reply
        .status(400)
        .send(errorBody(code, `invalid ${error.validationContext ?? 'request'}: ${error.message}`, { errors }));
    }
    if (error instanceof DatabaseUnavailable) {
      request.log.warn({ err: error }, 'store unavailable');
      return retryLater(
        reply,
        'STORE_UNAVAILABLE',
        'the event store or the read-model database is unreachable; nothing was written, retry',
      );
    }
    const status = error.statusCode ?? 500;
    if (status >= 400 && status < 500) {
      const code = FASTIFY_CODES[error.code] ?? (error instanceof SyntaxError ? 'INVALID_JSON' : 'BAD_REQUEST');
      // Bodies are JSON only: text or a form is never parsed (a browser could send those across sites).
      const message =
        code === 'UNSUPPORTED_MEDIA_TYPE'
          ? `the body must be JSON, sent with the header Content-Type: application/json (this request sent ${request.headers['content-type'] ?? 'no Content-Type'})`
          : error.message;
      return reply.status(status).send(errorBody(code, message));
    }
    request.log.error({ err: error }, 'request failed');
    return reply.status(500).send(
      errorBody('INTERNAL_ERROR', 'internal error; the request id identifies it in the logs', {
        requestId: request.id,
      }),
    );
  });

  app.setNotFoundHandler((request, reply) => {
    reply.status(404).send(errorBody('NOT_FOUND', `no route ${request.method} ${request.url.split('?')[0]}`));
  });
}
