/**
 * The event log in SQL, shared by the PostgreSQL and PGlite adapters.
 *
 * Global order: every append first locks the single `log_head` row, takes the
 * next positions from it and commits while still holding that lock. So commit
 * order equals position order and positions have no gaps: a reader that has
 * seen position N can never later meet a committed event below N. A bigserial
 * with "position > checkpoint" polling would skip events whose transaction took
 * a lower position but committed later. The price is that appends are
 * serialized for the few microseconds the function runs plus the commit. To keep
 * one commit from bounding throughput, appends that arrive while a commit is
 * in flight are grouped into the next one (group commit, see postgres.ts);
 * the bench measures the result.
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

-- Appends several independent batches (one per stream) in one transaction, so
-- concurrent commands share one commit. Each item is checked on its own: an
-- item whose events are already in the log (by id: a retry of an append whose
-- answer was lost) is reported as recorded, where it is, and not written again;
-- a wrong expected revision skips that item (nothing of it is written) and is
-- reported in its row; the others are written.
-- expected: -1 any, -2 no stream, -3 stream exists, >= 0 exact revision.
-- An event may bring its recorded time (a restore keeps each event's own); else it is now.
DROP FUNCTION IF EXISTS append_batch(jsonb);
CREATE FUNCTION append_batch(p_items jsonb)
RETURNS TABLE (item integer, next_revision bigint, last_position bigint, conflict boolean, recorded boolean)
-- Planned on every call, against the log as it is: a plan cached while the log was small would scan the whole
-- log on every append once it has grown, for as long as nothing (autovacuum's ANALYZE) invalidates it.
SET plan_cache_mode = force_custom_plan
LANGUAGE plpgsql AS $$
DECLARE
  head bigint;
  entry jsonb;
  idx integer;
  stream text;
  expected bigint;
  current_revision bigint;
  n bigint;
  found_count bigint;
  found_revision bigint;
  found_position bigint;
  ids uuid[];
  written boolean := false;
BEGIN
  SELECT position INTO head FROM log_head WHERE id FOR UPDATE;
  FOR entry, idx IN SELECT value, ordinality::integer FROM jsonb_array_elements(p_items) WITH ORDINALITY LOOP
    stream := entry->>'stream';
    expected := (entry->>'expected')::bigint;
    n := jsonb_array_length(entry->'events');
    ids := ARRAY(SELECT (v->>'id')::uuid FROM jsonb_array_elements(entry->'events') v);
    SELECT count(*), max(e.stream_revision), max(e.position) INTO found_count, found_revision, found_position
    FROM events e WHERE e.event_id = ANY(ids);
    IF found_count > 0 THEN
      IF found_count <> n THEN
        RAISE EXCEPTION 'append to % holds % event ids already in the log and % new ones', stream, found_count, n - found_count USING ERRCODE = 'unique_violation';
      END IF;
      RETURN QUERY SELECT idx, found_revision, found_position, false, true;
      CONTINUE;
    END IF;
    SELECT revision INTO current_revision FROM streams WHERE stream_name = stream;
    IF NOT FOUND THEN current_revision := -1; END IF;
    IF (expected = -2 AND current_revision <> -1)
       OR (expected = -3 AND current_revision = -1)
       OR (expected >= 0 AND expected <> current_revision) THEN
      RETURN QUERY SELECT idx, current_revision, head, true, false;
      CONTINUE;
    END IF;
    IF n > 0 THEN
      INSERT INTO events (position, event_id, stream_name, stream_revision, event_type, data, metadata, recorded_at)
      SELECT head + e.ord, (e.value->>'id')::uuid, stream, current_revision + e.ord, e.value->>'type', e.value->'data', e.value->'metadata',
             COALESCE((e.value->>'recordedAt')::timestamptz, clock_timestamp())
      FROM jsonb_array_elements(entry->'events') WITH ORDINALITY AS e(value, ord);
      INSERT INTO streams (stream_name, revision) VALUES (stream, current_revision + n)
      ON CONFLICT (stream_name) DO UPDATE SET revision = EXCLUDED.revision;
      head := head + n;
      written := true;
    END IF;
    RETURN QUERY SELECT idx, current_revision + n, head, false, false;
  END LOOP;
  IF written THEN
    UPDATE log_head SET position = head WHERE id;
    PERFORM pg_notify('${EVENTSTORE_CHANNEL}', head::text);
  END IF;
END $$;
`;
