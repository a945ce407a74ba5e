/**
 * The event log in SQL, shared by the PostgreSQL and PGlite adapters.
 *
 * Global order: every append first locks the single `log_head` row, takes the
 * next positions from it and commits while still holding that lock. So commit
 * order equals position order and positions have no gaps: a reader that has
 * seen position N can never later meet a committed event below N. A bigserial
 * with "position > checkpoint" polling would skip events whose transaction took
 * a lower position but committed later. The price is that appends are
 * serialized for the few microseconds the function runs plus the commit; the
 * bench measures what that costs.
 */
export const EVENTSTORE_CHANNEL = 'configledger_events';

export const EVENTSTORE_SCHEMA = `
-- Instances starting together must not race on CREATE OR REPLACE; the script runs as one implicit transaction.
SELECT pg_advisory_xact_lock(4242001);
CREATE TABLE IF NOT EXISTS events (
  position        bigint PRIMARY KEY,
  event_id        uuid NOT NULL UNIQUE,
  stream_name     text NOT NULL,
  stream_revision bigint NOT NULL,
  event_type      text NOT NULL,
  data            jsonb NOT NULL,
  metadata        jsonb NOT NULL,
  recorded_at     timestamptz NOT NULL DEFAULT clock_timestamp(),
  UNIQUE (stream_name, stream_revision)
);
CREATE INDEX IF NOT EXISTS events_recorded_at ON events (recorded_at);

CREATE TABLE IF NOT EXISTS streams (
  stream_name text PRIMARY KEY,
  revision    bigint NOT NULL
);

CREATE TABLE IF NOT EXISTS log_head (
  id       boolean PRIMARY KEY DEFAULT true CHECK (id),
  position bigint NOT NULL
);
INSERT INTO log_head (id, position) VALUES (true, 0) ON CONFLICT (id) DO NOTHING;

-- p_expected: -1 any, -2 no stream, -3 stream exists, >= 0 exact revision.
CREATE OR REPLACE FUNCTION append_events(p_stream text, p_expected bigint, p_events jsonb)
RETURNS TABLE (next_revision bigint, last_position bigint)
LANGUAGE plpgsql AS $$
DECLARE
  head bigint;
  current_revision bigint;
  n bigint := jsonb_array_length(p_events);
BEGIN
  SELECT position INTO head FROM log_head WHERE id FOR UPDATE;
  SELECT revision INTO current_revision FROM streams WHERE stream_name = p_stream;
  IF NOT FOUND THEN current_revision := -1; END IF;
  IF (p_expected = -2 AND current_revision <> -1)
     OR (p_expected = -3 AND current_revision = -1)
     OR (p_expected >= 0 AND p_expected <> current_revision) THEN
    RAISE EXCEPTION 'WRONG_EXPECTED_REVISION' USING ERRCODE = 'P0001', DETAIL = current_revision::text;
  END IF;
  IF n = 0 THEN
    RETURN QUERY SELECT current_revision, head;
    RETURN;
  END IF;
  INSERT INTO events (position, event_id, stream_name, stream_revision, event_type, data, metadata)
  SELECT head + e.ord, (e.value->>'id')::uuid, p_stream, current_revision + e.ord, e.value->>'type', e.value->'data', e.value->'metadata'
  FROM jsonb_array_elements(p_events) WITH ORDINALITY AS e(value, ord);
  UPDATE log_head SET position = head + n WHERE id;
  INSERT INTO streams (stream_name, revision) VALUES (p_stream, current_revision + n)
  ON CONFLICT (stream_name) DO UPDATE SET revision = EXCLUDED.revision;
  PERFORM pg_notify('${EVENTSTORE_CHANNEL}', (head + n)::text);
  RETURN QUERY SELECT current_revision + n, head + n;
END $$;
`;
