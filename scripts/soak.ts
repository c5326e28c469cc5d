/**
 * The kill-restart soak (`npm run soak`, not in CI): one `partykit dev` over one persisted state directory,
 * with the archive on (PGlite by default, `KAIWA_TEST_DB=postgres` for Debian's PostgreSQL 15), under steady
 * load from typed clients (open rooms with several senders, groups created with `createGroup`, DM pairs
 * through `KaiwaInbox` with reads). A killer SIGKILLs the server's whole process group every few seconds
 * and restarts it on the same state, 100 times by default; the clients reconnect on their own backoff and
 * resend. Then the load stops, every command settles, and scripts/soak/checks.ts checks the logs, every
 * client's event stream, the unread counts and the archive. Figures are printed; exit code 0 only if every
 * check passed.
 *
 *   npm run soak                                   # 100 kills, defaults (20-40 minutes on 2 cores)
 *   npm run soak -- --kills 5 --seconds-between 1-2 --rooms 2 --groups 1 --dm-pairs 2
 *   npm run soak -- --help
 */
import { mkdtempSync, rmSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { ArchiveDb } from "../tests/helpers/archive-db.ts";
import { DevServer, sleep } from "../tests/helpers/dev-server.ts";
import { InboxActor, Ledger, Load, Report, RoomActor, type Actor, type CommandRecord, type Ctx } from "./soak/actors.ts";
import { checkArchive, checkInboxStream, checkLog, checkRoomStream, checkRow, expectedReadSeq, httpRow, readLog, unreadTruth, type LoggedEvent, type LogFigures, type Row } from "./soak/checks.ts";
import { parseOptions, USAGE, UsageError, type SoakOptions } from "./soak/options.ts";

let options: SoakOptions;
try {
  const parsed = parseOptions(process.argv.slice(2));
  if (parsed === "help") {
    console.log(USAGE);
    process.exit(0);
  }
  options = parsed;
} catch (error) {
  const usage = error instanceof UsageError || (error as { code?: string }).code?.startsWith("ERR_PARSE_ARGS");
  if (!usage) throw error;
  console.error(`${(error as Error).message}\n${USAGE}`);
  process.exit(2);
}

const say = (line: string) => console.log(`[soak ${((Date.now() - startedAt) / 1000).toFixed(0).padStart(5)} s] ${line}`);
const startedAt = Date.now();
const loadAtStart = loadavg();
let loadMax = loadAtStart[0]!;
const sampleLoad = () => void (loadMax = Math.max(loadMax, loadavg()[0]!));
const loadTimer = setInterval(sampleLoad, 5_000);

const report = new Report();
const ledger = new Ledger();
const db = new ArchiveDb();
const stateDir = mkdtempSync(join(tmpdir(), "kaiwa-soak-state-"));
let server: DevServer | undefined;
const actors: Actor[] = [];
let tornDown = false;

async function teardown(keepState: boolean): Promise<void> {
  if (tornDown) return;
  tornDown = true;
  clearInterval(loadTimer);
  for (const actor of actors) actor.close();
  await server?.kill().catch(() => undefined);
  await db.stop().catch(() => undefined);
  if (!keepState) rmSync(stateDir, { recursive: true, force: true });
}

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    console.error(`soak: ${signal}, stopping (state kept in ${stateDir})`);
    void teardown(true).finally(() => process.exit(130));
  });
}

const percentile = (values: number[], p: number): number => {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
};
const s = (ms: number) => (Number.isFinite(ms) ? `${(ms / 1000).toFixed(2)} s` : "n/a");
const int = (n: number) => n.toLocaleString("en-US");

/**
 * One kill and restart. `clientBackMs`: per client, start() to its first welcome on the new server (the
 * spread is mostly the clients' own full-jitter backoff, which keeps growing while a server flaps).
 */
type Restart = { index: number; waitedMs: number; pendingAtKill: number; killMs: number; healthyMs: number; backMs: number | null; clientBackMs: number[]; startAttempts: number };
const restarts: Restart[] = [];

/**
 * Every client welcomed since `since` and open now: ms from `since` to the last of those welcomes, or null on
 * timeout. `firstBack` gets each client's first welcome after `since`.
 */
async function everyoneBack(since: number, timeoutMs: number, firstBack?: Map<Actor, number>): Promise<number | null> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    for (const a of actors) if (firstBack && a.lastWelcomeAt >= since && !firstBack.has(a)) firstBack.set(a, a.lastWelcomeAt - since);
    if (actors.every((a) => a.lastWelcomeAt >= since && a.status() === "open")) return Math.max(...actors.map((a) => a.lastWelcomeAt)) - since;
    await sleep(10);
  }
  return null;
}

async function startServer(srv: DevServer, index: number): Promise<number> {
  for (let attempt = 1; ; attempt++) {
    try {
      await srv.start();
      return attempt;
    } catch (error) {
      report.note("a start did not become healthy; killed and started again", `restart ${index}, attempt ${attempt}: ${String(error).slice(0, 300)}`);
      await srv.kill().catch(() => undefined);
      if (attempt >= 5) throw error;
    }
  }
}

async function waitUntil(check: () => boolean, timeoutMs: number, pollMs = 50): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) return false;
    await sleep(pollMs);
  }
  return true;
}

async function main(): Promise<boolean> {
  const o = options;
  say(`options: ${o.kills} kills, ${o.between.min}-${o.between.max} s between${o.writeDelayMs ? `, writes delayed ${o.writeDelayMs} ms` : ""}, ${o.rooms} open rooms x ${o.sendersPerRoom} senders, ${o.groups} groups x ${o.membersPerGroup} members, ${o.dmPairs} DM pairs, ${o.rate} commands/s; archive on ${db.kind}; load average ${loadAtStart.map((l) => l.toFixed(2)).join(" ")}`);
  await db.start();
  server = new DevServer({
    stateDir,
    vars: {
      ...db.vars,
      KAIWA_ARCHIVE_DELAY_MS: 50,
      KAIWA_ARCHIVE_RETRY_BASE_MS: 100,
      KAIWA_ARCHIVE_RETRY_CAP_MS: 2000,
      ...(o.writeDelayMs > 0 ? { KAIWA_TEST_WRITE_DELAY_MS: o.writeDelayMs } : {}),
    },
  });
  await startServer(server, 0);
  say(`partykit dev on ${server.host}, state in ${stateDir}`);
  const ctx: Ctx = { server, ledger, report };

  // ---- The clients.
  const roomActors: RoomActor[] = [];
  const inboxActors: InboxActor[] = [];
  /** Every room the soak writes to, with a user allowed to read its history. */
  const rooms = new Map<string, { reader: string; kind: "open" | "group" | "dm" }>();
  const groupCreateSeq = new Map<string, number>();
  for (let i = 0; i < o.rooms; i++) {
    const room = `soak-${i}`;
    rooms.set(room, { reader: `r${i}u0`, kind: "open" });
    for (let j = 0; j < o.sendersPerRoom; j++) roomActors.push(new RoomActor(ctx, room, `r${i}u${j}`, "open"));
  }
  for (let i = 0; i < o.groups; i++) {
    const room = `g:soak-${i}`;
    const users = Array.from({ length: o.membersPerGroup }, (_, j) => `g${i}m${j}`);
    rooms.set(room, { reader: users[0]!, kind: "group" });
    const owner = new RoomActor(ctx, room, users[0]!, "group");
    roomActors.push(owner);
    const created = owner.createGroup(`Soak group ${i}`, users.slice(1));
    if (!created || !(await waitUntil(() => created.outcome !== "pending", 60_000)) || created.outcome !== "acked") {
      throw new Error(`${room}: group.create did not succeed: ${created ? `${created.outcome} ${created.message ?? ""}` : "refused by the client"}`);
    }
    groupCreateSeq.set(room, created.seq!);
    // Members connect once the group exists: before, the room would not know them as members.
    for (const user of users.slice(1)) roomActors.push(new RoomActor(ctx, room, user, "group"));
  }
  for (let i = 0; i < o.dmPairs; i++) {
    const a = new InboxActor(ctx, `d${i}a`, `d${i}b`);
    const b = new InboxActor(ctx, `d${i}b`, `d${i}a`);
    rooms.set(a.dmRoom, { reader: a.user, kind: "dm" });
    inboxActors.push(a, b);
  }
  actors.push(...roomActors, ...inboxActors);
  if ((await everyoneBack(0, 60_000)) === null) throw new Error(`not every client opened within 60 s: ${actors.filter((a) => a.status() !== "open").map((a) => `${a.label} ${a.status()}`).join(", ")}`);
  say(`${actors.length} clients open (${roomActors.length} room clients, ${inboxActors.length} inbox devices) in ${rooms.size} rooms`);

  // ---- Load and the killer.
  const load = new Load(actors, o.rate);
  load.start();
  for (let index = 1; index <= o.kills; index++) {
    const waitedMs = (o.between.min + Math.random() * (o.between.max - o.between.min)) * 1000;
    await sleep(waitedMs);
    // Aimed: a kill is a test of durability and resend only if commands are unacked when it lands (as in
    // tests/integration/chaos.integration.test.ts); at a few dozen commands per second that takes milliseconds.
    if (!(await waitUntil(() => ledger.pending > 0, 5_000, 1))) report.note("a kill landed with no command unacked", `kill ${index}`);
    const pendingAtKill = ledger.pending;
    const killAt = Date.now();
    await server.kill();
    const startAt = Date.now();
    const startAttempts = await startServer(server, index);
    const healthyMs = Date.now() - startAt;
    const firstBack = new Map<Actor, number>();
    const backMs = await everyoneBack(startAt, 120_000, firstBack);
    sampleLoad();
    if (backMs === null) {
      const missing = actors.filter((a) => a.lastWelcomeAt < startAt || a.status() !== "open").map((a) => `${a.label} (${a.status()})`);
      report.fail("recovery", `restart ${index}: not every client was welcomed again within 120 s: ${missing.join(", ")}`);
    }
    restarts.push({ index, waitedMs, pendingAtKill, killMs: startAt - killAt, healthyMs, backMs, clientBackMs: [...firstBack.values()], startAttempts });
    if (!o.quiet) {
      say(`kill ${index}/${o.kills} after ${s(waitedMs)}: ${pendingAtKill} commands unacked; healthy in ${s(healthyMs)}, every client back in ${backMs === null ? "NEVER (120 s)" : s(backMs)}; ${int(ledger.acked)} acked so far, load ${loadavg()[0]!.toFixed(2)}`);
    }
  }
  await sleep(o.tailSeconds * 1000);
  load.stop();
  say(`load stopped after ${s(load.stoppedAt - load.startedAt)}: ${int(ledger.commands.length)} commands issued, ${int(ledger.pending)} still unacked; draining`);

  // ---- Drain: every command and read settles.
  const settleMs = o.settleSeconds * 1000;
  const allReads = () => [...roomActors.flatMap((a) => a.reads), ...inboxActors.flatMap((a) => a.reads)];
  const settled = await waitUntil(() => ledger.pending === 0 && allReads().every((r) => r.readSeq !== undefined || r.error !== undefined), settleMs);
  if (!settled) {
    const pending = ledger.commands.filter((c) => c.outcome === "pending");
    report.fail("drain", `${pending.length} commands and ${allReads().filter((r) => r.readSeq === undefined && r.error === undefined).length} reads unsettled after ${o.settleSeconds} s, e.g. ${pending.slice(0, 5).map((c) => `${c.session} ${c.kind} ${c.clientId}`).join("; ")}`);
  }
  const drainedAt = Date.now();
  say(`settled in ${s(drainedAt - load.stoppedAt)}: ${int(ledger.acked)} acked, ${int(ledger.rejected)} rejected`);

  // ---- Check 1: the logs.
  const logs = new Map<string, LoggedEvent[]>();
  const figures = new Map<string, LogFigures>();
  const commandsByRoom = new Map<string, CommandRecord[]>();
  for (const command of ledger.commands) commandsByRoom.set(command.room, [...(commandsByRoom.get(command.room) ?? []), command]);
  for (const [room, { reader }] of rooms) {
    try {
      const log = await readLog(server, room, reader);
      logs.set(room, log);
      figures.set(room, checkLog(report, room, log, commandsByRoom.get(room) ?? []));
    } catch (error) {
      report.fail("1 log", `${room}: ${String(error)}`);
    }
  }
  const totalEvents = [...logs.values()].reduce((n, log) => n + log.length, 0);
  say(`check 1 (logs): ${rooms.size} rooms, ${int(totalEvents)} events read over HTTP history`);

  // ---- Check 2: every client's event stream (after it caught up with its room's lastSeq).
  const lastSeq = (room: string) => logs.get(room)?.length ?? 0;
  const caughtUp = await waitUntil(
    () => roomActors.every((a) => (a.room.position?.lastSeq ?? -1) === lastSeq(a.roomId)) && inboxActors.every((a) => a.inbox.position(a.dmRoom) === lastSeq(a.dmRoom)),
    settleMs,
  );
  if (!caughtUp) report.note("clients not caught up with their rooms when the streams were checked", [...roomActors.filter((a) => a.room.position?.lastSeq !== lastSeq(a.roomId)).map((a) => `${a.label} at ${a.room.position?.lastSeq} of ${lastSeq(a.roomId)}`), ...inboxActors.filter((a) => a.inbox.position(a.dmRoom) !== lastSeq(a.dmRoom)).map((a) => `${a.label} at ${a.inbox.position(a.dmRoom)} of ${lastSeq(a.dmRoom)}`)].slice(0, 5).join("; "));
  for (const actor of roomActors) {
    const log = logs.get(actor.roomId);
    if (log) checkRoomStream(report, actor, log);
  }
  for (const actor of inboxActors) {
    const log = logs.get(actor.dmRoom);
    if (log) checkInboxStream(report, actor, log);
  }
  for (const actor of actors) {
    const statuses = actor instanceof RoomActor || actor instanceof InboxActor ? actor.statuses : [];
    const stopped = statuses.filter((st) => st === "closed" || st === "auth_failed");
    if (stopped.length > 0) report.fail("2 streams", `${actor.label}: went ${stopped.join(", ")} during the soak`);
  }
  say(`check 2 (streams): ${roomActors.length} room clients and ${inboxActors.length} inbox devices compared with the logs`);

  // ---- Check 3: unread counts and read positions, per user and conversation.
  const unreadChecks: Promise<void>[] = [];
  for (const actor of inboxActors) {
    const log = logs.get(actor.dmRoom);
    if (!log) continue;
    const readSeq = expectedReadSeq(actor.reads, 0);
    const expected = { lastSeq: log.length, readSeq, unread: unreadTruth(log, actor.user, readSeq) };
    const room = actor.dmRoom;
    const find = (rows: Array<Row>) => rows.find((r) => r.room === room);
    unreadChecks.push(checkRow(report, `${actor.user}: list() over the socket`, room, expected, async () => find((await actor.inbox.list({ limit: 100 })).conversations), settleMs));
    unreadChecks.push(checkRow(report, `${actor.user}: the device's own rows`, room, expected, async () => {
      const row = find(actor.inbox.conversations);
      return row && { room, lastSeq: row.lastSeq, readSeq: row.readSeq, unread: actor.inbox.unread(room) };
    }, settleMs));
    unreadChecks.push(checkRow(report, `${actor.user}: GET conversations`, room, expected, () => httpRow(server!, actor.user, room), settleMs));
  }
  for (const actor of roomActors.filter((a) => a.kind === "group")) {
    const log = logs.get(actor.roomId);
    if (!log) continue;
    const readSeq = expectedReadSeq(actor.reads, groupCreateSeq.get(actor.roomId) ?? 0);
    const expected = { lastSeq: log.length, readSeq, unread: unreadTruth(log, actor.user, readSeq) };
    unreadChecks.push(checkRow(report, `${actor.user}: GET conversations`, actor.roomId, expected, () => httpRow(server!, actor.user, actor.roomId), settleMs));
  }
  await Promise.all(unreadChecks);
  for (const actor of inboxActors) {
    // One conversation each: the device's total is that row's unread.
    const log = logs.get(actor.dmRoom);
    if (!log) continue;
    const truth = unreadTruth(log, actor.user, expectedReadSeq(actor.reads, 0));
    if (actor.inbox.totalUnread !== truth) report.fail("3 unread", `${actor.user}: device totalUnread ${actor.inbox.totalUnread}, expected ${truth}`);
  }
  const readsAnswered = allReads().filter((r) => r.readSeq !== undefined).length;
  const readsFailed = allReads().filter((r) => r.error !== undefined);
  for (const read of readsFailed) report.note("a read was refused", `${read.room} read ${read.asked}: ${read.error}`);
  say(`check 3 (unread): ${unreadChecks.length} conversation rows (${inboxActors.length} DM users x 3 views, ${roomActors.filter((a) => a.kind === "group").length} group members over HTTP); ${readsAnswered} reads answered`);

  // ---- Check 4: the archive (PROTOCOL I9).
  const archiveStarted = Date.now();
  for (const [room] of rooms) {
    const log = logs.get(room);
    if (log) await checkArchive(report, server, db, room, log, settleMs);
  }
  const archiveRows = Number((await db.query<{ n: string }>("SELECT count(*)::text AS n FROM archive_events").catch(() => [{ n: "NaN" }]))[0]?.n);
  say(`check 4 (archive): ${rooms.size} rooms drained and compared row for row in ${s(Date.now() - archiveStarted)}; ${int(archiveRows)} archive rows`);

  // ---- Figures.
  sampleLoad();
  const loadSeconds = (load.stoppedAt - load.startedAt) / 1000;
  const acked = ledger.commands.filter((c) => c.outcome === "acked");
  const byKind = new Map<string, number>();
  for (const c of acked) byKind.set(c.kind, (byKind.get(c.kind) ?? 0) + 1);
  const rejectedByCode = new Map<string, number>();
  for (const c of ledger.commands.filter((c) => c.outcome === "rejected")) rejectedByCode.set(c.code ?? "?", (rejectedByCode.get(c.code ?? "?") ?? 0) + 1);
  const latencies = acked.map((c) => c.settledAt! - c.issuedAt);
  const healthy = restarts.map((r) => r.healthyMs);
  const back = restarts.flatMap((r) => (r.backMs === null ? [] : [r.backMs]));
  const clientBack = restarts.flatMap((r) => r.clientBackMs);
  const pendingAtKill = restarts.map((r) => r.pendingAtKill);
  const messages = (byKind.get("send") ?? 0) + (byKind.get("dm") ?? 0);
  const welcomes = actors.reduce((n, a) => n + a.welcomes, 0);
  const resumes = roomActors.reduce((n, a) => n + a.resumes.length, 0);
  const unknown = [...figures.values()].reduce((n, f) => n + f.unknown, 0);
  const unknownStored = [...figures.values()].reduce((n, f) => n + f.unknownStored, 0);
  const duration = (Date.now() - startedAt) / 1000;
  const loadAtEnd = loadavg();

  console.log("\n==== kaiwa kill-restart soak ====");
  console.log(`command       npm run soak${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(" ")}` : ""}`);
  console.log(`duration      ${(duration / 60).toFixed(1)} min (load ${s(load.stoppedAt - load.startedAt)}, drain ${s(drainedAt - load.stoppedAt)}); archive on ${db.kind}`);
  console.log(`load average  start ${loadAtStart.map((l) => l.toFixed(2)).join(" ")}, end ${loadAtEnd.map((l) => l.toFixed(2)).join(" ")}, highest 1-min seen ${loadMax.toFixed(2)}`);
  console.log(`clients       ${actors.length}: ${roomActors.filter((a) => a.kind === "open").length} in ${o.rooms} open rooms, ${roomActors.filter((a) => a.kind === "group").length} in ${o.groups} groups, ${inboxActors.length} inbox devices (${o.dmPairs} DM pairs)`);
  console.log(`kills         ${restarts.length} SIGKILLs of the process group, ${restarts.reduce((n, r) => n + r.startAttempts - 1, 0)} restarts retried; ${pendingAtKill.filter((n) => n > 0).length} kills with commands unacked (unacked at a kill: p50 ${percentile(pendingAtKill, 50)}, max ${Math.max(0, ...pendingAtKill)})`);
  console.log(`recovery      start() to healthy: p50 ${s(percentile(healthy, 50))}, p95 ${s(percentile(healthy, 95))}, max ${s(Math.max(...healthy))}`);
  console.log(`              start() to every client welcomed again: p50 ${s(percentile(back, 50))}, p95 ${s(percentile(back, 95))}, max ${s(Math.max(...back))}${back.length < restarts.length ? ` (${restarts.length - back.length} restarts never got everyone back)` : ""}`);
  console.log(`              start() to each client's first welcome (all clients, all restarts): p50 ${s(percentile(clientBack, 50))}, p95 ${s(percentile(clientBack, 95))}, max ${s(Math.max(...clientBack))}`);
  console.log(`              kill to port closed: p50 ${s(percentile(restarts.map((r) => r.killMs), 50))}, max ${s(Math.max(...restarts.map((r) => r.killMs)))}; ${int(welcomes)} welcomes in all, ${int(resumes)} room resumes, ${roomActors.reduce((n, a) => n + a.resumes.filter((r) => !r.recovered).length, 0)} not recovered`);
  console.log(`commands      ${int(ledger.commands.length)} issued, ${int(acked.length)} acked (${[...byKind].map(([k, n]) => `${k} ${int(n)}`).join(", ")}), ${int(ledger.rejected)} rejected${rejectedByCode.size ? ` (${[...rejectedByCode].map(([k, n]) => `${k} ${n}`).join(", ")})` : ""}, ${unknown} unknown outcome (${unknownStored} of them stored)`);
  console.log(`rate          ${(acked.length / loadSeconds).toFixed(1)} acked commands/s (${(messages / loadSeconds).toFixed(1)} messages/s) over ${loadSeconds.toFixed(0)} s of load, target ${o.rate}/s`);
  console.log(`ack latency   p50 ${s(percentile(latencies, 50))}, p99 ${s(percentile(latencies, 99))}, max ${s(Math.max(0, ...latencies))} (issue to durable ack, outages included)`);
  console.log(`logs          ${rooms.size} rooms, ${int(totalEvents)} events (largest lastSeq ${Math.max(0, ...[...logs.values()].map((l) => l.length))}); reads ${readsAnswered} answered, ${readsFailed.length} refused; archive ${int(archiveRows)} rows`);
  if (report.notes.size > 0) {
    console.log("anomalies (not failures by themselves):");
    for (const [kind, count] of report.notes) console.log(`  ${count} x ${kind}, e.g. ${report.noteExamples.get(kind)}`);
  } else console.log("anomalies     none");
  const checks = ["harness", "recovery", "drain", "1 log", "2 streams", "3 unread", "4 archive"];
  for (const check of checks) {
    const failures = report.failures.get(check) ?? [];
    if (failures.length === 0 && !/^\d/.test(check)) continue;
    console.log(`check ${check.padEnd(10)} ${failures.length === 0 ? "ok" : `FAILED (${failures.length})`}`);
    for (const failure of failures.slice(0, 15)) console.log(`    ${failure}`);
    if (failures.length > 15) console.log(`    … and ${failures.length - 15} more`);
  }
  console.log(`result        ${report.ok ? "PASS" : "FAIL"}`);
  console.log(
    "soak-result " +
      JSON.stringify({
        ok: report.ok,
        kills: restarts.length,
        durationS: Math.round(duration),
        loadAvg: { start: loadAtStart, end: loadAtEnd, max1m: loadMax },
        commands: { issued: ledger.commands.length, acked: acked.length, rejected: ledger.rejected, unknown, byKind: Object.fromEntries(byKind) },
        ratePerS: +(acked.length / loadSeconds).toFixed(1),
        healthyMs: { p50: percentile(healthy, 50), p95: percentile(healthy, 95), max: Math.max(...healthy) },
        everyoneBackMs: { p50: percentile(back, 50), p95: percentile(back, 95), max: Math.max(...back), missing: restarts.length - back.length },
        clientBackMs: { p50: percentile(clientBack, 50), p95: percentile(clientBack, 95), max: Math.max(...clientBack) },
        ackLatencyMs: { p50: percentile(latencies, 50), p99: percentile(latencies, 99), max: Math.max(0, ...latencies) },
        events: totalEvents,
        archiveRows,
        failures: Object.fromEntries([...report.failures].map(([k, v]) => [k, v.length])),
      }),
  );
  return report.ok;
}

let ok = false;
try {
  ok = await main();
} catch (error) {
  console.error(`soak: aborted: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
  if (server) console.error(`server's recent log:\n${server.recentLog()}`);
}
const keep = options.keepState || !ok;
await teardown(keep);
if (keep) console.log(`state kept in ${stateDir}`);
process.exit(ok ? 0 : 1);
