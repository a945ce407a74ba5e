import { APPROVALS_SCHEMA, APPROVALS_TABLES } from './approvals/schema.ts';
import { AUDIT_SCHEMA, AUDIT_TABLES } from './audit/schema.ts';
import { CONFIGURATIONS_SCHEMA, CONFIGURATIONS_TABLES } from './configurations/schema.ts';
import { CREDENTIALS_SCHEMA, CREDENTIALS_TABLES } from './credentials/schema.ts';
import { ENVIRONMENTS_SCHEMA, ENVIRONMENTS_TABLES } from './environments/schema.ts';
import { SCHEMAS_SCHEMA, SCHEMAS_TABLES } from './schemas/schema.ts';
import { SECURITY_SCHEMA, SECURITY_TABLES } from './security/schema.ts';
import { SERVICE_TOKENS_SCHEMA, SERVICE_TOKENS_TABLES } from './service-tokens/schema.ts';

/** Read-model tables, each owned by its projection's folder. Rebuilding drops and recreates exactly these. */
export const READ_MODEL_TABLES = [
  ...CONFIGURATIONS_TABLES,
  ...SCHEMAS_TABLES,
  ...ENVIRONMENTS_TABLES,
  ...AUDIT_TABLES,
  ...CREDENTIALS_TABLES,
  ...SERVICE_TOKENS_TABLES,
  ...APPROVALS_TABLES,
  ...SECURITY_TABLES,
];

/** Every projection's tables and the checkpoints, created under one lock so instances starting together do not race. */
export const READ_MODEL_SCHEMA = `
SELECT pg_advisory_xact_lock(4242002);

CREATE TABLE IF NOT EXISTS projection_checkpoints (
  name       text PRIMARY KEY,
  position   bigint NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now()
);
${[CONFIGURATIONS_SCHEMA, SCHEMAS_SCHEMA, ENVIRONMENTS_SCHEMA, AUDIT_SCHEMA, CREDENTIALS_SCHEMA, SERVICE_TOKENS_SCHEMA, APPROVALS_SCHEMA, SECURITY_SCHEMA].join('')}`;
