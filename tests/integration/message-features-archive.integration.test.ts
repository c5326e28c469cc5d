/**
 * Threads, replies and reactions in the archive (PROTOCOL R28) against a real `partykit dev` and Postgres (PGlite
 * by default): with the room's window shrunk to 12 events, a thread whose replies were pruned from the room
 * reads back in order from the archive, also after a restart; the archive rows carry the thread and reply
 * links and the parent's counts, equal to the room's records (PROTOCOL I9); search can be limited to one thread.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { DevServer, waitFor } from "../helpers/dev-server.ts";
import { ArchiveDb } from "../helpers/archive-db.ts";
import { archiveStats, assertArchiveEqualsLog, readRoomLog, waitDrained } from "../helpers/archive-check.ts";
import { openClient, type TestClient } from "../helpers/clients.ts";

const RETENTION = 12;
const ROOM = "thread-archive";
const db = new ArchiveDb();
let server: DevServer;
const clients: TestClient[] = [];
before(async () => {
  await db.start();
  server = new DevServer({ vars: { ...db.vars, KAIWA_RETENTION_EVENTS: RETENTION, KAIWA_ARCHIVE_DELAY_MS: 50, KAIWA_ARCHIVE_BATCH_ROWS: 64, KAIWA_MESSAGES_PER_SECOND: 0 } });
  await server.start();
});
after(async () => {
  for (const c of clients) c.room.close();
  await server?.stop();
  await db.stop();
});

let parent = 0;
let replies: number[] = [];
let quoting = 0;

test("PROTOCOL R28: a thread pruned from the room reads back in order from the archive, also after a restart", async () => {
  const hana = await openClient(server, ROOM, "hana");
  const kenji = await openClient(server, ROOM, "kenji");
  clients.push(hana, kenji);
  parent = (await hana.room.send("apples: a thread")).seq;
  await hana.room.send("an apple outside the thread");
  replies = [];
  for (let i = 0; i < 6; i++) replies.push((await (i % 2 ? kenji : hana).room.send(`apple reply ${i}`, { thread: parent })).seq);
  await kenji.room.react(parent, "🍎");
  await hana.room.react(parent, "🍎");
  quoting = (await kenji.room.reply(parent, "quoting the apples")).seq;
  for (let i = 0; i < 16; i++) await kenji.room.send(`filler ${i}`);
  await waitDrained(server, ROOM);
  await waitFor(async () => (await archiveStats(server, ROOM)).prunedThrough >= quoting, 60_000, "the thread was pruned from the room");

  for (const when of ["pruned", "pruned and restarted"]) {
    const page = await kenji.room.thread(parent);
    assert.deepEqual(page.events.map((e) => e.seq), replies, `${when}: the thread in order`);
    assert.deepEqual(page.events.map((e) => e.text), replies.map((_, i) => `apple reply ${i}`));
    assert.equal(page.parent.replies?.count, 6);
    assert.equal(page.parent.replies?.lastSeq, replies.at(-1));
    assert.equal(page.parent.reactions?.["🍎"], 2);
    assert.deepEqual(page.mine[String(parent)], ["🍎"], `${when}: kenji's own reaction`);
    const history = await kenji.room.history({ before: quoting + 1, limit: 1 });
    assert.equal(history.quotes[String(parent)]?.excerpt, "apples: a thread", `${when}: a quote of an archived parent`);
    if (when === "pruned") await server.restart();
  }
});

test("PROTOCOL R28, I9: archive rows carry thread and reply links and the parent's counts, equal to the room's records", async () => {
  const rows = await db.query("SELECT seq::int AS seq, thread::int AS thread, reply_to::int AS reply_to FROM archive_events WHERE room_id = $1 AND (thread IS NOT NULL OR reply_to IS NOT NULL) ORDER BY seq", [ROOM]);
  assert.deepEqual(rows, [...replies.map((seq) => ({ seq, thread: parent, reply_to: null })), { seq: quoting, thread: null, reply_to: parent }]);
  const [row] = await db.query<{ payload: string }>("SELECT payload::text AS payload FROM archive_events WHERE room_id = $1 AND seq = $2", [ROOM, parent]);
  assert.deepEqual(JSON.parse(row!.payload).reactions, { "🍎": 2 });
  await assertArchiveEqualsLog(db, ROOM, await readRoomLog(server, ROOM, "hana"));
});

test("PROTOCOL R28: search limited to a thread finds the parent and its replies only, and needs the room", async () => {
  const token = await server.token("hana");
  const inThread = await server.fetchJson(`/archive/search?q=apple&room=${ROOM}&thread=${parent}&limit=50`, { token });
  assert.equal(inThread.status, 200, JSON.stringify(inThread.body));
  assert.deepEqual(inThread.body.results.map((h: { seq: number }) => h.seq).sort((a: number, b: number) => a - b), [parent, ...replies]);
  const everywhere = await server.fetchJson(`/archive/search?q=apple&room=${ROOM}&limit=50`, { token });
  assert.equal(everywhere.body.results.length, replies.length + 3, "the apple outside the thread and the quoting reply are found without the filter");
  const noRoom = await server.fetchJson(`/archive/search?q=apple&thread=${parent}`, { token });
  assert.equal(noRoom.status, 400);
  assert.equal(noRoom.body.error.code, "bad_frame");
});
