/**
 * The outbox end to end (PROTOCOL I9), real `partykit dev` + a real Postgres engine (PGlite by default, Debian's
 * PostgreSQL with KAIWA_TEST_DB=postgres): messages, edits and deletions reach the archive exactly once,
 * equal to the room log row for row, whatever fails in between.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { DevServer, sleep, waitFor } from "../helpers/dev-server.ts";
import { ArchiveDb } from "../helpers/archive-db.ts";
import { archiveStats, assertArchiveEqualsLog, driveRoom, readRoomLog, waitDrained } from "../helpers/archive-check.ts";

const db = new ArchiveDb();
let server: DevServer;
before(async () => {
  await db.start();
  server = new DevServer({ vars: { ...db.vars, KAIWA_ARCHIVE_DELAY_MS: 50, KAIWA_ARCHIVE_RETRY_BASE_MS: 100, KAIWA_ARCHIVE_RETRY_CAP_MS: 1000, KAIWA_TEST_ARCHIVE_LOSE_REPLY_AT: 1 } });
  await server.start();
});
after(async () => {
  await server?.stop();
  await db.stop();
});

test("the archive runs on the engine this run asked for", async () => {
  const [{ version }] = (await db.query<{ version: string }>("SELECT version()")) as [{ version: string }];
  if (db.kind === "postgres") assert.match(version, /^PostgreSQL 15\.\d+ .*linux/, `expected Debian's PostgreSQL 15, got ${version}`);
  else assert.match(version, /PGlite/, `expected PGlite, got ${version}`);
  assert.doesNotMatch(db.kind === "postgres" ? version : "", /PGlite|emscripten/);
});

test("10,000 messages across 40 rooms, with edits and deletions, arrive once and equal the room log row for row", async () => {
  const rooms = Array.from({ length: 40 }, (_, i) => `bulk-${i}`);
  const started = performance.now();
  const driven = await Promise.all(rooms.map((room, i) => driveRoom(server, room, `u${i % 7}`, { sends: 250, edits: 10, deletes: 5 })));
  const sent = performance.now();
  for (const room of rooms) await waitDrained(server, room);
  console.log(`# 40 rooms x 265 commands acked in ${Math.round(sent - started)} ms; archive drained ${Math.round(performance.now() - sent)} ms later`);
  const [{ rows }] = (await db.query<{ rows: number }>("SELECT count(*)::int AS rows FROM archive_events WHERE room_id LIKE 'bulk-%'")) as [{ rows: number }];
  assert.equal(rows, 40 * 265, "every event archived exactly once");
  for (const [i, room] of rooms.entries()) {
    const log = await readRoomLog(server, room, "reader");
    assert.equal(log.length, driven[i]!.lastSeq);
    // Every ack is in the log at its seq with its clientId (nothing lost, nothing duplicated).
    for (const [clientId, seq] of driven[i]!.acks) assert.equal(log[seq - 1].clientId, clientId);
    await assertArchiveEqualsLog(db, room, log);
  }
  if (db.kind === "pglite") {
    // 40 rooms drained at once through one PGlite: the bridge admitted one session at a time.
    const bridge = (await (await fetch(`http://127.0.0.1:${db.bridgePort}/stats`)).json()) as { opened: number; maxConcurrent: number };
    assert.equal(bridge.maxConcurrent, 1);
    assert.ok(bridge.opened >= 40, `${bridge.opened} sessions`);
  }
  const members = await db.query("SELECT room_id, user_id FROM archive_members WHERE room_id = 'bulk-3'");
  assert.deepEqual(members.map((m) => m.user_id), ["u3"], "the poster is recorded as a member");
});

test("commit succeeded, reply lost (test switch): the retry writes nothing twice", async () => {
  const room = "lost-reply";
  const { lastSeq } = await driveRoom(server, room, "alice", { sends: 30, edits: 0, deletes: 0 });
  const stats = await waitDrained(server, room);
  assert.equal(stats.replyLost, 1, "the switch fired on this room's first drain");
  assert.ok(stats.failures >= 1, "the lost reply counted as a failure and was retried");
  // Postgres counts rows inserted or changed: the retried batch's rows were already there and changed nothing.
  assert.equal(stats.rowsWritten, lastSeq, `each of the ${lastSeq} rows written exactly once`);
  await assertArchiveEqualsLog(db, room, await readRoomLog(server, room, "alice"));
});

test("database stopped mid-stream: lag grows, sends never fail, the archive converges (PROTOCOL I9)", async () => {
  const room = "outage";
  const user = "olga";
  let total = 0;
  const burst = async (n: number) => {
    const { lastSeq } = await driveRoom(server, room, user, { sends: n, edits: 1, deletes: 1, text: (i) => `outage ${total + i}` });
    total += n;
    return lastSeq;
  };
  await burst(50);
  await waitDrained(server, room);
  await db.stopDb();
  // While the database is down every send is still acked (driveRoom fails on any error frame).
  let lastSeq = await burst(100);
  let during: any;
  await waitFor(async () => {
    during = await archiveStats(server, room);
    return during.failing && during.lag > 0;
  }, 30_000, "the drain to notice the outage");
  assert.ok(during.lastError, "the failure is visible in stats");
  lastSeq = await burst(100);
  assert.equal((await archiveStats(server, room)).lag > 0, true, "lag above zero during the outage");
  await sleep(300);
  await db.startDb();
  const stats = await waitDrained(server, room, 60_000);
  assert.equal(stats.cursor, lastSeq);
  assert.equal(stats.failing, false);
  await assertArchiveEqualsLog(db, room, await readRoomLog(server, room, user));
});
