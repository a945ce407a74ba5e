/** The tables this projection writes; a rebuild drops and recreates exactly these. */
export const APPROVALS_TABLES = ['approval_policies', 'change_requests'];

export const APPROVALS_SCHEMA = `
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
`;
