import type { JsonObject } from '#events/metadata.ts';
import type { SqlExecutor } from '#infra/postgres/database.ts';

export interface SchemaEntry {
  serviceId: string;
  version: number;
  schema: JsonObject;
  draft: string;
  checksum: string;
  createdAt: string;
  createdBy: string;
}

/** The newest schema, or a given version. */
export async function loadSchema(
  db: SqlExecutor,
  serviceId: string,
  version?: number,
): Promise<SchemaEntry | undefined> {
  const { rows } = await db.query<{
    schema_version: number;
    schema_definition: JsonObject;
    draft: string;
    checksum: string;
    created_at: Date | string;
    created_by: string;
  }>(
    `SELECT schema_version, schema_definition, draft, checksum, created_at, created_by FROM configuration_schemas
     WHERE service_id = $1 AND ($2::integer IS NULL OR schema_version = $2) ORDER BY schema_version DESC LIMIT 1`,
    [serviceId, version ?? null],
  );
  const row = rows[0];
  if (!row) return undefined;
  return {
    serviceId,
    version: row.schema_version,
    schema: row.schema_definition,
    draft: row.draft,
    checksum: row.checksum,
    createdAt: new Date(row.created_at).toISOString(),
    createdBy: row.created_by,
  };
}
