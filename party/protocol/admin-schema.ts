/**
 * Shapes of the operator side: admin request bodies and queries (parsed with zod at every boundary, PROTOCOL I8),
 * the stats a room reports to the directory, and the answers the dashboard and the admin client read.
 * Runtime-free: imported by party/ (worker, rooms, directory) and client/admin.ts.
 */
import { z } from "zod";
import { ClientId, LIMITS, RoomSettings, RoomSettingsPatch, Seq, UserId } from "./index.ts";

/** The one directory instance (party/directory.ts). */
export const DIRECTORY_ID = "global";

/** Room ids as they appear in `/parties/room/<id>`: plain characters, so the admin path and the party URL agree. */
export const RoomId = z.string().min(1).max(128).regex(/^[A-Za-z0-9_.:-]+$/, "letters, digits, _ . : and -");

/** Longest ban or mute: a year. Every restriction expires (the brief: "with expiry"). */
export const MAX_RESTRICTION_MS = 365 * 24 * 3_600_000;

export const ListRoomsQuery = z.object({
  q: z.string().max(128).optional(),
  limit: z.coerce.number().int().positive().max(500).default(100),
});
export const MessagesQuery = z.object({
  before: z.coerce.number().int().positive().optional(),
  limit: z.coerce.number().int().positive().max(LIMITS.maxHistoryLimit).default(50),
});
/** PROTOCOL R25: a message's edit history. */
export const EditsQuery = z.object({ seq: z.coerce.number().int().positive() });
export const AuditQuery = z.object({ limit: z.coerce.number().int().positive().max(500).default(100) });

/** `clientId` (optional) makes a retried action idempotent: the room answers with the original seq (PROTOCOL I3). */
export const DeleteBody = z.object({ target: Seq, clientId: z.optional(ClientId) }).strict();
export const AnnounceBody = z.object({ text: z.string().trim().min(1).max(LIMITS.maxTextChars), clientId: z.optional(ClientId) }).strict();
export const ModerateBody = z
  .object({
    user: UserId,
    action: z.enum(["ban", "unban", "mute", "unmute"]),
    /** Required for ban and mute: how long, from now. */
    durationMs: z.number().int().positive().max(MAX_RESTRICTION_MS).optional(),
    clientId: z.optional(ClientId),
  })
  .strict()
  .refine((b) => (b.action === "ban" || b.action === "mute") === (b.durationMs !== undefined), "durationMs is required for ban and mute, and only for them");
export const SettingsBody = RoomSettingsPatch;
export type DeleteBody = z.infer<typeof DeleteBody>;
export type AnnounceBody = z.infer<typeof AnnounceBody>;
export type ModerateBody = z.infer<typeof ModerateBody>;

/** What an admin action answers: the seq the action got in the room's log. */
export const ActionResult = z.object({ seq: Seq, ts: z.number().int(), duplicate: z.boolean().optional() });
export type ActionResult = z.infer<typeof ActionResult>;

/** Cumulative-free histogram: `counts[i]` observations ≤ bucketsMs[i] and > bucketsMs[i-1]; the last is +Inf. */
export const HistogramSnapshot = z.object({
  bucketsMs: z.array(z.number().positive()).max(32),
  counts: z.array(z.number().int().nonnegative()).max(33),
  sumMs: z.number().nonnegative(),
  count: z.number().int().nonnegative(),
});
export type HistogramSnapshot = z.infer<typeof HistogramSnapshot>;

/** The small, coalesced stats a room sends the directory (never on the message path). */
export const RoomReport = z.object({
  room: RoomId,
  kind: z.enum(["dm", "room"]),
  bootId: z.string().max(32),
  epoch: z.string().max(64),
  lastSeq: z.number().int().nonnegative(),
  /** Client sockets; operator observers (the dashboard's live tail) are counted apart. */
  connections: z.number().int().nonnegative(),
  observers: z.number().int().nonnegative(),
  /** Since this room process started (a Prometheus counter; a restart resets it). */
  messagesTotal: z.number().int().nonnegative(),
  messagesPerSecond: z.number().nonnegative(),
  errors: z.record(z.string().max(64), z.number().int().nonnegative()),
  ackLatency: HistogramSnapshot,
  /** Committed events not yet in the archive; 0 until the archive exists. */
  archiveLag: z.number().int().nonnegative(),
  /** Reports this room failed to deliver (swallowed, counted, shown here once one gets through). */
  reportFailures: z.number().int().nonnegative(),
});
export type RoomReport = z.infer<typeof RoomReport>;
/** The directory's record: the report plus when it arrived. */
export const RoomEntry = RoomReport.extend({ updatedAt: z.number().int() });
export type RoomEntry = z.infer<typeof RoomEntry>;
/** `evicted`: rooms the directory dropped past its bound since it started (PROTOCOL R81). */
export const RoomList = z.object({ rooms: z.array(RoomEntry), total: z.number().int(), evicted: z.number().int().nonnegative().default(0) });

export const Restriction = z.object({ user: UserId, banUntil: z.number().int().optional(), muteUntil: z.number().int().optional() });

export const RoomDetail = z.object({
  room: z.string(),
  kind: z.enum(["dm", "room"]),
  epoch: z.string(),
  lastSeq: z.number().int(),
  bootId: z.string(),
  connections: z.number().int(),
  observers: z.number().int(),
  /** Members: until the groups issue lands membership, the users connected now and their socket counts. */
  members: z.array(z.object({ id: z.string(), name: z.string(), connections: z.number().int() })),
  messagesTotal: z.number().int(),
  messagesPerSecond: z.number(),
  archiveLag: z.number().int(),
  /** Directory reports this room process failed to deliver (slow or failing directory). */
  reportFailures: z.number().int(),
  settings: RoomSettings,
  restrictions: z.array(Restriction),
  /** Files attached to the room's messages and not deleted, in object storage (PROTOCOL R33). */
  storage: z.object({ bytes: z.number().int().nonnegative(), files: z.number().int().nonnegative() }).optional(),
  /** Live rooms (PROTOCOL R52, R53): the shard count now, relays subscribed, viewers on them, the room's own sockets. */
  live: z.object({ shards: z.number().int(), relays: z.number().int(), relayViewers: z.number().int(), roomSockets: z.number().int() }).optional(),
});
export type RoomDetail = z.infer<typeof RoomDetail>;

export const AuditRecord = z.object({
  ts: z.number().int(),
  operator: z.object({ id: z.string(), name: z.string() }),
  room: z.string(),
  /** read_edits: a message's edit history (PROTOCOL R25), `from` its seq. */
  action: z.enum(["read_messages", "read_edits"]),
  /** The seq range that was read. */
  from: z.number().int(),
  before: z.number().int(),
});
export type AuditRecord = z.infer<typeof AuditRecord>;

// ---- The dashboard's overview and charts (GET /admin/overview, GET /admin/series), kept by the directory.

/** `room` absent: the whole system. Strict: an unknown parameter is a typed 400, not silently ignored. */
export const SeriesQuery = z.object({ room: RoomId.optional() }).strict();

/** The system at a glance, summed over the rooms' last reports. `errors` are totals by code since each room process started. */
export const Overview = z.object({
  rooms: z.number().int().nonnegative(),
  connections: z.number().int().nonnegative(),
  observers: z.number().int().nonnegative(),
  messagesPerSecond: z.number().nonnegative(),
  archiveLag: z.number().int().nonnegative(),
  reportFailures: z.number().int().nonnegative(),
  errorsTotal: z.number().int().nonnegative(),
  errors: z.record(z.string(), z.number().int().nonnegative()),
  at: z.number().int(),
});
export type Overview = z.infer<typeof Overview>;

/**
 * The last minutes in fixed slots, oldest first, one array per figure (uPlot's column layout). `t` is each
 * slot's start (ms); latency is null in slots without an ack.
 */
export const ChartSeries = z.object({
  room: z.string().nullable(),
  slotMs: z.number().int().positive(),
  windowMs: z.number().int().positive(),
  t: z.array(z.number().int()),
  connections: z.array(z.number()),
  messagesPerSecond: z.array(z.number()),
  errorsPerSecond: z.array(z.number()),
  ackP50Ms: z.array(z.number().nullable()),
  ackP99Ms: z.array(z.number().nullable()),
  archiveLag: z.array(z.number()),
});
export type ChartSeries = z.infer<typeof ChartSeries>;
