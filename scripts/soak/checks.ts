/**
 * The soak's final checks, each collecting every failure it finds (not stopping at the first):
 *   1 log      every room's log over HTTP history: seqs 1..lastSeq gapless, no (author, clientId) twice, every
 *              acked command at exactly its acked seq, no refused command stored (a `closed` rejection is an
 *              unknown outcome), no event nobody issued, each session's commands in the order it issued them
 *              (PROTOCOL I1, I3, I4)
 *   2 streams  every client's app saw every event after its join point once, in order, with no reset (PROTOCOL I5)
 *   3 unread   each user's conversation rows: lastSeq, the read position the server answered, and unread =
 *              other people's undeleted messages above it (PROTOCOL I6, IB4), on the server and on the device
 *   4 archive  each room's drain reaches lag 0 and the archive equals its log row for row (PROTOCOL I9)
 */
import type { RoomEvent } from "../../client/index.ts";
import type { ArchiveDb } from "../../tests/helpers/archive-db.ts";
import { assertArchiveEqualsLog, waitDrained } from "../../tests/helpers/archive-check.ts";
import { sleep, type DevServer } from "../../tests/helpers/dev-server.ts";
import type { CommandRecord, InboxActor, ReadRecord, Report, RoomActor } from "./actors.ts";

export type LoggedEvent = RoomEvent & { editedBy?: number; deletedBy?: number };

/** A room's whole log as it stores it, over the HTTP history route, paged backwards (limit 200). Ids go as written (`dm:a:b`). */
export async function readLog(server: DevServer, room: string, reader: string): Promise<LoggedEvent[]> {
  const token = await server.token(reader);
  const events: LoggedEvent[] = [];
  let before: number | undefined;
  for (let page = 0; ; page++) {
    if (page > 100_000) throw new Error(`${room}: history paging does not end`);
    const query = `limit=200${before ? `&before=${before}` : ""}`;
    const { status, body } = await server.fetchJson(`/parties/room/${room}/history?${query}`, { token });
    if (status !== 200) throw new Error(`${room}: history answered ${status} ${JSON.stringify(body)}`);
    const pageEvents = body.events as LoggedEvent[];
    events.unshift(...pageEvents);
    if (!body.hasMore) break;
    if (pageEvents.length === 0) throw new Error(`${room}: an empty history page says hasMore`);
    before = pageEvents[0]!.seq;
  }
  return events;
}

const key = (user: string, clientId: string) => `${user}/${clientId}`;
const EVENT_KIND: Record<CommandRecord["kind"], RoomEvent["kind"]> = { send: "message", dm: "message", edit: "edit", delete: "delete", "group.create": "group" };

export type LogFigures = { events: number; acked: number; unknown: number; unknownStored: number };

/** Check 1 for one room: its log against every command the soak issued there. */
export function checkLog(report: Report, room: string, log: LoggedEvent[], commands: CommandRecord[]): LogFigures {
  const fail = (message: string) => report.fail("1 log", `${room}: ${message}`);
  log.forEach((event, i) => {
    if (event.seq !== i + 1) fail(`position ${i} holds seq ${event.seq} (a gap or a seq twice)`);
  });
  const byKey = new Map<string, LoggedEvent>();
  for (const event of log) {
    const k = key(event.author.id, event.clientId);
    const other = byKey.get(k);
    if (other) fail(`${k} stored twice, at seq ${other.seq} and ${event.seq} (PROTOCOL I3)`);
    else byKey.set(k, event);
  }
  const issued = new Set(commands.map((c) => key(c.user, c.clientId)));
  for (const event of log) {
    if (!issued.has(key(event.author.id, event.clientId))) fail(`seq ${event.seq} (${event.kind} by ${event.author.id}, clientId ${event.clientId}) was issued by no soak client`);
  }
  const figures: LogFigures = { events: log.length, acked: 0, unknown: 0, unknownStored: 0 };
  for (const command of commands) {
    const stored = byKey.get(key(command.user, command.clientId));
    if (command.outcome === "pending") fail(`${command.kind} ${command.clientId} of ${command.session} never settled`);
    else if (command.outcome === "acked") {
      figures.acked++;
      if (!stored) fail(`acked ${command.kind} ${command.user}/${command.clientId} (seq ${command.seq}) is not in the log`);
      else if (stored.seq !== command.seq) fail(`acked ${command.kind} ${command.user}/${command.clientId} at seq ${command.seq} is stored at seq ${stored.seq}`);
      else if (stored.kind !== EVENT_KIND[command.kind]) fail(`acked ${command.kind} ${command.clientId} is stored as a ${stored.kind}`);
    } else if (command.code === "closed") {
      figures.unknown++; // outcome unknown by the client's contract: stored once or not at all (the first two checks cover "once")
      if (stored) figures.unknownStored++;
    } else if (stored) fail(`${command.kind} ${command.clientId} was refused (${command.message}) yet stored at seq ${stored.seq} (PROTOCOL I8)`);
  }
  // PROTOCOL I4: each session's stored commands are in the log in the order it issued them.
  const bySession = new Map<string, CommandRecord[]>();
  for (const command of commands) bySession.set(command.session, [...(bySession.get(command.session) ?? []), command]);
  for (const [session, mine] of bySession) {
    let last = 0;
    for (const command of mine) {
      const stored = byKey.get(key(command.user, command.clientId));
      if (!stored) continue;
      if (stored.seq <= last) {
        fail(`${session}: ${command.kind} ${command.clientId} stored at seq ${stored.seq}, after a command it issued later (seq ${last}) (PROTOCOL I4)`);
        break;
      }
      last = stored.seq;
    }
  }
  return figures;
}

/** Check 2 for a room client: after its join point, the room's log exactly, in order, once each, no reset. */
export function checkRoomStream(report: Report, actor: RoomActor, log: LoggedEvent[]): void {
  const fail = (message: string) => report.fail("2 streams", `${actor.label}: ${message}`);
  if (actor.joinSeq === null) return fail("never welcomed");
  compareStream(fail, actor.events, log.slice(actor.joinSeq));
  if (actor.resets.length > 0) fail(`reset ${actor.resets.length} times (${[...new Set(actor.resets)].join(", ")})`);
  const lost = actor.resumes.filter((r) => !r.recovered);
  if (lost.length > 0) fail(`${lost.length} resumes not recovered (${[...new Set(lost.map((r) => r.reason))].join(", ")}) (PROTOCOL I5)`);
}

/** Check 2 for an inbox device (fromStart): its DM room from seq 1, and no event of any other room. */
export function checkInboxStream(report: Report, actor: InboxActor, log: LoggedEvent[]): void {
  const fail = (message: string) => report.fail("2 streams", `${actor.label}: ${message}`);
  compareStream(fail, actor.events.get(actor.dmRoom) ?? [], log);
  for (const room of actor.events.keys()) if (room !== actor.dmRoom) fail(`got events of ${room}, which it is not in`);
}

function compareStream(fail: (message: string) => void, seen: RoomEvent[], expected: LoggedEvent[]): void {
  if (seen.length !== expected.length) fail(`saw ${seen.length} events, the log has ${expected.length} after its join point`);
  const n = Math.min(seen.length, expected.length);
  for (let i = 0; i < n; i++) {
    const a = seen[i]!;
    const b = expected[i]!;
    if (a.seq !== b.seq || a.clientId !== b.clientId || a.author.id !== b.author.id) {
      fail(`event #${i} is seq ${a.seq} (${a.author.id}/${a.clientId}), the log has seq ${b.seq} (${b.author.id}/${b.clientId}) there`);
      return;
    }
  }
}

/** Other people's undeleted messages above `readSeq` (PROTOCOL I6, IB4). */
export function unreadTruth(log: LoggedEvent[], user: string, readSeq: number): number {
  return log.filter((e) => e.kind === "message" && e.author.id !== user && e.deletedBy === undefined && e.seq > readSeq).length;
}

/** The read position the server must hold: the highest it answered, or where the member started. */
export function expectedReadSeq(reads: ReadRecord[], startsAt: number): number {
  return reads.reduce((max, r) => (r.readSeq !== undefined ? Math.max(max, r.readSeq) : max), startsAt);
}

export type Row = { room: string; lastSeq: number; readSeq: number; unread: number };
export type Expected = { lastSeq: number; readSeq: number; unread: number };

/**
 * Check 3 for one (user, room): polls `rowsOf` (a list the server answers, or the device's own view) until it
 * shows the expected row or `timeoutMs` passes, then records what it last saw if it never did.
 */
export async function checkRow(report: Report, what: string, room: string, expected: Expected, rowsOf: () => Promise<Row | undefined>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let row: Row | undefined;
  for (;;) {
    try {
      row = await rowsOf();
    } catch (error) {
      row = undefined;
      if (Date.now() > deadline) return report.fail("3 unread", `${what} ${room}: ${error instanceof Error ? error.message : String(error)}`);
    }
    if (row && row.lastSeq === expected.lastSeq && row.readSeq === expected.readSeq && row.unread === expected.unread) return;
    if (Date.now() > deadline) break;
    await sleep(250);
  }
  const seen = row ? `lastSeq ${row.lastSeq}, readSeq ${row.readSeq}, unread ${row.unread}` : "no row";
  report.fail("3 unread", `${what} ${room}: ${seen}; expected lastSeq ${expected.lastSeq}, readSeq ${expected.readSeq}, unread ${expected.unread}`);
}

/** A user's conversation row over HTTP (`GET /parties/inbox/<user>/conversations`, paged). */
export async function httpRow(server: DevServer, user: string, room: string): Promise<Row | undefined> {
  const token = await server.token(user);
  let before: string | undefined;
  for (;;) {
    const { status, body } = await server.fetchJson(`/parties/inbox/${user}/conversations?limit=100${before ? `&before=${encodeURIComponent(before)}` : ""}`, { token });
    if (status !== 200) throw new Error(`conversations answered ${status} ${JSON.stringify(body)}`);
    const row = (body.conversations as Array<Row & { cursor: string }>).find((c) => c.room === room);
    if (row || !body.hasMore || body.conversations.length === 0) return row;
    before = body.conversations.at(-1).cursor;
  }
}

/** Check 4 for one room: the drain reaches lag 0, then the archive equals the log (PROTOCOL I9). */
export async function checkArchive(report: Report, server: DevServer, db: ArchiveDb, room: string, log: LoggedEvent[], timeoutMs: number): Promise<void> {
  try {
    await waitDrained(server, room, timeoutMs);
    await assertArchiveEqualsLog(db, room, log);
  } catch (error) {
    report.fail("4 archive", `${room}: ${error instanceof Error ? error.message.split("\n").slice(0, 8).join("\n") : String(error)}`);
  }
}
