/** The tables this projection writes; a rebuild drops and recreates exactly these. */
export const SECURITY_TABLES = ['token_revocations'];

export const SECURITY_SCHEMA = `
-- JWT ids refused from their revocation on; kept past the tokens' expiry, they are few.
CREATE TABLE IF NOT EXISTS token_revocations (
  jti        text PRIMARY KEY,
  revoked_at timestamptz NOT NULL,
  revoked_by text NOT NULL,
  reason     text,
  position   bigint NOT NULL
);
`;
