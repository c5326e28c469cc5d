/**
 * The embedded archive database with the real engine (PGlite) and the real driver through the bridge:
 * migrations apply once and again as a no-op; the search functions behave for Japanese; and many clients at
 * once, some dropping mid-transaction, never see each other's statements (sessions are serialised).
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import WebSocket from "ws";
import { neonConfig } from "@neondatabase/serverless";
import { startEmbedded, type EmbeddedDb } from "../../db/embedded.ts";
import { applyMigrations, listMigrations } from "../../db/migrate.ts";
import { withDb, type ArchiveConfig } from "../../party/archive/connection.ts";

neonConfig.webSocketConstructor = WebSocket as never;
const dir = mkdtempSync(join(tmpdir(), "kaiwa-db-unit-"));
let embedded: EmbeddedDb;
let config: ArchiveConfig;
before(async () => {
  embedded = await startEmbedded(dir);
  config = { url: "postgres://postgres:postgres@127.0.0.1:5432/postgres", wsProxy: `127.0.0.1:${embedded.bridge.port}` };
});
after(async () => {
  await embedded.stop();
  rmSync(dir, { recursive: true, force: true });
});

test("migrations apply in order, once; a second run applies nothing", async () => {
  const all = listMigrations().map((m) => m.version);
  assert.deepEqual(all.slice(0, 2), ["001_archive", "002_search_query_functions"]);
  assert.deepEqual(await withDb(config, (db) => applyMigrations(db)), all);
  assert.deepEqual(await withDb(config, (db) => applyMigrations(db)), []);
});

test("kaiwa_grams: bigrams of the normalised text; 既読 is one gram; query grams skip whitespace", async () => {
  const rows = await withDb(config, async (db) =>
    (await db.query("SELECT kaiwa_grams($1) AS a, kaiwa_query_grams($2) AS b, kaiwa_norm($3) AS n", ["既読がつかない", ["Ab", "ｃｄ"], "ＡＢＣ ｶﾅ"])).rows,
  );
  assert.deepEqual(rows[0]!.a, ["既読", "読が", "がつ", "つか", "かな", "ない"]);
  assert.deepEqual(rows[0]!.b, ["ab", "cd"]);
  assert.equal(rows[0]!.n, "abc カナ");
});

test("40 clients at once, 8 dropping mid-transaction: no statement crosses sessions, dropped work rolls back", async () => {
  await withDb(config, (db) => db.query("CREATE TABLE bridge_probe (k int PRIMARY KEY, v text)"));
  const before = { ...embedded.bridge.sessions };
  /** Clients whose echo matched: every one, the dropping ones too (they drop after the echo). */
  const echoed = new Set<number>();
  const clients = Array.from({ length: 40 }, (_, k) =>
    withDb(config, async (db) => {
      await db.query("BEGIN");
      await db.query("INSERT INTO bridge_probe VALUES ($1, $2)", [k, `v${k}`]);
      // Unnamed prepared statements: interleaved sessions would bind one client's parameters to another's.
      const echo = await db.query("SELECT $1::int AS k, $2::text AS v", [k, `v${k}`]);
      assert.deepEqual(echo.rows[0], { k, v: `v${k}` }, `client ${k}: echo of its own parameters`);
      echoed.add(k);
      if (k % 5 === 0) {
        (db as any).connection.stream.destroy(); // gone without COMMIT or Terminate
        throw new Error("dropped");
      }
      await db.query("COMMIT");
    }).then(
      () => "ok",
      (error: Error) => error.message,
    ),
  );
  const outcomes = await Promise.all(clients);
  // Exactly "dropped" for the dropping clients: any other failure (a wrong echo above) fails the test.
  outcomes.forEach((outcome, k) => assert.equal(outcome, k % 5 === 0 ? "dropped" : "ok", `client ${k}`));
  assert.deepEqual([...echoed].sort((a, b) => a - b), Array.from({ length: 40 }, (_, k) => k), "every client's echo matched");
  const rows = await withDb(config, async (db) => (await db.query("SELECT k FROM bridge_probe ORDER BY k")).rows.map((r) => r.k));
  assert.deepEqual(rows, Array.from({ length: 40 }, (_, k) => k).filter((k) => k % 5 !== 0), "committed rows only");
  assert.equal(embedded.bridge.sessions.maxConcurrent, 1, "PGlite never had two sessions at once");
  assert.ok(embedded.bridge.sessions.opened - before.opened >= 41);
});

test("search matches a message's file names too (migration 004); a non-participant and a deleted message find nothing", async () => {
  const { UPSERT_EVENTS, SEARCH } = await import("../../party/archive/sql.ts");
  const room = "dm:alice:bob";
  const file = { id: "f".repeat(24), name: "請求書_2026-12.pdf", type: "application/pdf", size: 1024 };
  const message = (seq: number, text: string, extra: object = {}) => ({ kind: "message", seq, ts: 1_000 + seq, author: { id: "alice", name: "Alice" }, clientId: `c${seq}`, text, ...extra });
  const search = (user: string, term: string) =>
    withDb(config, async (db) => (await db.query(SEARCH, [user, [term], term, null, null, null, null, 10, 0, null])).rows.map((r: any) => Number(r.seq)));
  await withDb(config, (db) => db.query(UPSERT_EVENTS, [room, JSON.stringify([message(1, "今月の分です", { attachments: [file] }), message(2, "ありがとう")])]));
  assert.deepEqual(await search("bob", "請求書"), [1], "the file's name matches");
  assert.deepEqual(await search("bob", "今月"), [1], "the text still matches");
  assert.deepEqual(await search("carol", "請求書"), [], "not hers to read");
  // Deleted: the tombstone keeps neither text nor files (PROTOCOL R33), so nothing matches any more.
  await withDb(config, (db) => db.query(UPSERT_EVENTS, [room, JSON.stringify([message(1, "", { deletedBy: 3 })])]));
  assert.deepEqual(await search("bob", "請求書"), []);
});
