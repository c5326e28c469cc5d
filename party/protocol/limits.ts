/**
 * Every number that bounds what a client may send or what a room keeps, in one place.
 * Rooms read overrides from environment variables through party/config.ts (the one loader), so tests can
 * shrink windows without a rebuild. Runtime-free: imported by party/ and client/.
 *
 * Two tables, so the client's browser bundle carries only the numbers it reads (~0.5 KiB gzipped less,
 * PROTOCOL R76): WIRE_LIMITS, the bounds of the frames both ends check (the protocol's schemas read these
 * alone) and the client's own timings; LIMITS, those and everything only servers read. Server code reads
 * LIMITS; client/ and the schema modules the client parses with (schema.ts, inbox-schema.ts, quote.ts) read
 * WIRE_LIMITS, and tests/unit/client-bundle-size.test.ts fails if a server-only number reaches the bundle.
 */

export const WIRE_LIMITS = {
  /** Largest inbound WebSocket frame, in UTF-8 bytes, before it is even parsed. */
  maxFrameBytes: 16 * 1024,
  /** Default cap on a message's text, in characters; a room setting may lower it. */
  maxTextChars: 4000,
  /** Files one message may carry (PROTOCOL R31). */
  maxAttachments: 10,
  /** PROTOCOL R30: a room's default upload size limit (its `maxUploadBytes` setting), and the most a room may set. */
  maxUploadBytes: 25 * 1024 * 1024,
  maxUploadBytesCeiling: 1024 * 1024 * 1024,
  maxClientIdChars: 64,
  maxSessionIdChars: 64,
  maxUserIdChars: 64,
  maxDisplayNameChars: 80,
  /** Room ids: `dm:<a>:<b>` with two user ids, or a group/room id. */
  maxRoomIdChars: 140,
  /** Members of a group, its creator included: the next one is refused with `group_full`. */
  maxGroupMembers: 500,
  maxTitleChars: 100,
  /** A typing indicator lasts this long after the member's last typing signal (ms). */
  typingTtlMs: 5000,
  /** Largest page of the conversation list. */
  maxListLimit: 100,
  /** Characters of a message shown in conversation lists and push notifications. */
  previewChars: 100,
  /** Largest page a history request may ask for. */
  maxHistoryLimit: 200,
  /** Commands in one `batch` frame (PROTOCOL R17); the frame's byte limit applies to the whole batch. */
  maxCommandsPerFrame: 128,
  /** Unacked commands a client keeps in flight at once (the client's window). */
  maxInFlight: 256,
  /**
   * A client renews its awareness state this often (ms, a new clock): stock y-protocols peers drop a state
   * not renewed for 30 s (their `outdatedTimeout`), and the room, which has no interval, never renews one.
   */
  awarenessRenewMs: 15_000,
  /** PROTOCOL R20: an emoji is a short token without whitespace ("👍", ":party_parrot:"). */
  maxEmojiChars: 32,
  /** PROTOCOL R22: a quoted parent's excerpt, in characters. */
  quoteExcerptChars: 100,
} as const;

/** WIRE_LIMITS and the numbers only servers read (rooms, inboxes, the worker, the archive, relays). */
export const LIMITS = {
  ...WIRE_LIMITS,
  /** PROTOCOL R30: how long a presigned upload URL works (s); a slot can be re-signed while it lives. */
  uploadUrlSeconds: 15 * 60,
  /** PROTOCOL R32: how long a download's presigned URL works (s). */
  downloadUrlSeconds: 5 * 60,
  /** PROTOCOL R33: an upload not attached within this long is refused and its object removed (ms). */
  uploadTtlMs: 24 * 60 * 60 * 1000,
  /** Receipts, presence and typing go out at most once per this window (ms), batched: never O(members²). */
  signalWindowMs: 250,
  /**
   * Open rooms (no member list: public channels, live-stream chats) name who comes and goes only up to
   * this many present users; above it they are an audience and presence frames carry the count alone.
   * Each name costs every socket bytes and parsing: in a storm of 1,000 reconnects the lists were ~7 KB
   * per frame, ~0.3 ms of client parsing each. Groups always name (their 500 members bound the lists).
   */
  presenceListMaxUsers: 100,
  /**
   * An audience's count goes out at most once per this interval (ms), not every signal window: a viewer
   * count does not need 4 updates a second, and each one is a send to every socket (~46 µs per socket in
   * partykit dev: 46 ms of the room's thread per frame at 1,000 sockets), paid again and again while
   * viewers come and go. Entering or leaving audience mode is not held back (next signal window).
   */
  audienceCountMs: 1000,
  /** Events a room sends an inbox in one notification; a longer backlog is fetched by the device (sync). */
  notifyMaxEvents: 200,
  /** Conversations an offline user's queue remembers (entries for one conversation coalesce into one). */
  offlineQueueMax: 1000,
  /** A message's stored record must stay below the platform's 128 KiB value limit. */
  maxStoredValueBytes: 128 * 1024,
  /** Keys per `storage.put(entries)` call: the platform's hard limit. */
  maxKeysPerPut: 128,
  /**
   * How long the room collects accepted commands before one durable write (ms). 0: the write starts at
   * the next timer tick, and batches form while the previous write is in flight (one write at a time,
   * commit-pipeline.ts). Measured against 2 ms (2026-11-24, two runs each): DMs p50 5.0 vs 7.9-8.2 ms at
   * 200 DMs/s, 50 users p95 3.3-4.3 vs 5.3-5.9 ms; the 500-member p99 within its spread; one room's max
   * rate and the 1,000-socket fan-out a few percent lower in that A/B, within the spread in a later one
   * (bench/RESULTS.md finding 2).
   */
  flushWindowMs: 0,
  /** Most commands in one flush; a full batch flushes at once. */
  maxCommandsPerFlush: 512,
  /** Resume replays at most this many events; further behind gets `recovered: false`. */
  resumeMaxEvents: 10_000,
  /** Events per frame when replaying on resume. */
  replayChunkEvents: 200,
  /** How many recent (sender, clientId) pairs a room remembers: PROTOCOL I3 holds for this many latest events. */
  dedupeWindow: 10_000,
  /** Recent events a room keeps in memory as edit/delete targets (older ones are read from storage). */
  recentWindow: 2_000,
  /** How far above a session's last accepted `n` a command may be numbered (PROTOCOL R5): gaps are allowed, a leap to the end of the number space is not. */
  maxCommandNumberJump: 1_000_000,
  /**
   * Frames one user may send to one room over all their sockets (PROTOCOL R18), whatever they hold: a burst,
   * then a sustained rate; a reconnect does not refill it. A person's client sends a few a second (it packs
   * a tick's commands into one frame); past this a user is flooding, valid frames or not.
   */
  socketFrameBurst: 500,
  socketFramesPerSecond: 100,
  /** Commands of one socket decided but not yet durable (PROTOCOL R18): four times the client's window. */
  maxPendingPerSocket: 1024,
  /**
   * A durable write unsettled this long is given up as failed (PROTOCOL R3b): every command behind it gets
   * `storage_failed`, their sockets resync, the room reloads. Storage answers in milliseconds; a write this
   * late will not help anyone who is waiting for it.
   */
  writeStallMs: 30_000,
  /** How long an expired token's socket may stay open after it was told (PROTOCOL R19). */
  expiredTokenGraceMs: 10_000,
  /**
   * The window a room grants each socket in its welcome (PROTOCOL R84): a client keeps at most this many
   * commands unacked on it. Why 128 and not the client's 256: with 20 senders at 256 each, 5,120 commands
   * queued in the room and in the sockets' buffers, and a sender whose acks sat behind that backlog got
   * 1/5 of another's share (send→ack p99 ~1 s). Measured at 64, 128 and 192 (bench/RESULTS.md finding 17):
   * 128 keeps the room's rate (fewer in flight leave its writes smaller: 64 cost a fifth of it) with equal
   * senders within 10% of each other and p99 ~110 ms; at 192 the backlog is back (fairness 0.42, p99 0.5 s).
   */
  socketWindow: 128,
  /**
   * The runtime's own frame limit (workerd, measured in partykit dev 0.0.115): a frame above it never reaches
   * the room; the runtime closes the socket with 1009 (PROTOCOL R11). Documentation: nothing here checks it.
   */
  runtimeMaxFrameBytes: 1024 * 1024,
  /** Body of an HTTP request from a user (room and inbox routes, the admin API): more is `frame_too_large` (413). */
  maxRequestBodyBytes: 64 * 1024,
  /**
   * Body of an actor-to-actor call that passes the worker with a service token (an alarm's retry): an inbox
   * notification carries up to `notifyMaxEvents` events, an inbox's batch up to `maxCommandsPerFlush` DMs.
   */
  maxActorBodyBytes: 16 * 1024 * 1024,
  /** A request's whole URL, query string included: more is `bad_frame` (414). */
  maxUrlBytes: 8 * 1024,
  /** A request's headers, names and values (`name: value\r\n` each): more bytes or more headers is `bad_frame` (431). */
  maxHeaderBytes: 16 * 1024,
  maxHeaderCount: 100,
  /** Users a room shows typing at once (PROTOCOL R15): a further typer is not shown until an entry expires. */
  maxTypingUsers: 100,
  /** Open sockets of one user on one inbox (its devices) or in one room: the next one is refused (`rate_limited`, 4029). */
  maxSocketsPerUser: 32,
  /** How long a socket refused for having too many siblings waits before it tries again (ms). */
  socketsRetryAfterMs: 30_000,
  /**
   * Idle sockets (party/core/idle-sweep.ts): silent this long (ms; no frame, not even `ping`) while the room
   * broadcast at least `idleCloseBytes` since, a socket is dead or not reading. Three of the client's
   * 20 s ping intervals. Looked for at most once per `idleSweepMs`.
   */
  idleCloseMs: 60_000,
  idleCloseBytes: 1024 * 1024,
  idleSweepMs: 10_000,
  /** Live frames held for one socket while it replays (PROTOCOL R7), in UTF-16 units: more, and it resyncs (4013). */
  catchUpMaxBytes: 8 * 1024 * 1024,
  /**
   * Rooms the directory keeps (PROTOCOL R81): past it, the least recently reported idle room goes (then the
   * one with the fewest sockets). Busy rooms stay listed with exact counts while fewer than this have people.
   */
  directoryMaxRooms: 10_000,
  /** Sessions (`lastN`, PROTOCOL R5) a room keeps in memory before it drops those without an open socket. */
  maxSessionsInMemory: 10_000,
  /**
   * Presence over y-protocols awareness (PROTOCOL R72-R75): a state's JSON, as the room stamps and sends it, is
   * at most this many UTF-8 bytes (a name, a status, what the user views; not a document).
   */
  maxAwarenessStateBytes: 1024,
  /** Awareness clientIDs one socket may own (a kaiwa client uses one; an editor tab with a few docs a few more). */
  maxAwarenessClientsPerSocket: 4,
  /**
   * A renewal (the same state, a new clock) waits up to this long (ms) for a flush, riding along with any
   * change meanwhile: in a 500-member group ~33 renewals a second would otherwise make every signal window a
   * broadcast to every socket. Well inside the 15 s a renewal has before stock peers would drop the state.
   */
  awarenessRenewBatchMs: 5_000,
  /** Removed clientIDs whose last clock the room remembers, so a returning one gets a higher clock (oldest forgotten first). */
  maxAwarenessTombstones: 10_000,
  /**
   * Live awareness states in one room: four per member of the largest group. Bounds what a joiner's snapshot
   * and a flush carry (with `maxAwarenessStateBytes`, ~2 MiB); past it a new clientID gets `limit_reached`.
   */
  maxAwarenessStatesPerRoom: 2_000,
  /** An outbound awareness frame carries states up to about this many bytes; a bigger flush is split. */
  awarenessFrameBytes: 256 * 1024,
  // ---- Reactions, threads, pins, mentions (PROTOCOL R20-R28).
  /** PROTOCOL R20: distinct emoji on one message; each user holds at most one of each. */
  maxReactionsPerMessage: 20,
  /** PROTOCOL R24: pinned messages per room. */
  maxPinsPerRoom: 50,
  /** PROTOCOL R26: users one message may mention. */
  maxMentionsPerMessage: 20,
  /** Per-(message, user) reaction sets a room keeps in memory (the rest are read back from storage). */
  maxReactionSetsInMemory: 20_000,
  /**
   * PROTOCOL R52: a relay shard's window of recent events, from which its viewers resume: at most this many
   * events and this many UTF-16 units of frames. A viewer further behind gets `too_far_behind` and reloads.
   */
  relayWindowEvents: 2_000,
  relayWindowBytes: 4 * 1024 * 1024,
} as const;
