/** The tables this projection writes; a rebuild drops and recreates exactly these. */
export const SCHEMAS_TABLES = ['configuration_schemas'];

export const SCHEMAS_SCHEMA = `
CREATE TABLE IF NOT EXISTS configuration_schemas (
  service_id        text NOT NULL,
  schema_version    integer NOT NULL,
  schema_definition jsonb NOT NULL,
  draft             text NOT NULL,
  checksum          char(64) NOT NULL,
  created_at        timestamptz NOT NULL,
  created_by        text NOT NULL,
  position          bigint NOT NULL,
  PRIMARY KEY (service_id, schema_version)
);
`;
