import type { JsonObject } from './metadata.ts';

export const schemaStream = (serviceId: string) => `schema-${serviceId}`;

export type SchemaDraft = '2020-12' | 'draft-07';

export type SchemaRegistered = {
  type: 'SchemaRegistered';
  data: { serviceId: string; version: number; schema: JsonObject; draft: SchemaDraft; checksum: string };
};

export type SchemaEvent = SchemaRegistered;
