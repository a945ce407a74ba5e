import { Type } from '@sinclair/typebox';
import {
  AnyJson,
  ChangeReason,
  EnvironmentId,
  ExpectedVersion,
  Force,
  JsonDocument,
  Key,
  PAGE,
  Position,
  ServiceId,
  VersionNumber,
} from '#services/shared/http.ts';

export const tags = ['configurations'];
export const ServiceParams = Type.Object({ serviceId: ServiceId });
export const KeyParams = Type.Object({ serviceId: ServiceId, key: Key });
export const EnvironmentParams = Type.Object({ serviceId: ServiceId, environment: EnvironmentId });
export const WriteQuery = Type.Object(
  { environment: Type.Optional(EnvironmentId), force: Force },
  { additionalProperties: false },
);
export const ForceQuery = Type.Object({ force: Force }, { additionalProperties: false });
export const ReadQuery = Type.Object(
  {
    environment: Type.Optional(EnvironmentId),
    version: Type.Optional(VersionNumber('a past version; default: the current one')),
    asOf: Type.Optional(
      Type.String({
        format: 'date-time',
        description: 'the configuration as it was at this instant (RFC 3339), from the log',
      }),
    ),
    atPosition: Type.Optional(
      Type.Integer({
        minimum: 1,
        maximum: Number.MAX_SAFE_INTEGER,
        description: 'the configuration as it was at this log position',
      }),
    ),
    explain: Type.Optional(Type.Boolean({ description: 'say which environment each top-level key came from' })),
    resolveSecrets: Type.Optional(
      Type.Boolean({
        description:
          'replace ${SECRET:name} by the credential value (needs permission to read it; each read is recorded)',
      }),
    ),
    minPosition: Type.Optional(Position),
  },
  { additionalProperties: false },
);
export const VersionsQuery = Type.Object(
  {
    environment: Type.Optional(EnvironmentId),
    ...PAGE,
    before: Type.Optional(VersionNumber('versions older than this one (paging)')),
    minPosition: Type.Optional(Position),
  },
  { additionalProperties: false },
);

const changeFields = { changeReason: Type.Optional(ChangeReason), expectedVersion: Type.Optional(ExpectedVersion) };
export const DocumentBody = Type.Object(
  { configuration: JsonDocument, ...changeFields },
  { additionalProperties: false },
);
export const PatchBody = Type.Object(
  {
    patch: Type.Object(
      {},
      { additionalProperties: true, description: 'an RFC 7396 JSON Merge Patch; null removes a key' },
    ),
    ...changeFields,
  },
  { additionalProperties: false },
);
export const KeyBody = Type.Object({ value: AnyJson, ...changeFields }, { additionalProperties: false });
export const DeleteKeyQuery = Type.Object(
  { environment: Type.Optional(EnvironmentId), changeReason: Type.Optional(ChangeReason), force: Force },
  { additionalProperties: false },
);
export const RollbackParams = Type.Object({ serviceId: ServiceId, version: VersionNumber() });
export const RollbackBody = Type.Object(changeFields, { additionalProperties: false });
export const BatchBody = Type.Object(
  {
    operations: Type.Array(
      Type.Object(
        {
          id: Type.String({ minLength: 1, maxLength: 100 }),
          type: Type.Union([Type.Literal('SET'), Type.Literal('DELETE')]),
          key: Key,
          value: Type.Optional(AnyJson),
        },
        { additionalProperties: false },
      ),
      { minItems: 1, maxItems: 1000 },
    ),
    environment: Type.Optional(EnvironmentId),
    ...changeFields,
  },
  { additionalProperties: false },
);
export const ValidateBody = Type.Object({ configuration: JsonDocument }, { additionalProperties: false });

export const WriteAnswerSchema = Type.Object({
  success: Type.Literal(true),
  data: Type.Object({
    serviceId: Type.String(),
    environment: Type.String(),
    version: Type.Integer(),
    checksum: Type.String(),
    position: Type.Integer(),
    changedKeys: Type.Array(Type.String()),
    own: Type.Object({ checksum: Type.String(), version: Type.Integer() }),
  }),
  timestamp: Type.String({ format: 'date-time' }),
});

export const ChangeRequestAnswerSchema = Type.Object({
  success: Type.Literal(true),
  data: Type.Object({
    changeRequest: Type.Object({
      id: Type.String(),
      status: Type.Literal('pending'),
      requiredApprovals: Type.Integer(),
      approverRole: Type.String(),
      policyIds: Type.Array(Type.String()),
      changedKeys: Type.Array(Type.String()),
      baseVersion: Type.Integer(),
      expiresAt: Type.String(),
      position: Type.Integer(),
    }),
  }),
  timestamp: Type.String({ format: 'date-time' }),
});

export const DiffQuery = Type.Object(
  {
    environment: Type.Optional(EnvironmentId),
    fromEnvironment: Type.Optional(EnvironmentId),
    toEnvironment: Type.Optional(EnvironmentId),
    from: Type.Optional(Type.String({ description: 'a version or an RFC 3339 instant; default: current' })),
    to: Type.Optional(Type.String({ description: 'a version or an RFC 3339 instant; default: current' })),
  },
  { additionalProperties: false },
);
