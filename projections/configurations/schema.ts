/** The tables this projection writes; a rebuild drops and recreates exactly these. */
export const CONFIGURATIONS_TABLES = ['service_configurations', 'configuration_history'];

export const CONFIGURATIONS_SCHEMA = `
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

-- Added with approvals: who approved the change that made a version.
ALTER TABLE configuration_history ADD COLUMN IF NOT EXISTS approval jsonb;

-- Added to tell a repeated version from the same event seen again.
ALTER TABLE configuration_history ADD COLUMN IF NOT EXISTS event_id uuid;
ALTER TABLE configuration_history ADD COLUMN IF NOT EXISTS forced jsonb;
`;
