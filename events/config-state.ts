import { type Static, Type } from '@sinclair/typebox';
import type { JsonObject } from './metadata.ts';

const Json = Type.Record(Type.String(), Type.Unknown(), { description: 'a JSON object' });

/**
 * The value on `configledger.config-state.v1` for key `serviceId/environment`:
 * the effective configuration, as HTTP answers it. This schema is the source
 * of `events/config-state.schema.json`, for consumers in other languages.
 */
export const ConfigStateSchema = Type.Object(
  {
    serviceId: Type.String(),
    environment: Type.String(),
    version: Type.Integer({ minimum: 0, description: "the environment's own version (0 when it only inherits)" }),
    position: Type.Integer({
      minimum: 0,
      description: 'the effective position; consumers order updates by (epoch, position)',
    }),
    epoch: Type.Integer({
      minimum: 0,
      description:
        "the log's epoch: a restore starts a new one and positions restart with it; 0 for a log never restored",
    }),
    checksum: Type.String({
      pattern: '^[0-9a-f]{64}$',
      description: 'SHA-256 of the canonical JSON (RFC 8785) of configuration',
    }),
    configuration: Type.Unsafe<JsonObject>({
      ...Json,
      description:
        'the effective document, merged along the inheritance chain; ${SECRET:...} references stay unresolved',
    }),
    inheritedFrom: Type.Array(Type.String(), {
      description: 'the environments merged before this one, farthest first',
    }),
    own: Type.Union(
      [
        Type.Object(
          {
            configuration: Type.Unsafe<JsonObject>(Json),
            checksum: Type.String(),
            version: Type.Integer({ minimum: 1 }),
            position: Type.Integer({ minimum: 0 }),
          },
          { additionalProperties: false },
        ),
        Type.Null(),
      ],
      { description: "the environment's own layer, when it has one" },
    ),
    changedKeys: Type.Array(Type.String(), { description: 'effective paths this update changed' }),
    updatedAt: Type.String({ format: 'date-time' }),
    updatedBy: Type.String(),
  },
  {
    $id: 'https://configledger/schemas/config-state.v1.json',
    title: 'configledger.config-state.v1 value',
    additionalProperties: false,
  },
);
export type ConfigStateMessage = Static<typeof ConfigStateSchema>;
