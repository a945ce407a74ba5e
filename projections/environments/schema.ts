/** The tables this projection writes; a rebuild drops and recreates exactly these. */
export const ENVIRONMENTS_TABLES = ['environments'];

export const ENVIRONMENTS_SCHEMA = `
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

-- Added with the effective position: the newest event that changed what an environment inherits.
ALTER TABLE environments ADD COLUMN IF NOT EXISTS inheritance_position bigint NOT NULL DEFAULT 0;
ALTER TABLE environments ADD COLUMN IF NOT EXISTS inheritance_changed_at timestamptz;
ALTER TABLE environments ADD COLUMN IF NOT EXISTS inheritance_changed_by text;
UPDATE environments SET inheritance_position = position, inheritance_changed_at = updated_at, inheritance_changed_by = updated_by
WHERE inheritance_changed_by IS NULL;
`;
