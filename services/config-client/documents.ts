import { isDeepStrictEqual } from 'node:util';

export type JsonValue = string | number | boolean | null | JsonValue[] | JsonObject;
export interface JsonObject {
  [key: string]: JsonValue;
}

/** One changed leaf between two documents, by dotted path. */
export interface ValueChange {
  path: string;
  oldValue?: JsonValue;
  newValue?: JsonValue;
}

const isObject = (value: unknown): value is JsonObject =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * The value at a dotted key, reading own properties only. The server's rules
 * for keys and paths, in this package so that it stands alone; a test holds
 * the two to the same answers.
 */
export function getPath(document: JsonObject, key: string): JsonValue | undefined {
  let node: JsonValue | undefined = document;
  for (const part of key.split('.')) {
    if (!isObject(node) || !Object.hasOwn(node, part)) return undefined;
    node = node[part];
  }
  return node;
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
