import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canonicalJson } from '#infra/json/canonical.ts';
import { startTestServer, type TestServer } from '#testing/server.ts';

/**
 * Whatever a writer sends — documents, dotted keys, merge patches, batches,
 * imports, schemas, credential fields — the service answers below 500, never
 * leaves a property on Object.prototype, and a refused write leaves the log as
 * it was. A document it accepts reads back exactly. Runs are bounded for CI;
 * a failure prints its seed and path (FC_SEED=<seed> replays it).
 */
const RUNS = Number(process.env.FC_RUNS ?? 40);
const SEED = process.env.FC_SEED ? { seed: Number(process.env.FC_SEED) } : {};
const DANGEROUS = ['__proto__', 'constructor', 'prototype'];

/** A property named by `key`, defined as data even when it is `__proto__`, so JSON.stringify writes it out. */
function withKey(target: Record<string, unknown>, key: string, value: unknown): Record<string, unknown> {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
  return target;
}

const segment = fc.oneof(
  { weight: 5, arbitrary: fc.stringMatching(/^[A-Za-z0-9_$-]{1,12}$/) },
  { weight: 2, arbitrary: fc.constantFrom(...DANGEROUS) },
  { weight: 1, arbitrary: fc.string({ unit: 'grapheme', minLength: 0, maxLength: 6 }) },
  {
    weight: 1,
    arbitrary: fc.constantFrom('toString', 'hasOwnProperty', 'valueOf', '__defineGetter__', '0', '-1', '$ref'),
  },
);
const dottedKey = fc.oneof(
  { weight: 6, arbitrary: fc.array(segment, { minLength: 1, maxLength: 6 }).map((parts) => parts.join('.')) },
  { weight: 1, arbitrary: fc.array(segment, { minLength: 60, maxLength: 120 }).map((parts) => parts.join('.')) },
  { weight: 1, arbitrary: fc.string({ minLength: 400, maxLength: 700 }) },
);

/** JSON documents with dangerous keys slipped in at any depth, and some nested past the bound. */
const documentValue: fc.Arbitrary<unknown> = fc.letrec<{ value: unknown }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.jsonValue({ maxDepth: 2 }),
    fc
      .array(fc.tuple(segment, tie('value')), { maxLength: 4 })
      .map((entries) =>
        entries.reduce<Record<string, unknown>>((object, [key, value]) => withKey(object, key, value), {}),
      ),
  ),
})).value;
const deep = fc.tuple(fc.integer({ min: 60, max: 70 }), fc.boolean()).map(([levels, arrays]) => {
  let value: unknown = 1;
  for (let i = 0; i < levels; i++) value = arrays && i % 2 === 0 ? [value] : { a: value };
  return value;
});
const document = fc.oneof({ weight: 5, arbitrary: documentValue }, { weight: 1, arbitrary: deep });
const objectDocument = document.map((value) =>
  typeof value === 'object' && value !== null && !Array.isArray(value) ? value : { value },
);

describe('every input, generated: no 5xx, no prototype reached, nothing half-written', () => {
  let server: TestServer;
  let token: string;
  const prototypeBefore = Object.getOwnPropertyNames(Object.prototype).sort();
  const service = 'fuzzed';

  beforeAll(async () => {
    server = await startTestServer({ rateLimits: { perAddressPerMinute: 0, perPrincipalPerMinute: 0 } });
    token = await server.token('fuzzer', ['admin']);
    expect(
      (
        await server.call('PUT', `/configurations/${service}`, {
          token,
          body: { configuration: { risk: { max: 1 }, list: [1, 2] } },
        })
      ).status,
    ).toBe(201);
  });
  afterAll(async () => server?.close());

  /** Sends the request and checks the invariants every answer must keep. */
  async function probe(method: string, path: string, body?: unknown) {
    const head = await server.storage.store.headPosition();
    const answer = await server.call(method, path, {
      token,
      ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body) } : {}),
    });
    expect(
      answer.status,
      `${method} ${path} → ${answer.status} ${JSON.stringify(answer.body)?.slice(0, 300)}`,
    ).toBeLessThan(500);
    expect(Object.getOwnPropertyNames(Object.prototype).sort()).toEqual(prototypeBefore);
    expect(Object.keys(Object.prototype)).toEqual([]);
    if (answer.status >= 400)
      expect(await server.storage.store.headPosition(), `${method} ${path} failed but wrote`).toBe(head);
    return answer;
  }
  const run = <Ts extends [unknown, ...unknown[]]>(property: fc.IAsyncPropertyWithHooks<Ts>) =>
    fc.assert(property, { numRuns: RUNS, ...SEED });

  it('replaces whole documents, and reads back exactly what it accepted', async () => {
    await run(
      fc.asyncProperty(objectDocument, async (configuration) => {
        const answer = await probe('PUT', `/configurations/${service}?environment=staging`, { configuration });
        if (answer.status >= 300) return;
        const read = await server.call(
          'GET',
          `/configurations/${service}?environment=staging&minPosition=${answer.body.data.position}`,
          { token },
        );
        expect(canonicalJson(read.body.data.configuration)).toBe(canonicalJson(configuration));
      }),
    );
  });

  it('sets, reads and deletes dotted keys, whatever the key and value', async () => {
    await run(
      fc.asyncProperty(dottedKey, document, async (key, value) => {
        const path = `/configurations/${service}/${encodeURIComponent(key)}`;
        await probe('PUT', path, { value });
        await probe('GET', path);
        await probe('DELETE', path);
      }),
    );
  });

  it('applies merge patches and batches', async () => {
    await run(
      fc.asyncProperty(
        objectDocument,
        fc.array(fc.tuple(dottedKey, document, fc.boolean()), { minLength: 1, maxLength: 5 }),
        async (patch, operations) => {
          await probe('PATCH', `/configurations/${service}`, { patch });
          await probe('POST', `/configurations/${service}/batch`, {
            operations: operations.map(([key, value, remove], index) =>
              remove ? { id: String(index), type: 'DELETE', key } : { id: String(index), type: 'SET', key, value },
            ),
          });
        },
      ),
    );
  });

  it('imports, validates, promotes and registers schemas', async () => {
    await run(
      fc.asyncProperty(
        objectDocument,
        objectDocument,
        fc.array(dottedKey, { minLength: 1, maxLength: 3 }),
        async (configuration, schema, keys) => {
          const environments = withKey({}, 'development', { version: 1, checksum: 'x', configuration });
          const exported = {
            format: 'configledger-export',
            version: 1,
            serviceId: service,
            exportedAt: new Date().toISOString(),
            schema: null,
            environments,
          };
          await probe('POST', `/configurations/${service}/import`, { document: exported });
          await probe('POST', `/configurations/${service}/validate`, { configuration });
          await probe('POST', `/configurations/${service}/promote`, {
            fromEnvironment: 'production',
            toEnvironment: 'testing',
            keys: [...new Set(keys)],
          });
          await probe('PUT', `/configurations/prop-schema-${Math.floor(Math.random() * 4)}/schema`, { schema });
        },
      ),
    );
  });

  it('takes credentials with any tags and refuses any malformed JSON text', async () => {
    await run(
      fc.asyncProperty(
        fc.array(fc.tuple(segment, fc.string({ maxLength: 20 })), { maxLength: 4 }),
        fc.string({ maxLength: 200 }),
        async (tags, text) => {
          const body = {
            key: `fuzz-${Math.floor(Math.random() * 1e9)}`,
            value: 'v',
            type: 'api_key',
            serviceId: service,
            environment: 'production',
            tags: tags.reduce((o, [k, v]) => withKey(o, k, v), {}),
          };
          await probe('POST', '/credentials', body);
          await probe('PUT', `/configurations/${service}`, text);
          await probe('PATCH', `/configurations/${service}`, `{"patch":${text}}`);
        },
      ),
    );
  });
});
