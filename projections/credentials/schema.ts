/** The tables this projection writes; a rebuild drops and recreates exactly these. */
export const CREDENTIALS_TABLES = ['credentials', 'credential_access_log'];

export const CREDENTIALS_SCHEMA = `
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
`;
