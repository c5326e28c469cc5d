/**
 * PROTOCOL I9 across a crash: a room that restarts with its archive behind (cursor < committed seq) resumes its
 * drain when it starts, not only at its next message. Real `partykit dev` + a real Postgres engine
 * (PGlite by default, Debian's PostgreSQL with KAIWA_TEST_DB=postgres).
 *
 * Deterministic "acked but not archived": the first server runs with a drain delay of 10 minutes, so the
 * alarm the first commit sets cannot fire before the SIGKILL; the test checks the archive is empty and the
 * room's stats show the whole lag before killing. The server then restarts over the same state directory
 * with a short delay, and nothing is sent again. `partykit dev` drops pending alarms on restart, and a room
 * nobody touches never starts there, so each room is woken the weakest way a real room is: a member's
 * HTTP history read, or a socket join by a user the room already knows (a new user's join queues a
 * membership row, which arms the drain by itself and would hide the bug). Neither commits anything.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { DevServer, sleep } from "../helpers/dev-server.ts";
import { ArchiveDb } from "../helpers/archive-db.ts";
import { archiveStats, driveRoom, readRoomLog, waitDrained } from "../helpers/archive-check.ts";
import { rawSocket, type RawSocket } from "../helpers/raw-socket.ts";

const MESSAGES = 20;
/** After the restart the drain must catch up this fast, with no new message to start it. */
const CATCH_UP_MS = 15_000;

const db = new ArchiveDb();
const stateDir = mkdtempSync(join(tmpdir(), "kaiwa-archive-restart-"));
const fast = { KAIWA_ARCHIVE_DELAY_MS: 50, KAIWA_ARCHIVE_RETRY_BASE_MS: 100, KAIWA_ARCHIVE_RETRY_CAP_MS: 1000 };
let server: DevServer | undefined;
const sockets: RawSocket[] = [];

before(async () => {
  await db.start();
});

after(async () => {
  for (const socket of sockets) socket.ws.terminate();
  await server?.kill();
  await db.stop();
  rmSync(stateDir, { recursive: true, force: true });
});

type Row = { seq: number; client_id: string };
const archivedRows = (room: string) => db.query<Row>("SELECT seq::int AS seq, client_id FROM archive_events WHERE room_id = $1 ORDER BY seq", [room]);

/** Polls the archive until it holds exactly `expected` (seq → clientId) for `room`; fails with what it holds. */
async function assertArchiveCatchesUp(room: string, expected: Map<number, string>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let rows: Row[] = [];
  while (Date.now() < deadline) {
    rows = await archivedRows(room);
    if (rows.length >= expected.size) break;
    await sleep(200);
  }
  const want = [...expected].sort(([a], [b]) => a - b).map(([seq, client_id]) => ({ seq, client_id }));
  if (rows.length !== want.length) {
    const { cursor, lag, drains, failing, lastError } = await archiveStats(server!, room);
    assert.fail(`${room}: ${rows.length} of ${want.length} acked messages archived ${timeoutMs / 1000} s after the room restarted (PROTOCOL I9); room archive stats ${JSON.stringify({ cursor, lag, drains, failing, lastError })}`);
  }
  assert.deepEqual(rows, want, `${room}: the archive holds each acked (seq, clientId) once`);
}

test("a room restarted with acked messages not yet archived drains them when it starts, with no new message", async () => {
  const rooms = { http: "restart-http-read", join: "restart-known-join" };
  const user = "alice";

  // 1. Acked but not archived: a drain delay far longer than the test.
  server = new DevServer({ stateDir, vars: { ...db.vars, ...fast, KAIWA_ARCHIVE_DELAY_MS: 600_000 } });
  await server.start();
  const acked = new Map<string, Map<number, string>>();
  for (const room of Object.values(rooms)) {
    const { acks, lastSeq } = await driveRoom(server, room, user, { sends: MESSAGES, edits: 0, deletes: 0 });
    assert.equal(acks.size, MESSAGES);
    assert.equal(lastSeq, MESSAGES);
    acked.set(room, new Map([...acks].map(([clientId, seq]) => [seq, clientId])));
  }
  for (const room of Object.values(rooms)) {
    const stats = await archiveStats(server, room);
    assert.equal(stats.enabled, true);
    assert.equal(stats.cursor, 0, `${room}: nothing drained before the crash ${JSON.stringify(stats)}`);
    assert.equal(stats.lag, MESSAGES);
    assert.equal((await archivedRows(room)).length, 0, `${room}: the archive is empty before the crash`);
  }
  // Let the room's bookkeeping writes (the archive state, the member sighting) settle, then crash.
  await sleep(500);
  await server.kill();

  // 2. Restart over the same storage with a short drain delay; send nothing.
  server = new DevServer({ stateDir, vars: { ...db.vars, ...fast } });
  await server.start();

  // A member reads history over HTTP: the room starts and still holds all 20.
  const log = await readRoomLog(server, rooms.http, user);
  assert.deepEqual(
    log.map((event) => [event.seq, event.clientId]),
    [...acked.get(rooms.http)!].sort(([a], [b]) => a - b),
    `${rooms.http}: the room log kept every acked message`,
  );
  // The user the room knows (it posted all 20) joins; the socket stays open and sends nothing.
  const socket = await rawSocket(server, rooms.join, { token: await server.token(user), session: "after-restart" });
  sockets.push(socket);
  const welcome = await socket.next((f) => f.type === "welcome", 30_000);
  assert.equal(welcome.lastSeq, MESSAGES, `${rooms.join}: the room log kept every acked message`);

  const results = await Promise.allSettled(Object.values(rooms).map((room) => assertArchiveCatchesUp(room, acked.get(room)!, CATCH_UP_MS)));
  const failures = results.flatMap((result) => (result.status === "rejected" ? [(result.reason as Error).message] : []));
  assert.equal(failures.length, 0, failures.join("\n"));

  // The drain is healthy and done; nothing was committed after the restart.
  for (const room of Object.values(rooms)) {
    const stats = await waitDrained(server, room, 10_000);
    assert.equal(stats.cursor, MESSAGES, `${room}: ${JSON.stringify(stats)}`);
  }
  socket.ws.close();
});
