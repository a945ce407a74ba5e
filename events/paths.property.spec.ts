import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { diffDocuments as clientDiff, getPath as clientGet } from '#services/config-client/documents.ts';
import type { JsonObject } from './metadata.ts';
import { diffDocuments, getPath } from './paths.ts';

const RUNS = Number(process.env.FC_RUNS ?? 200);
const SEED = process.env.FC_SEED ? { seed: Number(process.env.FC_SEED) } : {};

const key = fc.constantFrom('a', 'b', 'limit', 'hasOwnProperty', 'toString', 'x.y', '0');
const document = fc.dictionary(key, fc.jsonValue({ maxDepth: 3 })) as fc.Arbitrary<JsonObject>;

/**
 * The SDK is a package of its own and carries its own reading of documents;
 * it must agree with the server's, or a client would report other changes
 * than the service publishes.
 */
describe('the SDK and the server read documents alike', () => {
  it('diff two documents into the same changes', () => {
    fc.assert(
      fc.property(document, document, (before, after) => {
        expect(clientDiff(before, after)).toEqual(diffDocuments(before, after));
      }),
      { numRuns: RUNS, ...SEED },
    );
  });

  it('read the same value at any dotted key the server accepts', () => {
    fc.assert(
      fc.property(document, fc.array(key, { minLength: 1, maxLength: 3 }), (doc, parts) => {
        const dotted = parts.join('.');
        expect(clientGet(doc, dotted)).toEqual(getPath(doc, dotted));
      }),
      { numRuns: RUNS, ...SEED },
    );
  });
});
