import type { SchemaEvent } from '#events/schemas.ts';
import type { JsonObject } from '#events/metadata.ts';
import { checksumOf } from '#infra/json/canonical.ts';
import type { Decider } from '#services/shared/command-handler.ts';
import { assertSafeDocument } from '#events/documents.ts';
import { invalidSchema } from './errors.ts';
import { draftOf } from './validator.ts';

export type SchemaState =
  | { status: 'absent' }
  | { status: 'active'; serviceId: string; version: number; schema: JsonObject; checksum: string };

/** `problem`: why the schema cannot be compiled, found by the application before deciding (compiling is not the decider's). */
export type SchemaCommand = {
  type: 'RegisterSchema';
  serviceId: string;
  schema: JsonObject;
  problem: string | undefined;
};

export function decide(command: SchemaCommand, state: SchemaState): SchemaEvent[] {
  assertSafeDocument(command.schema);
  if (command.problem) throw invalidSchema(command.problem);
  const checksum = checksumOf(command.schema);
  if (state.status === 'active' && state.checksum === checksum) return [];
  const version = state.status === 'active' ? state.version + 1 : 1;
  return [
    {
      type: 'SchemaRegistered',
      data: { serviceId: command.serviceId, version, schema: command.schema, draft: draftOf(command.schema), checksum },
    },
  ];
}

export function evolve(_state: SchemaState, event: SchemaEvent): SchemaState {
  switch (event.type) {
    case 'SchemaRegistered': {
      const { serviceId, version, schema, checksum } = event.data;
      return { status: 'active', serviceId, version, schema, checksum };
    }
    default: {
      const unknownEvent: never = event.type;
      throw new Error(`unknown event ${String(unknownEvent)}`);
    }
  }
}

export const schemaDecider: Decider<SchemaCommand, SchemaState, SchemaEvent> = {
  decide,
  evolve,
  initialState: { status: 'absent' },
  stateInLastEvent: true,
};
