/** Read-model tables. Rebuilding drops and recreates exactly these, so the list is the contract. */
export const READ_MODEL_TABLES = [
  'service_configurations',
  'configuration_history',
  'configuration_schemas',
  'environments',
  'audit_log',
  'credentials',
  'credential_access_log',
  'service_tokens',
  'approval_policies',
  'change_requests',
];

export const READ_MODEL_SCHEMA = `
SELECT pg_advisory_xact_lock(4242002);

CREATE TABLE IF NOT EXISTS projection_checkpoints (
  name       text PRIMARY KEY,
  position   bigint NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS service_configurations (
  service_id         text NOT NULL,
  environment        text NOT NULL,
  version            integer NOT NULL,
  configuration_data jsonb NOT NULL,
  checksum           char(64) NOT NULL,
  created_at         timestamptz NOT NULL,
  created_by         text NOT NULL,
  updated_at         timestamptz NOT NULL,
  updated_by         text NOT NULL,
  position           bigint NOT NULL,
  PRIMARY KEY (service_id, environment)
);

CREATE TABLE IF NOT EXISTS configuration_history (
  service_id         text NOT NULL,
  environment        text NOT NULL,
  version            integer NOT NULL,
  configuration_data jsonb NOT NULL,
  checksum           char(64) NOT NULL,
  change_type        text NOT NULL,
  changed_keys       text[] NOT NULL,
  changes            jsonb NOT NULL,
  change_reason      text,
  restored_version   integer,
  changed_by         text NOT NULL,
  changed_at         timestamptz NOT NULL,
  correlation_id     text,
  position           bigint NOT NULL,
  PRIMARY KEY (service_id, environment, version)
);
CREATE INDEX IF NOT EXISTS configuration_history_changed_at ON configuration_history (changed_at);

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

CREATE TABLE IF NOT EXISTS environments (
  id            text PRIMARY KEY,
  name          text NOT NULL,
  type          text NOT NULL,
  inherits_from text[] NOT NULL,
  description   text,
  updated_at    timestamptz NOT NULL,
  updated_by    text NOT NULL,
  position      bigint NOT NULL
);

CREATE TABLE IF NOT EXISTS audit_log (
  position       bigint PRIMARY KEY,
  event_id       uuid NOT NULL,
  event_type     text NOT NULL,
  stream_name    text NOT NULL,
  service_id     text,
  environment    text,
  actor          text NOT NULL,
  correlation_id text,
  reason         text,
  source_ip      text,
  summary        jsonb NOT NULL,
  occurred_at    timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_log_service ON audit_log (service_id, environment, position);

-- Credential metadata only: values never leave the log, and there only as ciphertext.
CREATE TABLE IF NOT EXISTS credentials (
  credential_key   text PRIMARY KEY,
  service_id       text NOT NULL,
  environment      text NOT NULL,
  credential_type  text NOT NULL,
  sensitivity      text NOT NULL,
  description      text,
  tags             jsonb NOT NULL,
  version          integer NOT NULL,
  status           text NOT NULL,
  expires_at       timestamptz,
  next_rotation_at timestamptz,
  rotated_at       timestamptz,
  created_at       timestamptz NOT NULL,
  created_by       text NOT NULL,
  deleted_at       timestamptz,
  position         bigint NOT NULL
);
CREATE INDEX IF NOT EXISTS credentials_service ON credentials (service_id, environment);

CREATE TABLE IF NOT EXISTS credential_access_log (
  position       bigint PRIMARY KEY,
  credential_key text NOT NULL,
  operation      text NOT NULL,
  outcome        text NOT NULL,
  version        integer,
  actor          text NOT NULL,
  service_id     text,
  source_ip      text,
  user_agent     text,
  reason         text,
  accessed_at    timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS credential_access_log_key ON credential_access_log (credential_key, position);

-- Hashes only: a service token is shown once, when issued.
CREATE TABLE IF NOT EXISTS service_tokens (
  id          text PRIMARY KEY,
  service_id  text NOT NULL,
  token_hash  char(64) NOT NULL UNIQUE,
  description text,
  issued_at   timestamptz NOT NULL,
  issued_by   text NOT NULL,
  expires_at  timestamptz,
  revoked_at  timestamptz,
  position    bigint NOT NULL
);

CREATE TABLE IF NOT EXISTS approval_policies (
  id         text PRIMARY KEY,
  definition jsonb NOT NULL,
  removed    boolean NOT NULL,
  position   bigint NOT NULL
);

CREATE TABLE IF NOT EXISTS change_requests (
  id                 text PRIMARY KEY,
  status             text NOT NULL,
  service_id         text NOT NULL,
  environment        text NOT NULL,
  changed_keys       text[] NOT NULL,
  requested_by       text NOT NULL,
  reason             text,
  required_approvals integer NOT NULL,
  approvals          jsonb NOT NULL,
  opened_at          timestamptz NOT NULL,
  expires_at         timestamptz NOT NULL,
  outcome            jsonb,
  position           bigint NOT NULL
);

-- Added with approvals: who approved the change that made a version.
ALTER TABLE configuration_history ADD COLUMN IF NOT EXISTS approval jsonb;

-- Added with governed environment changes: the services whose effective configuration an event changed.
ALTER TABLE audit_log ADD COLUMN IF NOT EXISTS affected_services text[];
CREATE INDEX IF NOT EXISTS audit_log_affected ON audit_log USING gin (affected_services);

-- Added with the effective position: the newest event that changed what an environment inherits.
ALTER TABLE environments ADD COLUMN IF NOT EXISTS inheritance_position bigint NOT NULL DEFAULT 0;
ALTER TABLE environments ADD COLUMN IF NOT EXISTS inheritance_changed_at timestamptz;
ALTER TABLE environments ADD COLUMN IF NOT EXISTS inheritance_changed_by text;
UPDATE environments SET inheritance_position = position, inheritance_changed_at = updated_at, inheritance_changed_by = updated_by
WHERE inheritance_changed_by IS NULL;

-- Added to tell a repeated version from the same event seen again.
ALTER TABLE configuration_history ADD COLUMN IF NOT EXISTS event_id uuid;
ALTER TABLE configuration_history ADD COLUMN IF NOT EXISTS forced jsonb;
`;
