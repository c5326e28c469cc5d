-- Reply and thread links as columns (PROTOCOL R28): derived from the payload the room stores, so a row can
-- never disagree with it. `thread` is the parent a reply was posted under (search can be limited to one
-- thread; a thread reads back from the archive past the room's retention); `reply_to` the quoted message.
-- Reactions stay in the payload: a message's counts (`reactions`) are part of its stored record (PROTOCOL R20).
ALTER TABLE archive_events
  ADD COLUMN thread   bigint GENERATED ALWAYS AS ((payload->>'thread')::bigint) STORED,
  ADD COLUMN reply_to bigint GENERATED ALWAYS AS ((payload->>'replyTo')::bigint) STORED;
CREATE INDEX archive_events_thread ON archive_events (room_id, thread, seq) WHERE thread IS NOT NULL;
