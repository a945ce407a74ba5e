/** The tables this projection writes; a rebuild drops and recreates exactly these. */
export const AUDIT_TABLES = ['audit_log'];

export const AUDIT_SCHEMA = `
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

-- Added with governed environment changes: the services whose effective configuration an event changed.
ALTER TABLE audit_log ADD COLUMN IF NOT EXISTS affected_services text[];
CREATE INDEX IF NOT EXISTS audit_log_affected ON audit_log USING gin (affected_services);

-- Added so that every row names the client program behind a request.
ALTER TABLE audit_log ADD COLUMN IF NOT EXISTS user_agent text;
`;
