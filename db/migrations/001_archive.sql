-- The archive: every event a room committed, keyed by (room_id, seq) as in the room log (I1, I9).
-- `payload` is the event exactly as the room stores it (a message in its latest state: edited text, or a
-- tombstone); the other columns are derived from it here, in one place, so a row can never disagree with
-- its payload. `kind` + `payload` take event kinds added later (membership events from the groups work).

-- Search text: NFKC (full-width Ａ → A, half-width ｶ → カ) and ASCII-only lower case. `COLLATE "C"` pins
-- lower() to ASCII so PGlite (C locale) and any Postgres whatever its ctype fold case identically.
CREATE FUNCTION kaiwa_norm(t text) RETURNS text
  LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
  AS $$ SELECT lower(normalize(t, NFKC) COLLATE "C") $$;

-- Character bigrams of the normalised text. Japanese has no spaces, so words cannot be split out; bigrams
-- index every two-character substring, which makes a two-character query (既読) an index lookup. No
-- extension needed: pg_trgm under a C ctype drops non-ASCII characters and yields no trigram for a
-- two-character query; pg_bigm and PGroonga are on neither PGlite nor Neon.
-- Grams that span whitespace and repeated grams are kept: query terms never contain whitespace, GIN keeps
-- each key once per row anyway, and filtering them (DISTINCT + a regex per gram) tripled the time PGlite
-- spends per archived row (measured: 994 vs 3,453 rows/s inserting 10k messages).
CREATE FUNCTION kaiwa_grams(t text) RETURNS text[]
  LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
  AS $$
    SELECT coalesce(array_agg(substr(n, i, 2)), '{}')
    FROM (SELECT kaiwa_norm(t) AS n) AS s, generate_series(1, length(n) - 1) AS i
  $$;

CREATE TABLE archive_events (
  room_id     text   NOT NULL,
  seq         bigint NOT NULL,
  kind        text   NOT NULL,
  ts          bigint NOT NULL,
  author_id   text   NOT NULL,
  author_name text   NOT NULL,
  client_id   text   NOT NULL,
  -- edits and deletions: the seq they apply to
  target      bigint,
  -- messages: their current text ('' once deleted); edits: the new text
  body        text,
  edited_by   bigint,
  deleted_by  bigint,
  payload     jsonb  NOT NULL,
  archived_at timestamptz NOT NULL DEFAULT now(),
  -- messages: the normalised text search matches terms in, stored so a query does not normalise every
  -- candidate again (measured: ~half the time of a common-term query on PGlite), and its bigrams
  search_text text  GENERATED ALWAYS AS (CASE WHEN kind = 'message' THEN kaiwa_norm(body) END) STORED,
  grams       text[] GENERATED ALWAYS AS (CASE WHEN kind = 'message' THEN kaiwa_grams(body) END) STORED,
  PRIMARY KEY (room_id, seq)
);

-- Search looks only at live messages: deleted ones never appear, edited ones by their new text.
CREATE INDEX archive_events_grams ON archive_events USING gin (grams) WHERE kind = 'message' AND deleted_by IS NULL;
CREATE INDEX archive_events_author ON archive_events (author_id, ts) WHERE kind = 'message';

-- Who belongs to a room, for search (enforced in SQL). Today a row is written when a room first sees a
-- user (joined or posted: source 'seen'); the groups work adds and removes members with sequenced events
-- (source 'event', `left_ts` set on removal). DM rooms need no rows: their id names both participants.
CREATE TABLE archive_members (
  room_id  text   NOT NULL,
  user_id  text   NOT NULL,
  since_ts bigint NOT NULL,
  left_ts  bigint,
  source   text   NOT NULL,
  PRIMARY KEY (room_id, user_id)
);
CREATE INDEX archive_members_user ON archive_members (user_id) WHERE left_ts IS NULL;
