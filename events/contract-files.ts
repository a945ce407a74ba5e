import { AVRO_SCHEMAS } from './avro/schemas.ts';
import { ConfigStateSchema } from './config-state.ts';

/**
 * The contract for consumers in other languages, as files generated from the
 * schemas the service itself uses: one Avro schema per event type and version
 * (`events/avro/<Type>.v<N>.avsc`, named by the `event-type` and
 * `schema-version` headers), and the JSON Schema of the state topic's value.
 * `make contracts` writes them; a test fails when they drift.
 */
export function contractFiles(): Map<string, string> {
  const files = new Map<string, string>();
  for (const [type, versions] of Object.entries(AVRO_SCHEMAS)) {
    for (const [version, schema] of Object.entries(versions))
      files.set(`events/avro/${type}.v${version}.avsc`, `${JSON.stringify(schema, null, 2)}\n`);
  }
  const stateSchema = { $schema: 'https://json-schema.org/draft/2020-12/schema', ...ConfigStateSchema };
  files.set('events/config-state.schema.json', `${JSON.stringify(stateSchema, null, 2)}\n`);
  return files;
}
