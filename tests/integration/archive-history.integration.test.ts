/**
 * History past the room's retention window, served from the archive: with the window shrunk to 50 events,
 * paging back over the socket and over HTTP crosses into the archive with no gap, no overlap, same order
 * and the same records; resume refuses to replay what the room no longer stores (PROTOCOL I5).
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { DevServer, waitFor } from "../helpers/dev-server.ts";
import { ArchiveDb } from "../helpers/archive-db.ts";
import { archiveStats, driveRoom, waitDrained } from "../helpers/archive-check.ts";
import { rawSocket } from "../helpers/raw-socket.ts";

const RETENTION = 50;
const db = new ArchiveDb();
let server: DevServer;
before(async () => {
  await db.start();
  server = new DevServer({ vars: { ...db.vars, KAIWA_RETENTION_EVENTS: RETENTION, KAIWA_ARCHIVE_DELAY_MS: 50, KAIWA_ARCHIVE_BATCH_ROWS: 64 } });
  await server.start();
});
after(async () => {
  await server?.stop();
  await db.stop();
});

const room = "long-history";
const WRITER = "hana"; // the room's only writer: every seq is one of her acked commands
let lastSeq = 0;
/** The writer's durable acks (clientId → seq): the truth every page served is compared with. */
let acks = new Map<string, number>();
/** The acked clientId at each seq. */
let clientIdAt = new Map<number, string>();

/**
 * Events served (a run of consecutive seqs) against the acks: each names, at its seq, the clientId acked
 * there and the writer as author; no clientId twice. `whole`: the run is the room's entire log, so every
 * ack must be in it, in sending order (clientIds `hana-<n>` with rising n).
 */
function assertMatchesAcks(events: any[], label: string, whole: boolean): void {
  const seen = new Set<string>();
  for (const event of events) {
    assert.equal(event.author.id, WRITER, `${label}: seq ${event.seq} author`);
    assert.equal(event.clientId, clientIdAt.get(event.seq), `${label}: seq ${event.seq} holds clientId ${event.clientId}, acked there: ${clientIdAt.get(event.seq)}`);
    assert.equal(seen.has(event.clientId), false, `${label}: clientId ${event.clientId} twice`);
    seen.add(event.clientId);
  }
  if (!whole) return;
  assert.equal(events.length, acks.size, `${label}: ${events.length} events for ${acks.size} acks`);
  for (const [clientId, seq] of acks) assert.equal(events[seq - 1]?.clientId, clientId, `${label}: ack ${clientId} → ${seq} not there`);
  const n = events.map((event) => Number(String(event.clientId).split("-").at(-1)));
  assert.deepEqual(n, [...n].sort((a, b) => a - b), `${label}: the writer's commands out of sending order`);
}

async function archived(): Promise<Map<number, unknown>> {
  const rows = await db.query("SELECT seq::int AS seq, payload::text AS payload FROM archive_events WHERE room_id = $1", [room]);
  return new Map(rows.map((r) => [r.seq, JSON.parse(r.payload)]));
}

test("the room keeps only its window once the archive has confirmed the rest", async () => {
  ({ lastSeq, acks } = await driveRoom(server, room, WRITER, { sends: 300, edits: 12, deletes: 6 }));
  assert.equal(acks.size, 318, "one ack per command");
  assert.deepEqual([...acks.values()].sort((a, b) => a - b), Array.from({ length: lastSeq }, (_, i) => i + 1), "acked seqs are 1..lastSeq");
  clientIdAt = new Map([...acks].map(([clientId, seq]) => [seq, clientId]));
  const stats = await waitDrained(server, room);
  assert.equal(stats.cursor, lastSeq);
  assert.equal(stats.prunedThrough, lastSeq - RETENTION, "everything below the window was pruned, nothing inside it");
  // The floor moves before the deletes (each chunk also re-archives its records first, PROTOCOL R28): the
  // count of deleted keys catches up once the last chunk is gone.
  await waitFor(async () => (await archiveStats(server, room)).pruned === lastSeq - RETENTION, 30_000, "every key below the floor deleted");
});

test("socket history pages back across the retention boundary: gapless, ordered, equal to the archive (PROTOCOL R9)", async () => {
  const socket = await rawSocket(server, room, { token: await server.token("kenji"), session: "k1" });
  await socket.next((f) => f.type === "welcome");
  const pages: any[][] = [];
  let beforeSeq: number | undefined;
  for (let i = 0; ; i++) {
    const from = socket.frames.length;
    socket.send({ type: "history", requestId: `h${i}`, limit: 40, ...(beforeSeq ? { before: beforeSeq } : {}) });
    const page = await socket.next((f) => f.requestId === `h${i}`, 10_000, from);
    assert.equal(page.type, "history", JSON.stringify(page));
    pages.unshift(page.events);
    if (!page.hasMore) break;
    beforeSeq = page.events[0].seq;
  }
  const events = pages.flat();
  events.forEach((event, i) => assert.equal(event.seq, i + 1, `position ${i} holds seq ${event.seq}`));
  assert.equal(events.length, lastSeq);
  const archive = await archived();
  for (const event of events) assert.deepStrictEqual(event, archive.get(event.seq), `seq ${event.seq} differs from the archive`);
  assertMatchesAcks(events, "socket history", true);
  assert.ok((await archiveStats(server, room)).archiveReads > 0, "older pages came from the archive");
  socket.ws.close();
});

test("HTTP history: a page straddling the boundary, and odd page sizes, have no gap or overlap (PROTOCOL R9)", async () => {
  const token = await server.token("kenji");
  const boundary = lastSeq - RETENTION; // highest archived-only seq
  const { status, body } = await server.fetchJson(`/parties/room/${room}/history?before=${boundary + 8}&limit=15`, { token });
  assert.equal(status, 200);
  assert.deepEqual(body.events.map((e: any) => e.seq), Array.from({ length: 15 }, (_, i) => boundary - 7 + i));
  assertMatchesAcks(body.events, "the straddling page", false);
  const seen: any[] = [];
  for (let before = lastSeq + 1; before > 1; ) {
    const page = await server.fetchJson(`/parties/room/${room}/history?before=${before}&limit=37`, { token });
    seen.unshift(...page.body.events);
    before = page.body.events[0].seq;
    assert.equal(page.body.hasMore, before > 1);
  }
  assert.deepEqual(seen.map((e) => e.seq), Array.from({ length: lastSeq }, (_, i) => i + 1));
  assertMatchesAcks(seen, "HTTP history", true);
});

test("resume from a position the room has pruned is refused as too far behind (PROTOCOL I5), not replayed with a gap", async () => {
  const first = await rawSocket(server, room, { token: await server.token("kenji"), session: "k2" });
  const welcome = await first.next((f) => f.type === "welcome");
  first.ws.close();
  const stale = await rawSocket(server, room, { token: await server.token("kenji"), session: "k3", epoch: welcome.epoch, lastSeq: "10" });
  assert.deepEqual((await stale.next((f) => f.type === "welcome")).resume, { recovered: false, reason: "too_far_behind" });
  stale.ws.close();
  const recent = await rawSocket(server, room, { token: await server.token("kenji"), session: "k4", epoch: welcome.epoch, lastSeq: String(lastSeq - 20) });
  assert.deepEqual((await recent.next((f) => f.type === "welcome")).resume, { recovered: true });
  const replay = await recent.next((f) => f.type === "events" && f.replay);
  assert.deepEqual(replay.events.map((e: any) => e.seq), Array.from({ length: 20 }, (_, i) => lastSeq - 19 + i));
  assertMatchesAcks(replay.events, "the replay", false);
  recent.ws.close();
});

test("with the archive down, old pages get a typed retryable error; the room's own window still answers", async () => {
  const token = await server.token("kenji");
  await db.stopDb();
  try {
    const old = await server.fetchJson(`/parties/room/${room}/history?before=20&limit=10`, { token });
    assert.equal(old.status, 503);
    assert.deepEqual(Object.keys(old.body.error).sort(), ["code", "message", "retryable"]);
    assert.equal(old.body.error.code, "archive_unavailable");
    assert.equal(old.body.error.retryable, true);
    const recent = await server.fetchJson(`/parties/room/${room}/history?limit=20`, { token });
    assert.equal(recent.status, 200);
    assert.equal(recent.body.events.length, 20);
    assert.deepEqual(recent.body.events.map((e: any) => e.seq), Array.from({ length: 20 }, (_, i) => lastSeq - 19 + i));
    assertMatchesAcks(recent.body.events, "the window with the archive down", false);
  } finally {
    await db.startDb();
  }
});
