/**
 * Archive drain rate and search latency (issue 6).
 *
 *   npm run bench:archive -- [--messages 100000] [--rooms 50] [--queries 200]      (PGlite)
 *   KAIWA_TEST_DB=postgres npm run bench:archive -- ...                             (Debian's PostgreSQL 15)
 *
 * 1. Drain: with the database stopped, `messages` are sent across `rooms` through a real `partykit dev`
 *    (every one durably acked), so the whole backlog waits in the rooms' outboxes. The database is started
 *    and the time until every room reports lag 0 gives rows/s (all rooms draining at once, as after an
 *    outage). The archive is then checked: exactly `messages` rows.
 * 2. Search: a user who joined every room runs a mix of Japanese and English queries (common, rare,
 *    two-character, multi-term, literal %) over HTTP `/archive/search` (worker + driver + bridge + SQL);
 *    p50/p95 are printed. The same SQL is also timed directly with index scans disabled, which is the
 *    no-index alternative (a substring scan of every row), to show what the bigram index buys.
 * Figures are printed, never asserted.
 */
import { parseArgs } from "node:util";
import WebSocket from "ws";
import { neonConfig } from "@neondatabase/serverless";
import { withDb } from "../party/archive/connection.ts";
import { DevServer, waitFor } from "../tests/helpers/dev-server.ts";
import { ArchiveDb } from "../tests/helpers/archive-db.ts";
import { archiveStats, driveRoom } from "../tests/helpers/archive-check.ts";
import { rawSocket } from "../tests/helpers/raw-socket.ts";
import { SEARCH } from "../party/archive/sql.ts";
import { queryTerms } from "../party/archive/snippet.ts";

const { values } = parseArgs({ options: { messages: { type: "string", default: "100000" }, rooms: { type: "string", default: "50" }, queries: { type: "string", default: "200" } } });
const messages = Number(values.messages);
const roomCount = Number(values.rooms);
const queryCount = Number(values.queries);
const perRoom = Math.ceil(messages / roomCount);

const JA = ["既読がつかない", "今日の会議は何時から？", "資料を共有します", "了解しました", "お疲れさまです", "明日までに確認します", "デプロイが失敗した", "バグを修正しました", "ランチに行きませんか", "週末の予定は？", "検索が遅い気がする", "リリースノートを書いた"];
const EN = ["deploy failed on staging", "the build is green", "can you review my PR", "meeting moved to 3pm", "lunch anyone?", "rollback done", "latency spiked to 50% over baseline", "ship it", "searching feels slow", "release notes are up"];
let seed = 42;
const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
const pick = <T>(list: T[]) => list[Math.floor(random() * list.length)]!;
const text = (room: number, i: number) => {
  const parts = Array.from({ length: 1 + Math.floor(random() * 3) }, () => (random() < 0.5 ? pick(JA) : pick(EN)));
  if (i === 7) parts.push("xylophone"); // rare: once per room
  return `${parts.join(" ")} #${room}-${i}`;
};

const db = new ArchiveDb();
await db.start();
const server = new DevServer({ vars: { ...db.vars, KAIWA_ARCHIVE_RETRY_BASE_MS: 100, KAIWA_ARCHIVE_RETRY_CAP_MS: 500 } });
await server.start();
const rooms = Array.from({ length: roomCount }, (_, i) => `bench-archive-${i}`);
try {
  // The reader joins every room first: a member (through the outbox) of all of them for the search phase.
  for (const room of rooms) {
    const socket = await rawSocket(server, room, { token: await server.token("reader"), session: "r" });
    await socket.next((f) => f.type === "welcome");
    socket.ws.close();
  }
  // Each join queued a membership row and armed a drain: wait until all were written.
  await waitFor(async () => (await Promise.all(rooms.map((r) => archiveStats(server, r)))).every((s) => s.members === 1), 120_000, "reader memberships");
  await db.stopDb();
  const sendStart = performance.now();
  await Promise.all(rooms.map((room, r) => driveRoom(server, room, `writer${r % 10}`, { sends: perRoom, edits: 0, deletes: 0, text: (i) => text(r, i) })));
  const sendMs = performance.now() - sendStart;
  console.log(`sent ${perRoom * roomCount} messages to ${roomCount} rooms in ${(sendMs / 1000).toFixed(1)} s with the database down (${Math.round((perRoom * roomCount) / (sendMs / 1000))} msgs/s acked)`);
  const lagBefore = (await Promise.all(rooms.map((r) => archiveStats(server, r)))).reduce((sum, s) => sum + s.lag, 0);
  await db.startDb();
  const drainStart = performance.now(); // the engine is up: from here on the time is the drain's
  await waitFor(async () => {
    await new Promise((resolve) => setTimeout(resolve, 2000)); // poll gently: 50 stats requests per round
    return (await Promise.all(rooms.map((r) => archiveStats(server, r)))).every((s) => s.lag === 0);
  }, 1_800_000, "the backlog to drain");
  const drainS = (performance.now() - drainStart) / 1000;
  const [{ n }] = (await db.query("SELECT count(*)::int AS n FROM archive_events WHERE room_id LIKE 'bench-archive-%'")) as [{ n: number }];
  console.log(`drain: ${lagBefore} rows backlog drained in ${drainS.toFixed(1)} s = ${Math.round(lagBefore / drainS)} rows/s (${db.kind}); archive holds ${n} rows`);

  const queries = ["既読", "会議", "デプロイ", "確認します", "お疲れ", "検索", "deploy", "review", "50%", "staging deploy", "ship", "xylophone", "release notes", "リリース"];
  const token = await server.token("reader");
  const http: number[] = [];
  const resultCounts = new Map<string, number>();
  for (let i = 0; i < queryCount; i++) {
    const q = queries[i % queries.length]!;
    const started = performance.now();
    const { status, body } = await server.fetchJson(`/archive/search?q=${encodeURIComponent(q)}&limit=20`, { token });
    http.push(performance.now() - started);
    if (status !== 200) throw new Error(`search ${q}: ${status} ${JSON.stringify(body)}`);
    resultCounts.set(q, body.results.length);
  }
  console.log(`search over HTTP (${queryCount} queries, limit 20): p50 ${pct(http, 50)} ms, p95 ${pct(http, 95)} ms, max ${pct(http, 100)} ms`);
  const perQuery = await timeSql(queries, false);
  const noIndex = await timeSql(queries, true);
  console.log("per query (SQL only, 5 runs each): query | matches | bigram GIN p50 ms | no index p50 ms");
  for (const q of queries) console.log(`  ${q} | ${perQuery.get(q)!.matches} | ${perQuery.get(q)!.p50} | ${noIndex.get(q)!.p50}`);
  if (process.env.KAIWA_BENCH_EXPLAIN) {
    if (process.env.KAIWA_BENCH_EXPLAIN === "analyze") await db.query("ANALYZE archive_events");
    for (const q of ["xylophone", "既読"]) {
      const plan = await db.query(`EXPLAIN ANALYZE ${SEARCH}`, ["reader", queryTerms(q, 8), q, null, null, null, null, 20, 0]);
      console.log(`plan for ${q}:\n${plan.map((r) => r["QUERY PLAN"]).join("\n")}`);
    }
  }
} catch (error) {
  console.error(error, "\n--- partykit dev log:\n", server.recentLog());
  process.exitCode = 1;
} finally {
  await server.stop();
  await db.stop();
}

async function timeSql(queries: string[], disableIndex: boolean): Promise<Map<string, { p50: number; matches: number }>> {
  neonConfig.webSocketConstructor = WebSocket as never;
  const config = { url: db.vars.KAIWA_DATABASE_URL!, wsProxy: db.vars.KAIWA_DB_WS_PROXY! };
  return withDb(config, async (conn) => {
    if (disableIndex) {
      await conn.query("SET enable_bitmapscan = off");
      await conn.query("SET enable_indexscan = off");
    }
    const out = new Map<string, { p50: number; matches: number }>();
    for (const q of queries) {
      const params = (limit: number) => ["reader", queryTerms(q, 8), q, null, null, null, null, limit, 0];
      const times: number[] = [];
      for (let i = 0; i < 5; i++) {
        const started = performance.now();
        await conn.query(SEARCH, params(20));
        times.push(performance.now() - started);
      }
      const counted = await conn.query(`SELECT count(*)::int AS n FROM (${SEARCH}) AS hits`, params(1_000_000));
      out.set(q, { p50: pct(times, 50), matches: counted.rows[0].n });
    }
    return out;
  }, 600_000);
}

function pct(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return Math.round(sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]! * 10) / 10;
}
