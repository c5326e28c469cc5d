-- Search matches file names (files in messages, PROTOCOL R30-R33): a message's search text is its body
-- followed by the names of its attachments, so "invoice.pdf" finds the message that carried it. Derived
-- from the payload the room stores, like every other column here: a deleted message's tombstone carries no
-- attachments, so its names stop matching with its text.
CREATE FUNCTION kaiwa_file_names(payload jsonb) RETURNS text
  LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
  AS $$ SELECT string_agg(a->>'name', ' ') FROM jsonb_array_elements(CASE WHEN jsonb_typeof(payload->'attachments') = 'array' THEN payload->'attachments' ELSE '[]'::jsonb END) AS a $$;

-- The generated columns are recomputed for every row by the ALTER (one rewrite of the table, in this
-- migration's transaction); the GIN index goes with the column and is built again.
ALTER TABLE archive_events DROP COLUMN grams, DROP COLUMN search_text;
ALTER TABLE archive_events
  ADD COLUMN search_text text GENERATED ALWAYS AS (CASE WHEN kind = 'message' THEN kaiwa_norm(body || coalesce(' ' || kaiwa_file_names(payload), '')) END) STORED,
  ADD COLUMN grams text[] GENERATED ALWAYS AS (CASE WHEN kind = 'message' THEN kaiwa_grams(body || coalesce(' ' || kaiwa_file_names(payload), '')) END) STORED;
CREATE INDEX archive_events_grams ON archive_events USING gin (grams) WHERE kind = 'message' AND deleted_by IS NULL;
