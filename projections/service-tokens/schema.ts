/** The tables this projection writes; a rebuild drops and recreates exactly these. */
export const SERVICE_TOKENS_TABLES = ['service_tokens'];

export const SERVICE_TOKENS_SCHEMA = `
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
`;
