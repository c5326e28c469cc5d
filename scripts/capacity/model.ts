/**
 * The capacity and cost model: from a workload (daily and concurrent users, how they chat) and the
 * inputs (scripts/capacity/inputs.ts: measured figures, prices, limits, assumptions) to actors, sockets,
 * requests and WebSocket messages per second, storage growth, archive rows, the monthly bill, and which
 * limit breaks first. Pure arithmetic; docs/CAPACITY.md explains each formula and its weak points.
 *
 * Three shapes, each as if every user chatted that way:
 * - `dm`: one-to-one chat through the inboxes (4 durable writes and 3 actor calls per DM, as measured);
 * - `groups`: groups of 500 (today: every member's inbox is notified of every message, coalesced over
 *   100 ms), and the same with the proposed notifier (online members only, once per 10 s);
 * - `live`: live streams, the design this model recommends (not built): posters' sockets in shards
 *   that receive the origin room's events in batches, readers polling a CDN-cached page. The limits of
 *   today's single room are checked separately (`liveToday`).
 * Rates are averages over the day (`peakFactor` gives the peak that limits are checked against); a month
 * is 30 days, as in Cloudflare's examples; the concurrency given is held all month.
 */
import type { Inputs } from "./inputs.ts";

export const SECONDS_PER_MONTH = 30 * 86_400;
export const HOURS_PER_MONTH = 30 * 24;

export type Workload = {
  dau: number;
  concurrent: number;
  msgsPerUserPerDay: number;
  /** Peak rate over the daily average. */
  peakFactor: number;
  devicesPerUser: number;
  groupSize: number;
  groupsPerUser: number;
  viewersPerStream: number;
  streamMsgsPerSec: number;
  /** Share of a stream's viewers who hold a socket (to post); the rest read through the CDN. */
  posterFraction: number;
};

export const DEFAULT_WORKLOAD: Workload = {
  dau: 50_000_000,
  concurrent: 10_000_000,
  msgsPerUserPerDay: 40,
  peakFactor: 3,
  devicesPerUser: 1,
  groupSize: 500,
  groupsPerUser: 5,
  viewersPerStream: 100_000,
  streamMsgsPerSec: 20,
  posterFraction: 0.05,
};

/** A kind of actor: how many are in memory at once, their sockets, and the seconds of work they do per second (summed over the kind). */
export type ActorKind = { name: string; count: number; socketsEach: number; busySecondsPerSec: number; holdsSockets: boolean };

/** What a shape asks of the platform, per second (averages), and its growth per day. */
export type Usage = {
  actors: ActorKind[];
  sockets: number;
  msgsPerSec: number;
  peakMsgsPerSec: number;
  workerRequestsPerSec: number;
  workerCpuMsPerSec: number;
  /** Durable Object requests other than incoming WebSocket messages: actor calls, alarms, upgrades. */
  doRequestsPerSec: number;
  /** Incoming WebSocket messages (billed 20:1). */
  wsInPerSec: number;
  /** Frames sent to sockets (free; they cost the actor's CPU). */
  wsOutPerSec: number;
  rowsWrittenPerSec: number;
  doGrowthGBPerDay: number;
  archiveRowsPerSec: number;
  archivePeakRowsPerSec: number;
  archiveGrowthGBPerDay: number;
  /** Cached reads answered by the CDN. */
  cdnRequestsPerSec: number;
  /** Reports per second the one directory actor receives, at peak. */
  directoryReportsPerSec: number;
};

export type Costs = {
  workers: number;
  doRequests: number;
  doDuration: number;
  doRowsWritten: number;
  doStorage: number;
  neonCompute: number;
  neonStorage: number;
  cdn: number;
  total: number;
};

export type Limit = { id: LimitId; what: string; used: number; limit: number; utilisation: number };
export type LimitId = "directory" | "archive-writes" | "archive-storage" | "room-memory" | "room-sends" | "room-sockets" | "reconnect-storm" | "origin-requests";

export type Scenario = {
  name: string;
  usage: Usage;
  /** Month 1 and month 12 (storage has grown for a year), hibernation off (today's default) and on. */
  costs: { month1: { hibernateOff: Costs; hibernateOn: Costs }; month12: { hibernateOff: Costs; hibernateOn: Costs } };
  /** Neon computes (archive shards) the peak write rate needs. */
  archiveShards: number;
  limits: Limit[];
  notes: string[];
};

// ---- Shared pieces.

const perDay = (perSec: number) => perSec * 86_400;

function messageRates(w: Workload): { msgsPerDay: number; avg: number; peak: number } {
  const msgsPerDay = w.dau * w.msgsPerUserPerDay;
  const avg = msgsPerDay / 86_400;
  return { msgsPerDay, avg, peak: avg * w.peakFactor };
}

/** Pings a socket sends per second: one per heartbeat interval of silence, none if frames arrive more often. */
function pingsPerSocket(framesInPerSocketPerSec: number, i: Inputs): number {
  return Math.max(0, 1 / i.heartbeatIntervalS - framesInPerSocketPerSec);
}

/** Sockets one actor can hold: memory without hibernation, the platform's cap with it. */
export function socketsByMemory(i: Inputs, hibernate: boolean): number {
  return hibernate ? i.socketsPerActorHibernated : Math.floor((i.doMemoryMB * i.memoryUsableFraction * 1024) / i.memoryPerSocketKB);
}

/** Duration in GB-s per second: an actor holding sockets without hibernation is billed all the time; otherwise only while it works. */
export function gbSecondsPerSec(actors: ActorKind[], i: Inputs, hibernate: boolean): number {
  return actors.reduce((sum, a) => sum + i.doBilledMemoryGB * (a.holdsSockets && !hibernate ? Math.max(a.count, a.busySecondsPerSec) : a.busySecondsPerSec), 0);
}

/** The monthly bill of `usage`, storage at the given month (it grows by the day), after each included allowance. */
export function costOf(usage: Usage, i: Inputs, hibernate: boolean, month: number, archiveShards: number): Costs {
  const m = SECONDS_PER_MONTH;
  const over = (used: number, included: number) => Math.max(0, used - included);
  const workers =
    i.workersBaseUsd +
    (over(usage.workerRequestsPerSec * m, i.workerIncludedRequests) / 1e6) * i.workerRequestUsdPerM +
    (over(usage.workerCpuMsPerSec * m, i.workerIncludedCpuMs) / 1e6) * i.workerCpuUsdPerMMs;
  const billedRequests = (usage.doRequestsPerSec + usage.wsInPerSec / i.wsMessagesPerBilledRequest) * m;
  const doRequests = (over(billedRequests, i.doIncludedRequests) / 1e6) * i.doRequestUsdPerM;
  const doDuration = (over(gbSecondsPerSec(usage.actors, i, hibernate) * m, i.doIncludedGbSeconds) / 1e6) * i.doGbSecondUsdPerM;
  const doRowsWritten = (over(usage.rowsWrittenPerSec * m, i.doIncludedRowsWritten) / 1e6) * i.doRowWriteUsdPerM;
  // Stored data grows linearly: month N is billed for its average, the growth of N - 0.5 months.
  const storedGBMonth = (growthPerDay: number) => growthPerDay * 30 * (month - 0.5);
  const doStorage = over(storedGBMonth(usage.doGrowthGBPerDay), i.doIncludedStorageGB) * i.doStorageUsdPerGBMonth;
  const averageCu = Math.max(i.neonMinCu * archiveShards, usage.archiveRowsPerSec / i.archiveRowsPerSecPerCore);
  const neonCompute = archiveShards > 0 ? averageCu * HOURS_PER_MONTH * i.neonCuHourUsd : 0;
  const neonStorage = storedGBMonth(usage.archiveGrowthGBPerDay) * i.neonStorageUsdPerGBMonth;
  const cdn = ((usage.cdnRequestsPerSec * m) / 1e6) * i.cdnUsdPerMRequests;
  const lines = { workers, doRequests, doDuration, doRowsWritten, doStorage, neonCompute, neonStorage, cdn };
  return { ...lines, total: Object.values(lines).reduce((a, b) => a + b, 0) };
}

/** Neon computes the peak archive write rate needs: one up to the largest autoscaling size. */
export function archiveShardsFor(peakRowsPerSec: number, i: Inputs): number {
  if (peakRowsPerSec <= 0) return 0;
  return Math.max(1, Math.ceil(peakRowsPerSec / (i.neonMaxCu * i.archiveRowsPerSecPerCore)));
}

function limit(id: LimitId, what: string, used: number, max: number): Limit {
  return { id, what, used, limit: max, utilisation: max > 0 ? used / max : Infinity };
}

/** The limits every shape shares: the one directory actor, and the archive's write rate and storage (one Neon branch). */
function commonLimits(u: Usage, i: Inputs): Limit[] {
  return [
    limit("directory", "reports/s into the one directory actor (its soft limit)", u.directoryReportsPerSec, i.doSoftRequestsPerSec),
    limit("archive-writes", "peak archive rows/s into one Neon compute at its largest autoscaling size", u.archivePeakRowsPerSec, i.neonMaxCu * i.archiveRowsPerSecPerCore),
    limit("archive-storage", "archive GB after a year in one Neon branch", u.archiveGrowthGBPerDay * 365, i.neonMaxStorageTB * 1000),
  ];
}

function scenario(name: string, usage: Usage, limits: Limit[], i: Inputs, notes: string[] = []): Scenario {
  const archiveShards = archiveShardsFor(usage.archivePeakRowsPerSec, i);
  const at = (month: number) => ({ hibernateOff: costOf(usage, i, false, month, archiveShards), hibernateOn: costOf(usage, i, true, month, archiveShards) });
  return { name, usage, costs: { month1: at(1), month12: at(12) }, archiveShards, limits, notes };
}

// ---- One-to-one chat.

export function dmScenario(w: Workload, i: Inputs): Scenario {
  const { msgsPerDay, avg, peak } = messageRates(w);
  const sockets = w.concurrent * w.devicesPerUser;
  const connects = sockets / (i.sessionMinutes * 60);
  // A DM reaches the sender (ack, and their other devices) and the peer's devices: 2 frames per device pair.
  const framesInPerSocket = w.concurrent > 0 ? (avg * 2 * w.devicesPerUser) / sockets : 0;
  const pings = sockets * pingsPerSocket(framesInPerSocket, i);
  const inboxWrites = i.dmDurableWrites - 1; // the sender's inbox twice, the peer's once; the fourth is the room
  const archiveDrains = avg; // DMs are sparse per room: each one drains on its own
  const usage: Usage = {
    actors: [
      {
        name: "inboxes (one per connected user)",
        count: w.concurrent,
        socketsEach: w.devicesPerUser,
        busySecondsPerSec: (avg * inboxWrites * i.wallMsPerWrite + pings * i.wallMsPerPing + connects * i.wallMsPerConnect) / 1000,
        holdsSockets: true,
      },
      { name: "DM rooms written per second at peak (they hold no sockets)", count: peak, socketsEach: 0, busySecondsPerSec: (avg * i.wallMsPerWrite + archiveDrains * i.archiveDrainWallMs) / 1000, holdsSockets: false },
    ],
    sockets,
    msgsPerSec: avg,
    peakMsgsPerSec: peak,
    workerRequestsPerSec: connects,
    workerCpuMsPerSec: connects * i.workerCpuMsPerConnect,
    doRequestsPerSec: avg * i.dmActorCalls + archiveDrains + connects,
    wsInPerSec: avg + pings,
    wsOutPerSec: avg * 2 * w.devicesPerUser + pings,
    rowsWrittenPerSec: avg * (i.rowsPerRoomWrite + inboxWrites * i.rowsPerInboxWrite + i.alarmRowsPerRoomWrite) + archiveDrains,
    doGrowthGBPerDay: (msgsPerDay * i.doBytesPerMessage) / 1e9,
    archiveRowsPerSec: avg,
    archivePeakRowsPerSec: peak,
    archiveGrowthGBPerDay: (msgsPerDay * i.archiveBytesPerMessage) / 1e9,
    cdnRequestsPerSec: 0,
    directoryReportsPerSec: peak * i.directoryReportsPerChange,
  };
  return scenario("1:1 chat (DMs through the inboxes)", usage, commonLimits(usage, i), i);
}

// ---- Groups.

export type GroupNotifier = "today" | "proposed";

export function groupScenario(w: Workload, i: Inputs, notifier: GroupNotifier = "today"): Scenario {
  const { msgsPerDay, avg, peak } = messageRates(w);
  const groups = Math.max(1, (w.dau * w.groupsPerUser) / w.groupSize);
  const viewersPerGroup = w.concurrent / groups; // each connected user has one group open
  const onlineMembers = Math.min(w.groupSize, (w.groupSize * w.concurrent) / Math.max(w.dau, 1));
  const perGroupPeak = peak / groups;
  // Inbox calls per message: today every other member, with messages inside one coalescing window sharing a call;
  // proposed: the online members only, at most once per member per proposedNotifyCoalesceS.
  const notifyCalls =
    notifier === "today"
      ? (w.groupSize - 1) / Math.max(1, perGroupPeak * (i.groupCoalesceMs / 1000))
      : Math.max(0, onlineMembers - 1) / Math.max(1, perGroupPeak * i.proposedNotifyCoalesceS);
  const notifyCycleS = (notifyCalls * i.notifyCallWallMs) / i.notifyCallsInFlight / 1000;
  const roomSockets = w.concurrent;
  const inboxSockets = w.concurrent * w.devicesPerUser;
  const sockets = roomSockets + inboxSockets;
  const connects = sockets / (i.sessionMinutes * 60);
  const roomPings = roomSockets * pingsPerSocket(avg / groups, i); // a viewer hears every message of its group
  const inboxPings = inboxSockets * pingsPerSocket(0, i);
  const pings = roomPings + inboxPings;
  const archiveDrains = Math.min(avg, groups * (1000 / i.archiveDelayMs));
  const usage: Usage = {
    actors: [
      {
        name: "group rooms (one per group with a viewer)",
        count: groups * (1 - Math.exp(-viewersPerGroup)),
        socketsEach: viewersPerGroup,
        busySecondsPerSec:
          avg * (i.wallMsPerWrite / 1000 + (viewersPerGroup * i.socketSendUs) / 1e6 + notifyCycleS) +
          (archiveDrains * i.archiveDrainWallMs + roomPings * i.wallMsPerPing + (roomSockets / (i.sessionMinutes * 60)) * i.wallMsPerConnect) / 1000,
        holdsSockets: true,
      },
      {
        name: "inboxes (one per connected user)",
        count: w.concurrent,
        socketsEach: w.devicesPerUser,
        busySecondsPerSec: (avg * notifyCalls * i.inboxWallMsPerNotify + inboxPings * i.wallMsPerPing + (inboxSockets / (i.sessionMinutes * 60)) * i.wallMsPerConnect) / 1000,
        holdsSockets: true,
      },
    ],
    sockets,
    msgsPerSec: avg,
    peakMsgsPerSec: peak,
    workerRequestsPerSec: connects,
    workerCpuMsPerSec: connects * i.workerCpuMsPerConnect,
    doRequestsPerSec: avg * notifyCalls + archiveDrains + connects,
    wsInPerSec: avg + pings,
    wsOutPerSec: avg * (viewersPerGroup + 1) + pings,
    rowsWrittenPerSec: avg * (i.rowsPerRoomWrite + i.alarmRowsPerRoomWrite + notifyCalls * (i.rowsPerInboxWrite + 1)) + archiveDrains,
    doGrowthGBPerDay: (msgsPerDay * i.doBytesPerMessage) / 1e9,
    archiveRowsPerSec: avg,
    archivePeakRowsPerSec: peak,
    archiveGrowthGBPerDay: (msgsPerDay * i.archiveBytesPerMessage) / 1e9,
    cdnRequestsPerSec: 0,
    directoryReportsPerSec: Math.min(peak, groups / i.directoryIntervalS) * i.directoryReportsPerChange,
  };
  // The busiest group: every member online and viewing, at groupHotMsgsPerSec.
  const hot = Math.min(w.groupSize, w.concurrent);
  const limits = [
    ...commonLimits(usage, i),
    limit("room-memory", "sockets of the busiest group (all members viewing) in one actor's memory, hibernation off", hot, socketsByMemory(i, false)),
    limit("room-sends", "socket sends/s of the busiest group against its send budget", hot * i.groupHotMsgsPerSec, (i.sendBudgetFraction * 1e6) / i.socketSendUs),
  ];
  const label = notifier === "today" ? "groups of 500 (today: every member's inbox notified)" : "groups of 500 (proposed: online members' inboxes, once per 10 s)";
  return scenario(label.replace("500", String(w.groupSize)), usage, limits, i, [
    `${fmt(groups)} groups, ${fmt(viewersPerGroup, 1)} viewers and ${fmt(onlineMembers, 0)} online members each; ${fmt(notifyCalls, 1)} inbox calls per message (a notify cycle keeps the room active ${fmt(notifyCycleS * 1000, 0)} ms)`,
  ]);
}

// ---- Live streams.

/** Sockets per live-stream shard: the tightest of memory, the send budget at relayHz, and the reconnect storm. */
export function shardSize(i: Inputs, hibernate: boolean): { size: number; byMemory: number; bySends: number; byStorm: number } {
  const byMemory = socketsByMemory(i, hibernate);
  const bySends = Math.floor((i.sendBudgetFraction * 1e6) / i.socketSendUs / i.relayHz);
  const byStorm = Math.floor((i.stormTargetS * 1000) / i.connectCpuMs);
  return { size: Math.min(byMemory, bySends, byStorm), byMemory, bySends, byStorm };
}

export function liveScenario(w: Workload, i: Inputs): Scenario {
  const viewers = Math.min(w.viewersPerStream, w.concurrent);
  const streams = w.concurrent / Math.max(viewers, 1);
  const posters = viewers * w.posterFraction;
  const readers = viewers - posters;
  const shard = shardSize(i, false).size; // shards are busy at relayHz: hibernation saves them nothing
  const shardsPerStream = Math.max(1, Math.ceil(posters / shard));
  const rate = w.streamMsgsPerSec;
  const msgsPerSec = streams * rate;
  const connects = (streams * posters) / (i.sessionMinutes * 60);
  const cacheMisses = streams * (i.cdnPops / i.cdnTtlS);
  const archiveDrains = streams * Math.min(rate, 1000 / i.archiveDelayMs);
  const usage: Usage = {
    actors: [
      // The origin writes each post, sends each relay tick to every shard and answers each cache miss (a small handler, as a ping).
      { name: "stream origin rooms", count: Math.ceil(streams), socketsEach: 0, busySecondsPerSec: streams * Math.min(1, (rate * i.wallMsPerWrite + (i.relayHz * shardsPerStream + cacheMisses / streams) * i.wallMsPerPing) / 1000), holdsSockets: false },
      {
        name: `shards (at most ${fmt(shard)} sockets each)`,
        count: Math.ceil(streams) * shardsPerStream,
        socketsEach: posters / shardsPerStream,
        busySecondsPerSec: streams * shardsPerStream * Math.min(1, i.relayHz * ((posters / shardsPerStream) * i.socketSendUs) / 1e6),
        holdsSockets: true,
      },
    ],
    sockets: streams * posters,
    msgsPerSec,
    peakMsgsPerSec: msgsPerSec,
    workerRequestsPerSec: connects + cacheMisses,
    workerCpuMsPerSec: (connects + cacheMisses) * i.workerCpuMsPerConnect,
    // Per stream: each post forwarded shard -> origin, each relay tick origin -> every shard, each cache miss to the origin, drains, upgrades.
    doRequestsPerSec: msgsPerSec + streams * shardsPerStream * i.relayHz + cacheMisses + archiveDrains + connects,
    wsInPerSec: msgsPerSec, // shards' sockets hear relayHz frames a second: no heartbeat pings
    wsOutPerSec: streams * posters * i.relayHz,
    rowsWrittenPerSec: msgsPerSec * (i.rowsPerRoomWrite + i.alarmRowsPerRoomWrite) + archiveDrains,
    doGrowthGBPerDay: (perDay(msgsPerSec) * i.doBytesPerMessage) / 1e9,
    archiveRowsPerSec: msgsPerSec,
    archivePeakRowsPerSec: msgsPerSec,
    archiveGrowthGBPerDay: (perDay(msgsPerSec) * i.archiveBytesPerMessage) / 1e9,
    cdnRequestsPerSec: streams * (readers / i.cdnPollS),
    directoryReportsPerSec: (streams * (1 + shardsPerStream) * i.directoryReportsPerChange) / i.directoryIntervalS,
  };
  const readsThroughWorker = ((streams * (readers / i.cdnPollS) * SECONDS_PER_MONTH) / 1e6) * i.workerRequestUsdPerM;
  const originRequests = rate + shardsPerStream * i.relayHz + i.cdnPops / i.cdnTtlS + Math.min(rate, 1000 / i.archiveDelayMs);
  const limits = [...commonLimits(usage, i), limit("origin-requests", "requests/s into one stream's origin room (posts, relay ticks, cache misses, drains)", originRequests, i.doSoftRequestsPerSec)];
  return scenario(`live streams of ${fmt(viewers)} viewers (sharded sockets for posters, CDN reads)`, usage, limits, i, [
    `${fmt(streams, 1)} streams; per stream ${fmt(posters)} posters' sockets in ${shardsPerStream} shard(s), ${fmt(readers)} readers polling a cached page every ${i.cdnPollS} s`,
    `if the readers' polls went through the Worker instead of the CDN cache: +$${fmt(readsThroughWorker)} a month in Worker requests`,
  ]);
}

/** Today's design for a live stream: every viewer's socket in the one room. Limits only. */
export function liveTodayLimits(w: Workload, i: Inputs): Limit[] {
  const viewers = Math.min(w.viewersPerStream, w.concurrent);
  const commitsPerSec = Math.min(w.streamMsgsPerSec, i.roomMsgsPerSec);
  return [
    limit("room-memory", "viewers' sockets in one room's memory, hibernation off", viewers, socketsByMemory(i, false)),
    limit("room-sockets", "viewers' sockets in one room with hibernation (the platform's cap)", viewers, i.socketsPerActorHibernated),
    limit("room-sends", "socket sends/s of the room (one frame per commit to every viewer) against its send budget", viewers * commitsPerSec, (i.sendBudgetFraction * 1e6) / i.socketSendUs),
    limit("reconnect-storm", "seconds for the room to readmit every viewer after a deploy", (viewers * i.connectCpuMs) / 1000, i.stormTargetS),
  ];
}

// ---- Which limit breaks first.

export const FIXES: Record<LimitId, string> = {
  directory:
    "shard the directory (N actors by room hash; /admin/rooms and /admin/metrics fan in), report only rooms above a traffic threshold, and send per-room series to Workers Analytics Engine instead of one actor",
  "archive-writes": "shard the archive over several Neon projects by room hash (search queries the user's shards), and drain bigger batches per transaction",
  "archive-storage": "keep N days hot in Neon and move older rows to R2 (Parquet, with a search index per shard), or shard by room hash",
  "room-memory": "KAIWA_HIBERNATE=1 (sockets leave the isolate's memory; one room measured ~18,000 msgs/s with it against 37,000-57,000 without, README), or shard the room's sockets",
  "room-sends": "shard the audience: shards hold the sockets and receive the origin's events in batches (relayHz), so each socket gets a few frames a second whatever the chat rate",
  "room-sockets": "shard the audience over several actors; readers who do not post poll a CDN-cached page instead of holding a socket",
  "origin-requests": "serve readers' cache misses from a snapshot the origin pushes (to R2 or the Cache API) once per TTL instead of from the origin, and let shards forward posts in batches",
  "reconnect-storm": "keep at most ~2,500-5,000 sockets per actor (shards), and spread reconnects (the client's full-jitter backoff does; a deploy disconnects every socket)",
};

export type LadderEntry = { scenario: string; first?: Limit & { breaksAt: number }; alsoBroken: Array<Limit & { breaksAt: number }>; nearest?: Limit };
export type LadderStep = { concurrent: number; dau: number; shapes: LadderEntry[] };

/** The shapes the ladder checks, each with its limits at a workload. */
const LADDER_SHAPES: Array<[string, (w: Workload, i: Inputs) => Limit[]]> = [
  ["1:1 chat", (w, i) => dmScenario(w, i).limits],
  ["groups of 500", (w, i) => groupScenario(w, i).limits],
  ["live, today (one room)", liveTodayLimits],
  ["live, sharded + CDN", (w, i) => liveScenario(w, i).limits],
];

/**
 * For each order of magnitude of concurrency (DAU scaled with it) and each shape: the first limit to break
 * that had not broken at the magnitude before (so each step names the next wall after fixing the ones
 * below it), how many others broke in that range too, or, when none did, the nearest one.
 */
export function ladder(w: Workload, i: Inputs, magnitudes: number[] = [1_000, 100_000, 10_000_000]): LadderStep[] {
  const dauPerConcurrent = w.dau / w.concurrent;
  const at = (concurrent: number): Workload => ({ ...w, concurrent, dau: concurrent * dauPerConcurrent });
  // The concurrency at which each limit first reaches 1, scanning 1 to 1e9 at 20 steps a decade (every limit grows with it).
  const breaksAt = new Map<string, number>();
  for (let k = 0; k <= 180; k++) {
    const c = Math.round(10 ** (k / 20));
    for (const [shape, limits] of LADDER_SHAPES) for (const l of limits(at(c), i)) if (l.utilisation >= 1 && !breaksAt.has(`${shape}|${l.id}`)) breaksAt.set(`${shape}|${l.id}`, c);
  }
  let previous = 0;
  return magnitudes.map((concurrent) => {
    const shapes = LADDER_SHAPES.map(([shape, limits]): LadderEntry => {
      const all = limits(at(concurrent), i);
      const fresh = all
        .map((l) => ({ ...l, breaksAt: breaksAt.get(`${shape}|${l.id}`) ?? Infinity }))
        .filter((l) => l.utilisation >= 1 && l.breaksAt > previous)
        .sort((a, b) => a.breaksAt - b.breaksAt || b.utilisation - a.utilisation);
      const nearest = all.filter((l) => l.utilisation < 1).sort((a, b) => b.utilisation - a.utilisation)[0];
      return { scenario: shape, ...(fresh[0] ? { first: fresh[0] } : {}), alsoBroken: fresh.slice(1), ...(nearest ? { nearest } : {}) };
    });
    previous = concurrent;
    return { concurrent, dau: concurrent * dauPerConcurrent, shapes };
  });
}

export function fmt(value: number, digits = 0): string {
  if (!Number.isFinite(value)) return String(value);
  return value.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: 0 });
}
