import { isDeepStrictEqual } from 'node:util';
import type { ValueChange } from './configuration.ts';
import type { JsonObject, JsonValue } from './metadata.ts';
import { FORBIDDEN_KEYS, isForbiddenKey } from './documents.ts';
import { emptyKeySegment, invalidKey, parentNotAnObject } from './errors.ts';

export const isObject = (value: unknown): value is JsonObject =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** The segments of a dotted path; a segment naming a prototype slot is refused, so no path can leave the document. */
const segments = (key: string) => {
  const parts = key.split('.');
  if (parts.some((part) => part === '')) throw emptyKeySegment(key);
  const forbidden = parts.find(isForbiddenKey);
  if (forbidden !== undefined) throw invalidKey(key, forbidden, FORBIDDEN_KEYS);
  return parts;
};

/** An own property only: inherited ones (`toString`, `constructor`) are not part of a document. */
const own = (node: JsonObject, key: string): JsonValue | undefined =>
  Object.hasOwn(node, key) ? node[key] : undefined;

/** Sets a property as data, even for a key that an assignment would treat as the prototype. */
const put = (node: JsonObject, key: string, value: JsonValue) =>
  Object.defineProperty(node, key, { value, enumerable: true, writable: true, configurable: true });

export function getPath(document: JsonObject, key: string): JsonValue | undefined {
  let node: JsonValue | undefined = document;
  for (const part of segments(key)) {
    if (!isObject(node) || !Object.hasOwn(node, part)) return undefined;
    node = node[part];
  }
  return node;
}

/** A copy of `document` with `key` set; missing parents are created as objects. */
export function setPath(document: JsonObject, key: string, value: JsonValue): JsonObject {
  const parts = segments(key);
  const root = structuredClone(document);
  let node: JsonObject = root;
  for (const [index, part] of parts.slice(0, -1).entries()) {
    const next = own(node, part);
    if (next === undefined) put(node, part, {});
    else if (!isObject(next)) {
      const parent = parts.slice(0, index + 1).join('.');
      throw parentNotAnObject(key, parent);
    }
    node = own(node, part) as JsonObject;
  }
  put(node, parts[parts.length - 1]!, value);
  return root;
}

/** A copy of `document` without `key`, or undefined when the key does not exist. */
export function deletePath(document: JsonObject, key: string): JsonObject | undefined {
  if (getPath(document, key) === undefined) return undefined;
  const parts = segments(key);
  const root = structuredClone(document);
  let node = root;
  for (const part of parts.slice(0, -1)) node = node[part] as JsonObject;
  delete node[parts[parts.length - 1]!];
  return root;
}

/**
 * Every changed leaf between two documents, by dotted path, sorted. Objects
 * added or removed are described leaf by leaf; arrays are compared as whole values.
 */
export function diffDocuments(before: JsonObject, after: JsonObject, prefix = ''): ValueChange[] {
  const changes: ValueChange[] = [];
  const keys = new Set([...Object.keys(before), ...Object.keys(after)]);
  for (const key of [...keys].sort()) {
    const path = prefix ? `${prefix}.${key}` : key;
    const hadKey = Object.hasOwn(before, key);
    const hasKey = Object.hasOwn(after, key);
    const oldValue = before[key];
    const newValue = after[key];
    const descend =
      (isObject(oldValue) || !hadKey) &&
      (isObject(newValue) || !hasKey) &&
      Object.keys({ ...(oldValue as object), ...(newValue as object) }).length > 0;
    if (descend) {
      changes.push(...diffDocuments(isObject(oldValue) ? oldValue : {}, isObject(newValue) ? newValue : {}, path));
    } else if (!hadKey || !hasKey || !isDeepStrictEqual(oldValue, newValue)) {
      changes.push({ path, ...(hadKey ? { oldValue } : {}), ...(hasKey ? { newValue } : {}) });
    }
  }
  return changes;
}

/** Deep merge for inheritance: objects merge key by key, anything else in `override` wins. */
/**
 * RFC 7396 JSON Merge Patch: objects merge key by key, `null` removes a key,
 * anything else replaces. Keys are data here (a document may have a key called
 * `hasOwnProperty`), never looked up through the prototype.
 */
export function applyMergePatch(target: JsonValue | undefined, patch: JsonValue): JsonValue {
  if (!isObject(patch)) return patch;
  const result: JsonObject = isObject(target) ? { ...target } : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete result[key];
    else put(result, key, applyMergePatch(own(result, key), value));
  }
  return result;
}

export function deepMerge(base: JsonObject, override: JsonObject): JsonObject {
  const merged: JsonObject = { ...base };
  for (const [key, value] of Object.entries(override)) {
    const existing = own(merged, key);
    put(merged, key, isObject(existing) && isObject(value) ? deepMerge(existing, value) : value);
  }
  return merged;
}
