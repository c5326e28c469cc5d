/**
 * Every statement the archive runs, parameterised (never built from input). Rows are derived from the
 * room's own JSON in SQL, so the upsert takes one JSON array parameter however many rows a batch has.
 */

/**
 * Idempotent upsert keyed by (room_id, seq). A retried batch (reply lost, DB restarted) rewrites nothing:
 * the WHERE skips rows whose payload is already identical; a message edited or deleted since its last
 * drain is overwritten with its latest state.
 */
export const UPSERT_EVENTS = `
INSERT INTO archive_events (room_id, seq, kind, ts, author_id, author_name, client_id, target, body, edited_by, deleted_by, payload)
SELECT $1, (e->>'seq')::bigint, e->>'kind', (e->>'ts')::bigint, e->'author'->>'id', e->'author'->>'name', e->>'clientId',
       (e->>'target')::bigint, e->>'text', (e->>'editedBy')::bigint, (e->>'deletedBy')::bigint, e
FROM jsonb_array_elements($2::jsonb) AS e
ON CONFLICT (room_id, seq) DO UPDATE SET
  kind = excluded.kind, ts = excluded.ts, author_id = excluded.author_id, author_name = excluded.author_name,
  client_id = excluded.client_id, target = excluded.target, body = excluded.body, edited_by = excluded.edited_by,
  deleted_by = excluded.deleted_by, payload = excluded.payload
WHERE archive_events.payload IS DISTINCT FROM excluded.payload`;

/** Users the room has seen (joined or posted): their first sighting wins, a retry changes nothing. */
export const UPSERT_SEEN_MEMBERS = `
INSERT INTO archive_members (room_id, user_id, since_ts, source)
SELECT $1, m->>'id', (m->>'ts')::bigint, 'seen' FROM jsonb_array_elements($2::jsonb) AS m
ON CONFLICT (room_id, user_id) DO NOTHING`;

/**
 * Group membership from sequenced events (groups work): each user's state at the end of the batch, so a
 * removed member stops finding the group's messages (`left_ts`), a re-added one finds them again.
 * Runs after the seen-members upsert of the same transaction, so events have the last word.
 */
export const UPSERT_EVENT_MEMBERS = `
INSERT INTO archive_members (room_id, user_id, since_ts, left_ts, source)
SELECT $1, m->>'id', (m->>'ts')::bigint, (m->>'left')::bigint, 'event' FROM jsonb_array_elements($2::jsonb) AS m
ON CONFLICT (room_id, user_id) DO UPDATE SET
  since_ts = CASE WHEN excluded.left_ts IS NULL AND archive_members.left_ts IS NOT NULL THEN excluded.since_ts ELSE archive_members.since_ts END,
  left_ts = excluded.left_ts,
  source = 'event'`;

/** A page of the archived log, oldest first, as the room would have served it. */
export const READ_RANGE = `
SELECT seq, payload::text AS json FROM archive_events WHERE room_id = $1 AND seq >= $2 AND seq < $3 ORDER BY seq`;

/** Scattered records of one room (a thread page, quoted parents past the room's retention; PROTOCOL R23). */
export const READ_SEQS = `
SELECT seq, payload::text AS json FROM archive_events WHERE room_id = $1 AND seq = ANY($2::bigint[])`;

/**
 * Search. Membership is part of the WHERE clause (not filtered afterwards): DM rooms by the two ids in
 * their name, groups through the rows their membership events wrote, open rooms through archive_members. The GIN bigram index narrows candidates (@> all the
 * query's bigrams); strpos on the normalised text then checks each term as a literal substring, so `%` and
 * `_` match only themselves and bigrams that happen to co-occur do not count as a match.
 * $1 user, $2 terms (normalised in SQL), $3 whole query, $4 room, $5 sender, $6 from ts, $7 to ts, $8 limit, $9 offset,
 * $10 thread (PROTOCOL R28: the parent and the replies under it, in room $4).
 */
export const SEARCH = `
SELECT e.room_id, e.seq, e.ts, e.author_id, e.author_name, e.body, e.edited_by,
       (SELECT sum((length(n.nb) - length(replace(n.nb, t, ''))) / length(t)) FROM unnest(kaiwa_norm_terms($2::text[])) AS t)::float8
         / (1 + ln(1 + length(n.nb)))
         + CASE WHEN cardinality($2::text[]) > 1 AND strpos(n.nb, kaiwa_norm($3)) > 0 THEN 1 ELSE 0 END AS score
FROM archive_events e
CROSS JOIN LATERAL (SELECT e.search_text AS nb) AS n
WHERE e.kind = 'message' AND e.deleted_by IS NULL
  AND e.grams @> kaiwa_query_grams($2::text[])
  AND NOT EXISTS (SELECT 1 FROM unnest(kaiwa_norm_terms($2::text[])) AS t WHERE strpos(n.nb, t) = 0)
  AND CASE WHEN e.room_id LIKE 'dm:%'
        THEN split_part(e.room_id, ':', 2) = $1 OR split_part(e.room_id, ':', 3) = $1
        ELSE EXISTS (
          SELECT 1 FROM archive_members m
          WHERE m.room_id = e.room_id AND m.user_id = $1 AND m.left_ts IS NULL
            -- A group's members are exactly those its events made (PROTOCOL I7, R14a): a 'seen' row (a join
            -- or a post while the room was still open, or queued just before the group was created) never
            -- counts once any membership event exists for the room, whatever order the rows arrived in.
            AND (m.source = 'event' OR NOT EXISTS (SELECT 1 FROM archive_members g WHERE g.room_id = e.room_id AND g.source = 'event'))
        )
      END
  AND ($4::text IS NULL OR e.room_id = $4)
  AND ($5::text IS NULL OR e.author_id = $5)
  AND ($6::bigint IS NULL OR e.ts >= $6)
  AND ($7::bigint IS NULL OR e.ts < $7)
  AND ($10::bigint IS NULL OR e.thread = $10 OR e.seq = $10)
ORDER BY score DESC, e.ts DESC, e.room_id, e.seq
LIMIT $8 OFFSET $9`;
