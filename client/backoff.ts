/**
 * The client's reconnect delays: the shared full-jitter backoff (party/protocol/backoff.ts).
 *
 * partysocket's own delay (`_getNextDelay`: min * grow^(retry-1), capped) has no jitter and cannot be
 * given any through options, so client/connection.ts turns its retries off and the room schedules
 * each attempt with this function instead.
 */
export { BACKOFF_DEFAULTS, backoffDelay, type BackoffOptions } from "../party/protocol/backoff.ts";
