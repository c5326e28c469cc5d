/**
 * The outbox end to end (I9), real `partykit dev` + a real Postgres engine (PGlite by default, Debian's
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
  const [{ version }] = await db.query<{ version: string }>("SELECT version()");
  if (db.kind === "postgres") assert.match(version, /^PostgreSQL 15\.\d+ .*linux/, `expected Debian's PostgreSQL 15, got ${version}`);
  else assert.match(version, /PGlite/, `expected PGlite, got ${version}`);
  assert.doesNotMatch(db.kind === "postgres" ? version : "", /PGlite|emscripten/);
});
