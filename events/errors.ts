/** A business failure with its machine-readable code and HTTP status; the error handler turns it into a response. */
export class DomainError extends Error {
  constructor(
    readonly code: string,
    readonly statusCode: number,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
    this.name = code;
  }
}

export interface ValidationIssue {
  path: string;
  message: string;
}

/** A key that names a prototype slot: never a key of a document. */
export const invalidKey = (key: string, segment: string, forbidden: Iterable<string>) =>
  new DomainError(
    'INVALID_KEY',
    400,
    `${JSON.stringify(key)} uses ${JSON.stringify(segment)}, which is never accepted as a key`,
    {
      key,
      segment,
      forbidden: [...forbidden],
    },
  );

export const invalidString = (path: string) =>
  new DomainError(
    'INVALID_STRING',
    400,
    `${path || 'the value'} holds a NUL character or a lone UTF-16 surrogate, which cannot be stored`,
    { path },
  );

export const documentTooDeep = (path: string, maxDepth: number) =>
  new DomainError(
    'DOCUMENT_TOO_DEEP',
    400,
    `the document nests deeper than ${maxDepth} levels (at ${path || 'its root'})`,
    { path, maxDepth },
  );

/** JSON.parse reads 1e400 as Infinity, which JSON cannot carry back out (it would be stored as null). */
export const numberOutOfRange = (path: string) =>
  new DomainError(
    'NUMBER_OUT_OF_RANGE',
    400,
    `the number at ${path || 'the root'} is too large for JSON (beyond ±1.8e308), so it cannot be stored`,
    { path },
  );

export const emptyKeySegment = (key: string) =>
  new DomainError('INVALID_KEY', 400, `key ${JSON.stringify(key)} has an empty segment`, { key });

export const parentNotAnObject = (key: string, parent: string) =>
  new DomainError('INVALID_KEY', 400, `cannot set ${key}: ${parent} is not an object`, { key, parent });
