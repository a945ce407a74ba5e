import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { RE2 } from 're2-wasm';
import type { SchemaDraft } from '#events/schemas.ts';
import type { JsonObject } from '#events/metadata.ts';
import type { ValidationIssue } from '#events/errors.ts';
import { LRUCache } from 'lru-cache';
import { checksumOf } from '#infra/json/canonical.ts';

// ajv-formats ships CommonJS; its default export is the plugin function.
const addFormats = addFormatsModule as unknown as (ajv: Ajv | Ajv2020) => void;

const DRAFT_07 = 'http://json-schema.org/draft-07/schema';

/**
 * `pattern` and `patternProperties` run on RE2, whose matching time is linear
 * in the input: a schema cannot stall the process with a pattern that
 * backtracks (`^(a+)+$`). RE2 has no backreferences or lookaround; a schema
 * using them is refused when registered.
 */
const linearRegExp = Object.assign(
  (pattern: string, flags: string) => new RE2(pattern, flags.includes('u') ? flags : `${flags}u`),
  {
    code: 'new (require("re2-wasm").RE2)',
  },
);

export type Validator = (document: JsonObject) => ValidationIssue[];

/** Draft 2020-12 unless the schema's `$schema` names draft-07 (http or https, with or without the trailing #). */
export function draftOf(schema: JsonObject): SchemaDraft {
  const declared =
    typeof schema.$schema === 'string' ? schema.$schema.replace(/#$/, '').replace(/^https:/, 'http:') : undefined;
  return declared === DRAFT_07 ? 'draft-07' : '2020-12';
}

/** Compiled validators for the schemas in use, at most `max` at a time (least recently used go first). */
export interface SchemaValidators {
  /** Compiles (once per distinct schema while it is in use) and returns a validator; throws with the reason when the schema is invalid. */
  compile(schema: JsonObject, checksum?: string): Validator;
  /** Why a schema cannot be used, or undefined. */
  problemOf(schema: JsonObject): string | undefined;
  readonly size: number;
}

export function createSchemaValidators(max = 2000): SchemaValidators {
  const engines = {
    '2020-12': new Ajv2020({ allErrors: true, strict: false, code: { regExp: linearRegExp } }),
    'draft-07': new Ajv({ allErrors: true, strict: false, code: { regExp: linearRegExp } }),
  };
  addFormats(engines['2020-12']);
  addFormats(engines['draft-07']);
  // Ajv keeps every schema it compiled: one leaving this cache leaves Ajv too, so memory stays bounded.
  const compiled = new LRUCache<string, { validate: ValidateFunction; schema: JsonObject; draft: SchemaDraft }>({
    max,
    dispose: ({ schema, draft }) => void engines[draft].removeSchema(schema),
  });

  function compile(schema: JsonObject, checksum = checksumOf(schema)): Validator {
    let entry = compiled.get(checksum);
    if (!entry) {
      // Two services may reuse one $id; compiled validators are keyed by content instead.
      const { $id: _id, ...withoutId } = schema;
      const draft = draftOf(schema);
      entry = { validate: engines[draft].compile(withoutId), schema: withoutId, draft };
      compiled.set(checksum, entry);
    }
    const run = entry.validate;
    return (document) => (run(document) ? [] : (run.errors ?? []).map(toIssue));
  }

  return {
    compile,
    problemOf(schema) {
      try {
        compile(schema);
        return undefined;
      } catch (error) {
        return error instanceof Error ? error.message : String(error);
      }
    },
    get size() {
      return compiled.size;
    },
  };
}

export const acceptAll: Validator = () => [];

function toIssue(error: ErrorObject): ValidationIssue {
  const base = error.instancePath
    .split('/')
    .slice(1)
    .map((part) => part.replaceAll('~1', '/').replaceAll('~0', '~'));
  if (error.keyword === 'required') base.push(String((error.params as { missingProperty: string }).missingProperty));
  if (error.keyword === 'additionalProperties')
    base.push(String((error.params as { additionalProperty: string }).additionalProperty));
  return { path: base.join('.'), message: error.message ?? error.keyword };
}
