import type { FastifyInstance } from 'fastify';
import { MAX_DOCUMENT_DEPTH, assertSafeDocument, isStorableText } from '#events/documents.ts';
import { DomainError, documentTooDeep, invalidString } from '#events/errors.ts';
import { validationFailed } from '#services/shared/errors.ts';
import { invalidJson } from './errors.ts';

/** Levels a route's envelope adds above the document it carries (an import: document.environments.<env>.configuration). */
const ENVELOPE_DEPTH = 4;

/**
 * Every JSON body is checked before any route code sees it: no key naming a
 * prototype slot anywhere, no text that cannot be stored, and no nesting deeper
 * than a document may be plus its envelope (each document is held to the
 * exact bound where it is used).
 * An empty body counts as `{}`, so optional bodies can be left out.
 */
export function registerJsonBodies(app: FastifyInstance): void {
  // JSON is the only body: text is not taken for a document (a cross-site form could send it).
  app.removeContentTypeParser(['application/json', 'text/plain']);
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_request, body, done) => {
    const text = body.toString();
    if (text.trim().length === 0) return done(null, {});
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (error) {
      return done(invalidJson(error instanceof Error ? error.message : String(error)), undefined);
    }
    try {
      assertSafeDocument(parsed, MAX_DOCUMENT_DEPTH + ENVELOPE_DEPTH);
    } catch (error) {
      // Measured against the body, the bound includes the envelope; the answer states the document's own bound.
      if (error instanceof DomainError && error.code === 'DOCUMENT_TOO_DEEP')
        return done(documentTooDeep(String(error.details?.path ?? ''), MAX_DOCUMENT_DEPTH), undefined);
      return done(error as Error, undefined);
    }
    return done(null, parsed);
  });

  // Path parameters and query strings are text too: the same rule, before any route sees them.
  // A request with no body at all, to a route whose body has only optional fields, is that body empty.
  app.addHook('preValidation', async (request) => {
    const schema = request.routeOptions.schema;
    if (request.body === undefined && schema?.body) request.body = {};
    for (const [part, values, partSchema] of [
      ['params', request.params, schema?.params],
      ['query', request.query, schema?.querystring],
    ] as const) {
      for (const [name, value] of Object.entries((values ?? {}) as Record<string, unknown>)) {
        const texts = Array.isArray(value) ? value : [value];
        if (texts.some((text) => typeof text === 'string' && !isStorableText(text)))
          throw invalidString(`${part}.${name}`);
        // The validator turns "1e400" or "Infinity" into Infinity and lets it pass as an integer under any maximum.
        const type = (partSchema as { properties?: Record<string, { type?: unknown }> } | undefined)?.properties?.[name]
          ?.type;
        if (
          (type === 'integer' || type === 'number') &&
          texts.some((text) => typeof text === 'string' && !Number.isFinite(Number(text)))
        )
          throw validationFailed(
            [{ path: `/${name}`, message: `must be a finite ${type}` }],
            `${part}.${name} must be a finite ${type}`,
          );
      }
    }
  });
}
