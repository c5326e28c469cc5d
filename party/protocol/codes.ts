/**
 * The one table of error codes and WebSocket close codes. Each says whether retrying can help;
 * the client's reconnect and send logic read `retryable` from here and nowhere else.
 */
export const ERRORS = {
  bad_frame: { retryable: false },
  frame_too_large: { retryable: false },
  text_empty: { retryable: false },
  text_too_long: { retryable: false },
  not_found: { retryable: false },
  already_deleted: { retryable: false },
  forbidden: { retryable: false },
  unauthorized: { retryable: false },
  token_expired: { retryable: false },
  out_of_order: { retryable: false },
  clientid_reused: { retryable: false },
  slow_mode: { retryable: true },
  storage_failed: { retryable: true, resend: true },
  read_out_of_range: { retryable: false },
  room_unavailable: { retryable: true, resend: true },
  group_full: { retryable: false },
  not_member: { retryable: false },
  internal: { retryable: true, resend: true },
  /** Moderation (party/core/moderation.ts): an operator banned or muted this user in this room, until an expiry. */
  banned: { retryable: false },
  muted: { retryable: false },
  archive_unavailable: { retryable: true },
  /**
   * PROTOCOL R18: over a rate limit or the in-flight bound. The socket closes (4029) and nothing it sent after
   * the named command is decided, so the client resends that command and everything after it, in order,
   * on a socket opened no sooner than `retryAfterMs`.
   */
  rate_limited: { retryable: true, resend: true },
  /** PROTOCOL R19: the socket's token expired while it was open; reconnect with a fresh token and resend. */
  session_expired: { retryable: true, resend: true },
  // ---- Uploads (PROTOCOL R30-R33). None is resent: the app decides what to do with the file.
  uploads_off: { retryable: false },
  upload_too_large: { retryable: false },
  upload_type_refused: { retryable: false },
  upload_unknown: { retryable: false },
  upload_not_yours: { retryable: false },
  upload_used: { retryable: false },
  upload_expired: { retryable: false },
  upload_mismatch: { retryable: false },
  storage_unavailable: { retryable: true },
  /** PROTOCOL R20, R24: reacting with an emoji one already has, removing one not held, pinning twice, unpinning what is not pinned. */
  no_change: { retryable: false },
  /** PROTOCOL R20, R24: a bounded set is full (distinct emoji on a message, pins in a room). */
  limit_reached: { retryable: false },
  /** PROTOCOL R52: a relay id that names no shard (malformed, not a live room, or past the most shards a room may have). */
  no_such_shard: { retryable: false },
} as const satisfies Record<string, { retryable: boolean; resend?: true }>;

export type ErrorCode = keyof typeof ERRORS;
export const ERROR_CODES = Object.keys(ERRORS) as ErrorCode[];

/**
 * Each code in words: the `message` of an error frame that brings none of its own (error-frame.ts). A table of
 * its own, apart from the flags: every error frame carries its message, so the client never reads these, and
 * its browser bundle leaves them out (~0.7 KiB gzipped, PROTOCOL R76).
 */
export const ERROR_TEXTS = {
  bad_frame: "The frame is not valid JSON or does not match the protocol.",
  frame_too_large: "The frame is larger than the protocol allows.",
  text_empty: "A message needs text or an attachment.",
  text_too_long: "The text is longer than this room allows.",
  not_found: "The target message does not exist.",
  already_deleted: "The target message was deleted.",
  forbidden: "You may not do that in this room.",
  unauthorized: "A valid token is required.",
  token_expired: "The token has expired; get a new one.",
  out_of_order: "A command's number must be above the last one this session had accepted.",
  clientid_reused: "This clientId was already used for a different command.",
  slow_mode: "This room is in slow mode; wait before posting again.",
  storage_failed: "The room could not store the command; nothing was accepted.",
  read_out_of_range: "A read position must be between 1 and the room's lastSeq.",
  room_unavailable: "The conversation's room could not be reached; nothing was accepted.",
  group_full: "The group has reached its member limit.",
  not_member: "Only members of this conversation may do that.",
  internal: "Unexpected server error.",
  banned: "You are banned from this room.",
  muted: "You are muted in this room and may not post.",
  archive_unavailable: "The archive (history past the room's window, search) is unreachable; try again.",
  rate_limited: "Too many commands too fast; reconnect after retryAfterMs and resend.",
  session_expired: "This socket's token has expired; reconnect with a fresh token.",
  uploads_off: "This deployment or room takes no uploads.",
  upload_too_large: "The file is larger than this room allows.",
  upload_type_refused: "This room does not take files of this type.",
  upload_unknown: "No such upload in this room.",
  upload_not_yours: "Only the user who made an upload may attach it.",
  upload_used: "This upload is already attached to a message (or was deleted with one).",
  upload_expired: "This upload slot has expired; upload the file again.",
  upload_mismatch: "The stored file is missing or is not what was declared (size or real type).",
  storage_unavailable: "The object storage could not be reached; try again.",
  no_change: "The command would change nothing (already reacted or pinned, or no such reaction or pin).",
  limit_reached: "The message or room has reached its limit for this (distinct reactions, pins).",
  no_such_shard: "No such relay shard; connect to the live room and follow its redirect.",
} as const satisfies Record<ErrorCode, string>;

export function isRetryable(code: ErrorCode): boolean {
  return ERRORS[code].retryable;
}

/**
 * `resend`: the client keeps the command and resends it, unchanged and in order, on a new socket. Only for
 * codes where the room guarantees nothing later from that session was accepted (a failed write fails every
 * command sequenced after it and closes the socket with 4013). Other retryable codes (slow_mode) go back to
 * the app: later commands may already be accepted, so resending the same number would be out of order.
 */
export function isResent(code: ErrorCode): boolean {
  const entry = ERRORS[code];
  return "resend" in entry && entry.resend === true;
}

/**
 * Application close codes (4000-4999), and the one standard code with a meaning of its own here (1009).
 * A browser sees only 1006 when an upgrade is refused with an HTTP status, so refusals accept the socket,
 * send one error frame and close with one of these.
 */
export const CLOSE_CODES = {
  /**
   * Standard 1009 "message too big", sent by the runtime, not the room: a frame over its 1 MiB limit never
   * reaches the room (PROTOCOL R11). Named after the error code it means; not retryable, since the reference
   * client never sends such a frame and a resend would only send it again.
   */
  1009: { name: "frame_too_large", retryable: false },
  4001: { name: "unauthorized", retryable: false },
  4003: { name: "forbidden", retryable: false },
  4004: { name: "not_member", retryable: false },
  4008: { name: "protocol_violation", retryable: false },
  /** Retryable: a late upgrade of an abandoned attempt can replace the live socket; the client just reconnects. */
  4012: { name: "session_replaced", retryable: true },
  4013: { name: "resync_required", retryable: true },
  /** PROTOCOL R19: the token expired mid-session; the client reconnects with a fresh one at once. */
  4002: { name: "session_expired", retryable: true },
  /** PROTOCOL R18: over a rate limit; the error frame before the close says when to come back. */
  4029: { name: "rate_limited", retryable: true },
  /** An operator banned this user: every socket of theirs is closed and reconnects are refused until the ban expires. */
  4030: { name: "banned", retryable: false },
  /** PROTOCOL R51, R53: go where the `redirect` frame just before this close says (another relay shard, or the room). */
  4031: { name: "moved", retryable: true },
  /**
   * PROTOCOL R80: the socket was silent (not even `ping`) for `idleCloseMs` while the room kept sending to it:
   * dead or not reading. Retryable: a client that was only slow reconnects and resumes from its position.
   */
  4014: { name: "not_reading", retryable: true },
} as const;

export type CloseCode = keyof typeof CLOSE_CODES;

/** Every close code the server or client uses, by name: code names these, never the bare numbers. */
export const CLOSE = {
  /** Standard: a clean close (answering a peer's close). */
  normal: 1000,
  /** Standard: a frame over the runtime's or the protocol's size limit (RFC 6455 "message too big"). */
  tooBig: 1009,
  /** Standard: the server failed (a join or welcome that threw); retryable. */
  internalError: 1011,
  unauthorized: 4001,
  forbidden: 4003,
  notMember: 4004,
  protocolViolation: 4008,
  sessionReplaced: 4012,
  resyncRequired: 4013,
  sessionExpired: 4002,
  rateLimited: 4029,
  banned: 4030,
  moved: 4031,
  notReading: 4014,
} as const satisfies Record<string, number>;

/** Standard codes are retryable (network drop, server restart, 1011 internal error) but 1009; 4xxx follow the table. */
export function isRetryableClose(code: number): boolean {
  if (code in CLOSE_CODES) return CLOSE_CODES[code as CloseCode].retryable;
  if (code >= 4000 && code <= 4999) return false;
  return true;
}
