import { documentTooDeep, invalidKey, invalidString, numberOutOfRange } from './errors.ts';

/**
 * What any JSON a client sends may hold. Documents are data: a key that names
 * a prototype slot could, once used as a property name, reach
 * `Object.prototype` or a constructor, so it is refused wherever it appears.
 * Nesting is bounded so that no recursive code (diff, merge, canonical JSON,
 * validation) can run out of stack on a hostile document.
 */
export const FORBIDDEN_KEYS: ReadonlySet<string> = new Set(['__proto__', 'constructor', 'prototype']);
export const MAX_DOCUMENT_DEPTH = 64;

export const isForbiddenKey = (key: string) => FORBIDDEN_KEYS.has(key);

/** NUL, and halves of a surrogate pair without the other half: text no store (or JSON consumer) can keep as it is. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: NUL is exactly what this refuses.
const UNSTORABLE = /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
export const isStorableText = (text: string) => !UNSTORABLE.test(text);

/**
 * Walks a parsed JSON value without recursion and throws INVALID_KEY for a
 * forbidden key, INVALID_STRING for text that cannot be stored,
 * NUMBER_OUT_OF_RANGE for a number JSON cannot carry (1e400 parses as Infinity), and
 * DOCUMENT_TOO_DEEP for a value more than `maxDepth` objects or arrays down
 * (`{"a":1}` has its deepest value one level down).
 */
export function assertSafeDocument(value: unknown, maxDepth = MAX_DOCUMENT_DEPTH, basePath = ''): void {
  walk(value, maxDepth, basePath, true);
}

/** Only the depth bound: for documents computed from stored ones, whose keys were checked when they came in. */
export function assertDepth(value: unknown, maxDepth = MAX_DOCUMENT_DEPTH): void {
  walk(value, maxDepth, '', false);
}

function walk(value: unknown, maxDepth: number, basePath: string, checkInput: boolean): void {
  const pending: { node: unknown; depth: number; path: string }[] = [{ node: value, depth: 0, path: basePath }];
  while (pending.length > 0) {
    const { node, depth, path } = pending.pop()!;
    if (typeof node === 'string' && checkInput && !isStorableText(node)) throw invalidString(path);
    if (typeof node === 'number' && !Number.isFinite(node)) throw numberOutOfRange(path);
    if (typeof node !== 'object' || node === null) continue;
    const isArray = Array.isArray(node);
    const keys = Object.keys(node);
    if (keys.length > 0 && depth + 1 > maxDepth) throw documentTooDeep(path, maxDepth);
    for (const key of keys) {
      const childPath = path ? `${path}.${key}` : key;
      if (checkInput && !isArray && isForbiddenKey(key)) throw invalidKey(childPath, key, FORBIDDEN_KEYS);
      if (checkInput && !isArray && !isStorableText(key)) throw invalidString(childPath);
      pending.push({ node: (node as Record<string, unknown>)[key], depth: depth + 1, path: childPath });
    }
  }
}
