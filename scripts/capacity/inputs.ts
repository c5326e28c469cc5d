/**
 * Every input of the capacity and cost model (scripts/capacity/model.ts), in one table, each with its
 * unit, where it comes from and when. Update a figure here and every result follows; `npm run capacity --
 * --set name=value` overrides one for a run. Kinds:
 * - measured: bench/RESULTS.md or the README, on the shared 2-core development machine in `partykit dev`
 *   (workerd on one thread), 2026-11-23/24. Cloudflare runs each actor on its own thread elsewhere, so
 *   these are a per-actor floor more than a forecast;
 * - code: a constant of this repository (the file is named);
 * - price / limit: a published figure, with the page and the date it was read. They were read from the
 *   stored copies of the vendors' documentation (cloudflare/cloudflare-docs, neondatabase/website) on
 *   2026-12-04, not live: `verify: true` marks those to check against the live page before a decision,
 *   and every figure recalled rather than read;
 * - assumption: a number this model needs that nothing measured yet; `verify: true`, and how to measure
 *   it is in docs/CAPACITY.md.
 */
import { ARCHIVE_DEFAULTS, DIRECTORY_DEFAULTS } from "../../party/config.ts";
import { GROUP_COALESCE_MS, MAX_CALLS_IN_FLIGHT } from "../../party/core/notify-coalescing.ts";
import { LIMITS } from "../../party/protocol/limits.ts";

export type InputKind = "measured" | "code" | "price" | "limit" | "assumption";
export type Input = { value: number; unit: string; what: string; kind: InputKind; source: string; verify?: true };

const RESULTS = "bench/RESULTS.md (2026-11-24, 2-core box, partykit dev)";
const CF_DO_PRICING = "developers.cloudflare.com/durable-objects/platform/pricing (cloudflare-docs partial durable-objects-pricing.mdx, read 2026-12-04)";
const CF_DO_LIMITS = "developers.cloudflare.com/durable-objects/platform/limits (cloudflare-docs limits.mdx and do-faq-limits.mdx, read 2026-12-04)";
const CF_WORKERS_PRICING = "developers.cloudflare.com/workers/platform/pricing (cloudflare-docs workers/platform/pricing.mdx, read 2026-12-04)";
const NEON_PLANS = "neon.com/docs/introduction/plans (neondatabase/website plans.md, updatedOn 2026-11-12, read 2026-12-04)";

export const INPUTS = {
  // ---- Measured here.
  roomMsgsPerSec: { value: 30_000, unit: "msgs/s", kind: "measured", what: "messages one room accepts durably (hibernation off); nine quick runs 28,826-67,296, the goal line", source: `${RESULTS}, finding 1` },
  socketSendUs: { value: 46, unit: "µs", kind: "measured", what: "workerd CPU per socket send when each broadcast is its own turn (live traffic)", source: `${RESULTS}, finding 2` },
  memoryPerSocketKB: { value: 171, unit: "KB", kind: "measured", what: "workerd RSS per open socket, hibernation off (117-175 KB across runs)", source: `${RESULTS}, table 3 and finding 6` },
  connectCpuMs: { value: 2.0, unit: "ms", kind: "measured", what: "workerd CPU to admit one socket to a room (1.7-2.0 ms)", source: `${RESULTS}, finding 3` },
  dmDurableWrites: { value: 4, unit: "writes/DM", kind: "measured", what: "durable writes per DM: sender's inbox, the DM room, both inboxes", source: `${RESULTS}, table 6 note and finding 4` },
  dmActorCalls: { value: 3, unit: "calls/DM", kind: "measured", what: "actor-to-actor calls per DM (inbox -> room, room -> both inboxes)", source: `${RESULTS}, finding 4` },
  archiveRowsPerSecPerCore: { value: 2_754, unit: "rows/s/core", kind: "measured", what: "archive drain into PostgreSQL 15: 5,508 rows/s on 2 cores (PGlite: 2,955)", source: "README.md, Archive (npm run bench:archive, 2026-11-24)" },

  // ---- This repository's constants.
  heartbeatIntervalS: { value: 20, unit: "s", kind: "code", what: "a silent socket sends `ping` after this long; the room answers it (it wakes a hibernated room)", source: "client/session.ts pingIntervalMs, PROTOCOL R12" },
  groupCoalesceMs: { value: GROUP_COALESCE_MS, unit: "ms", kind: "code", what: "a group's inbox notifications wait this long so a burst becomes one call per member", source: "party/core/notify-coalescing.ts GROUP_COALESCE_MS" },
  notifyCallsInFlight: { value: MAX_CALLS_IN_FLIGHT, unit: "calls", kind: "code", what: "inbox calls in flight per room", source: "party/core/notify-coalescing.ts MAX_CALLS_IN_FLIGHT" },
  directoryIntervalS: { value: DIRECTORY_DEFAULTS.intervalMs / 1000, unit: "s", kind: "code", what: "at most one directory report per room per interval", source: "party/config.ts DIRECTORY_DEFAULTS" },
  directoryReportsPerChange: { value: 2, unit: "reports", kind: "code", what: "a quiet room that changes reports twice: the change, then the follow-up that brings its rate back to 0", source: "party/adapters/directory-reporter.ts followUp" },
  rowsPerRoomWrite: { value: 3, unit: "rows", kind: "code", what: "storage rows one accepted command writes in a room: the event, the sender's session, meta", source: "party/core/room-core.ts seal()" },
  rowsPerInboxWrite: { value: 3, unit: "rows", kind: "assumption", what: "storage rows of one inbox write (conversation entry, queue or cursor, meta)", source: "party/inbox/ (estimate; count with the storage-writer counters)", verify: true },
  alarmRowsPerRoomWrite: { value: 1, unit: "rows", kind: "code", what: "each room write sets its alarm (archive drain, notify retry): setAlarm() is billed as a row written", source: "party/room/writer.ts (alarms in the same turn); Cloudflare: setAlarm = 1 row written" },
  archiveDelayMs: { value: ARCHIVE_DEFAULTS.drainDelayMs, unit: "ms", kind: "code", what: "a commit's drain to the archive runs this long after it (one drain alarm per interval at most)", source: "party/config.ts ARCHIVE_DEFAULTS.drainDelayMs" },
  maxGroupSize: { value: LIMITS.maxGroupMembers, unit: "members", kind: "code", what: "members of a group", source: "party/protocol/limits.ts maxGroupMembers (PROTOCOL.md §10)" },

  // ---- Cloudflare prices (Workers Paid plan).
  workersBaseUsd: { value: 5, unit: "USD/month", kind: "price", what: "Workers Paid plan minimum", source: CF_WORKERS_PRICING },
  workerRequestUsdPerM: { value: 0.3, unit: "USD/million", kind: "price", what: "Worker requests above the included ones (a WebSocket upgrade is one request; messages through it are not)", source: CF_WORKERS_PRICING },
  workerIncludedRequests: { value: 10e6, unit: "requests/month", kind: "price", what: "Worker requests included", source: CF_WORKERS_PRICING },
  workerCpuUsdPerMMs: { value: 0.02, unit: "USD/million ms", kind: "price", what: "Worker CPU time above the included", source: CF_WORKERS_PRICING },
  workerIncludedCpuMs: { value: 30e6, unit: "ms/month", kind: "price", what: "Worker CPU ms included", source: CF_WORKERS_PRICING },
  doRequestUsdPerM: { value: 0.15, unit: "USD/million", kind: "price", what: "Durable Object requests: HTTP, RPC, alarm invocations, incoming WebSocket messages (these at 20:1)", source: CF_DO_PRICING },
  doIncludedRequests: { value: 1e6, unit: "requests/month", kind: "price", what: "Durable Object requests included", source: CF_DO_PRICING },
  wsMessagesPerBilledRequest: { value: 20, unit: "messages", kind: "price", what: "incoming WebSocket messages per billed request (outgoing ones are free)", source: `${CF_DO_PRICING}; DO changelog 2024-04-01 "Billing reduction for WebSocket messages"` },
  doGbSecondUsdPerM: { value: 12.5, unit: "USD/million GB-s", kind: "price", what: "Durable Object duration: wall-clock while active (or holding non-hibernatable sockets)", source: CF_DO_PRICING },
  doIncludedGbSeconds: { value: 400_000, unit: "GB-s/month", kind: "price", what: "duration included", source: CF_DO_PRICING },
  doBilledMemoryGB: { value: 0.128, unit: "GB", kind: "price", what: "duration is billed for 128 MB per active object, whatever it uses", source: CF_DO_PRICING },
  doRowWriteUsdPerM: { value: 1.0, unit: "USD/million rows", kind: "price", what: "SQLite-backed storage: rows written (deletes and setAlarm count)", source: `${CF_DO_PRICING}; billed since 2026-01-07`, verify: true },
  doIncludedRowsWritten: { value: 50e6, unit: "rows/month", kind: "price", what: "rows written included", source: CF_DO_PRICING },
  doStorageUsdPerGBMonth: { value: 0.2, unit: "USD/GB-month", kind: "price", what: "SQLite-backed stored data", source: CF_DO_PRICING },
  doIncludedStorageGB: { value: 5, unit: "GB-month", kind: "price", what: "stored data included", source: CF_DO_PRICING },

  // ---- Neon prices (Scale plan: SLA, autoscaling; Launch is $0.106/CU-hour with the same storage price).
  neonCuHourUsd: { value: 0.222, unit: "USD/CU-hour", kind: "price", what: "compute, per CU-hour (1 CU ~ 4 GB RAM and its CPU)", source: NEON_PLANS },
  neonStorageUsdPerGBMonth: { value: 0.35, unit: "USD/GB-month", kind: "price", what: "storage, logical data size", source: NEON_PLANS },
  neonMinCu: { value: 0.25, unit: "CU", kind: "price", what: "the smallest compute, kept on (no scale to zero) for the archive", source: NEON_PLANS },

  // ---- Limits.
  doSoftRequestsPerSec: { value: 1_000, unit: "requests/s", kind: "limit", what: "soft limit of one Durable Object; past it requests queue, then fail `overloaded`", source: CF_DO_LIMITS },
  doMemoryMB: { value: 128, unit: "MB", kind: "limit", what: "memory of an isolate (several objects of a class may share one)", source: `${CF_DO_PRICING} footnote 5; Workers limits` },
  socketsPerActorHibernated: { value: 32_000, unit: "sockets", kind: "limit", what: "sockets per room with hibernation (partykit's guide says 'up to 32,000'; Cloudflare is recalled as 32,768)", source: "docs.partykit.io/guides/scaling-partykit-servers-with-hibernation, quoted in partykit/partykit#920 (2024-10-14)", verify: true },
  doStorageGB: { value: 10, unit: "GB", kind: "limit", what: "storage of one SQLite-backed Durable Object", source: CF_DO_LIMITS },
  neonMaxCu: { value: 16, unit: "CU", kind: "limit", what: "largest autoscaling compute (fixed sizes to 56 CU on Scale)", source: NEON_PLANS },
  neonMaxStorageTB: { value: 16, unit: "TB", kind: "limit", what: "logical data per branch (raised on request)", source: NEON_PLANS },

  // ---- Assumptions (to measure on Cloudflare and Neon; docs/CAPACITY.md says how).
  wallMsPerWrite: { value: 10, unit: "ms", kind: "assumption", what: "wall time an actor is active for one command that writes durably (handler + storage confirmation)", source: "estimate: 3-5 ms CPU per DM over four actors here (finding 11) plus the write's confirmation", verify: true },
  wallMsPerPing: { value: 1, unit: "ms", kind: "assumption", what: "wall time to answer a heartbeat ping", source: "estimate", verify: true },
  wallMsPerConnect: { value: 5, unit: "ms", kind: "assumption", what: "wall time of a room or inbox admitting a socket (2 ms CPU here, plus storage reads)", source: "estimate from connectCpuMs", verify: true },
  workerCpuMsPerConnect: { value: 1, unit: "ms", kind: "assumption", what: "Worker CPU per upgrade (token check against the cached JWKS)", source: "estimate", verify: true },
  sessionMinutes: { value: 30, unit: "min", kind: "assumption", what: "a connected user's socket is replaced (network change, app switch) this often", source: "estimate", verify: true },
  doBytesPerMessage: { value: 600, unit: "bytes", kind: "assumption", what: "Durable Object storage per message: the room's event (~300 B of JSON) and the inboxes' copies and previews", source: "estimate from the event schema", verify: true },
  archiveBytesPerMessage: { value: 1_250, unit: "bytes", kind: "measured", what: "Postgres bytes per archived message with its indexes (bigram GIN included; 800 B in the table itself), short Japanese and English texts", source: "scripts/capacity/measure-archive-bytes.ts on PGlite, 2026-12-04: 1,221-1,246 B in two runs" },
  notifyCallWallMs: { value: 15, unit: "ms", kind: "assumption", what: "round trip of one room -> inbox call, the inbox's durable write included", source: "estimate", verify: true },
  archiveDrainWallMs: { value: 30, unit: "ms", kind: "assumption", what: "wall time of one archive drain (a Postgres transaction from the room's alarm)", source: "estimate", verify: true },
  proposedNotifyCoalesceS: { value: 10, unit: "s", kind: "assumption", what: "the proposed group notifier: online members' inboxes only, at most one call per member per this many seconds", source: "design (not built)" },
  inboxWallMsPerNotify: { value: 10, unit: "ms", kind: "assumption", what: "wall time an inbox is active per notification (a durable write)", source: "= wallMsPerWrite", verify: true },
  memoryUsableFraction: { value: 0.75, unit: "fraction", kind: "assumption", what: "share of the 128 MB left for sockets (the rest: code, room state)", source: "estimate", verify: true },
  sendBudgetFraction: { value: 0.5, unit: "fraction", kind: "assumption", what: "share of an actor's thread to spend on socket sends, leaving room for bursts and commands", source: "design target" },
  stormTargetS: { value: 10, unit: "s", kind: "assumption", what: "an actor should readmit every socket within this after a deploy (every deploy disconnects every socket)", source: "design target; 1,000 clients resumed in 1.1 s here (finding 3)" },
  groupHotMsgsPerSec: { value: 10, unit: "msgs/s", kind: "assumption", what: "the busiest group's rate, all members online", source: "estimate (a lively team channel)" },
  relayHz: { value: 10, unit: "/s", kind: "assumption", what: "live-stream shards receive the origin's events in one batch per 100 ms", source: "design (not built)" },
  cdnPops: { value: 330, unit: "locations", kind: "assumption", what: "Cloudflare locations that each miss the cache once per TTL", source: "recalled from cloudflare.com/network", verify: true },
  cdnTtlS: { value: 1, unit: "s", kind: "assumption", what: "edge cache TTL of a stream's latest-events page", source: "design (not built)" },
  cdnPollS: { value: 2, unit: "s", kind: "assumption", what: "a reader polls the cached page this often", source: "design (not built)" },
  cdnUsdPerMRequests: { value: 0, unit: "USD/million", kind: "assumption", what: "cached reads served by Cloudflare's CDN without invoking a Worker (flat-rate CDN; no per-request price)", source: "Cloudflare plans (recalled)", verify: true },
} as const satisfies Record<string, Input>;

export type InputName = keyof typeof INPUTS;
export type Inputs = { [K in InputName]: number };

/** The inputs' values, with `overrides` applied (unknown names are refused). */
export function inputValues(overrides: Partial<Record<string, number>> = {}): Inputs {
  const values = Object.fromEntries(Object.entries(INPUTS).map(([name, input]) => [name, input.value])) as Inputs;
  for (const [name, value] of Object.entries(overrides)) {
    if (!(name in INPUTS)) throw new Error(`--set ${name}: not an input of the model (see scripts/capacity/inputs.ts)`);
    if (value === undefined || !Number.isFinite(value) || value < 0) throw new Error(`--set ${name}: expected a number >= 0`);
    (values as Record<string, number>)[name] = value;
  }
  return values;
}
