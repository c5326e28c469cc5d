/**
 * Search over the archive through the worker's `/archive/search` route: Japanese and English, literal `%`
 * and `_`, edits by their new text, deletions never, filters, ranking, paging, highlights, and never a
 * message from a room the caller does not belong to (membership enforced in SQL). Bad input: typed errors.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { DevServer } from "../helpers/dev-server.ts";
import { ArchiveDb } from "../helpers/archive-db.ts";
import { openWriter, waitDrained } from "../helpers/archive-check.ts";
import { rawSocket } from "../helpers/raw-socket.ts";

const db = new ArchiveDb();
let server: DevServer;
const DM = "dm:alice:bob";
const at: Record<string, { seq: number; ts: number }> = {};

before(async () => {
  await db.start();
  server = new DevServer({ vars: { ...db.vars, KAIWA_ARCHIVE_DELAY_MS: 50 } });
  await server.start();
  const alice = await openWriter(server, DM, "alice");
  const bob = await openWriter(server, DM, "bob");
  at.dmRead = await alice.send("既読がつかないんだけど、見た？");
  at.dmDeploy = await bob.send("deploy finished at 50% load");
  const team = { alice: await openWriter(server, "team", "alice"), carol: await openWriter(server, "team", "carol") };
  at.teamDeploy = await team.alice.send("Deploy failed on staging");
  at.teamRead = await team.carol.send("既読スルーされた…");
  at.rate = await team.carol.send("the error rate is 50% now");
  at.underscore = await team.alice.send("see file_name.txt");
  at.noUnderscore = await team.alice.send("see filexname.txt");
  at.wide = await team.carol.send("ＡＢＣ full width letters");
  at.triple = await team.alice.send("deploy deploy deploy today");
  at.edited = await team.carol.send("old wording here");
  await team.carol.edit(at.edited.seq, "new wording 改訂版");
  at.deleted = await team.carol.send("secret plan 削除予定");
  await team.carol.delete(at.deleted.seq);
  for (let i = 0; i < 5; i++) at[`page${i}`] = await team.alice.send(`paging probe number ${i}`);
  // The newest "deploy", and the lowest ranked (one match in a long text): rank is not recency.
  at.lateDeploy = await team.alice.send("a long note written last that mentions the deploy word exactly once among many others");
  const dave = await openWriter(server, "private-x", "dave");
  at.private = await dave.send("既読 deploy 50% file_name paging probe");
  // eve only joins the room (never posts): joining makes her a member too.
  const eve = await rawSocket(server, "lurk", { token: await server.token("eve"), session: "e1" });
  await eve.next((f) => f.type === "welcome");
  const frank = await openWriter(server, "lurk", "frank");
  at.lurk = await frank.send("lurkers can find this 既読 too");
  for (const w of [alice, bob, team.alice, team.carol, dave, frank]) w.close();
  eve.ws.close();
  for (const room of [DM, "team", "private-x", "lurk"]) await waitDrained(server, room);
});
after(async () => {
  await server?.stop();
  await db.stop();
});

async function search(user: string, params: Record<string, string | number>): Promise<{ status: number; body: any }> {
  const query = new URLSearchParams(Object.entries(params).map(([k, v]) => [k, String(v)]));
  return server.fetchJson(`/archive/search?${query}`, { token: await server.token(user) });
}

async function hits(user: string, params: Record<string, string | number>): Promise<string[]> {
  const { status, body } = await search(user, params);
  assert.equal(status, 200, JSON.stringify(body));
  return body.results.map((r: any) => `${r.room}#${r.seq}`);
}

const key = (room: string, name: string) => `${room}#${at[name]!.seq}`;

test("既読 finds 「既読がつかない」 and other rooms' matches only for their members", async () => {
  assert.deepEqual(new Set(await hits("alice", { q: "既読" })), new Set([key(DM, "dmRead"), key("team", "teamRead")]));
  assert.deepEqual(await hits("bob", { q: "既読" }), [key(DM, "dmRead")], "bob is not in team");
  assert.deepEqual(await hits("carol", { q: "既読" }), [key("team", "teamRead")], "carol is not in the DM");
  assert.deepEqual(await hits("dave", { q: "既読" }), [key("private-x", "private")]);
  assert.deepEqual(await hits("eve", { q: "既読" }), [key("lurk", "lurk")], "joining without posting is membership");
  assert.deepEqual(await hits("mallory", { q: "既読" }), [], "a stranger sees nothing");
  const { body } = await search("alice", { q: "既読", room: DM });
  const [hit] = body.results;
  assert.equal(hit.snippet, "既読がつかないんだけど、見た？");
  assert.deepEqual(hit.highlights, [[0, 2]]);
  assert.deepEqual(hit.author, { id: "alice", name: "ALICE" });
});

test("one-character and mixed Japanese queries; full-width letters match their ASCII form", async () => {
  assert.deepEqual(await hits("alice", { q: "改訂" }), [key("team", "edited")]);
  assert.deepEqual(await hits("carol", { q: "見" }), [], "見 is only in the DM, which carol is not in");
  assert.deepEqual(await hits("alice", { q: "見" }), [key(DM, "dmRead")]);
  assert.deepEqual(await hits("alice", { q: "abc" }), [key("team", "wide")]);
  assert.deepEqual(await hits("alice", { q: "ａｂｃ　ｆｕｌｌ" }), [key("team", "wide")], "full-width query and ideographic space");
});

test("English: case-insensitive, ranked by matches, every term required", async () => {
  const { status, body } = await search("alice", { q: "deploy" });
  assert.equal(status, 200, JSON.stringify(body));
  // The order itself: three matches first; of the single matches the shorter text ranks higher
  // ("Deploy failed on staging", 24 chars, then "deploy finished at 50% load", 27, then the long lateDeploy).
  // lateDeploy is the newest of all and comes last: ranked by score, not by time.
  assert.deepEqual(
    body.results.map((r: any) => `${r.room}#${r.seq}`),
    [key("team", "triple"), key("team", "teamDeploy"), key(DM, "dmDeploy"), key("team", "lateDeploy")],
    "ranked order",
  );
  const scores: number[] = body.results.map((r: any) => r.score);
  assert.ok(scores[0]! > scores[1]! && scores[1]! > scores[2]! && scores[2]! > scores[3]!, `scores strictly falling: ${scores}`);
  assert.deepEqual(await hits("alice", { q: "deploy staging" }), [key("team", "teamDeploy")]);
  assert.deepEqual(await hits("alice", { q: "deploy nowhere" }), []);
});

test("% and _ match only themselves", async () => {
  assert.deepEqual(new Set(await hits("alice", { q: "50%" })), new Set([key(DM, "dmDeploy"), key("team", "rate")]));
  assert.deepEqual(await hits("alice", { q: "e_n" }), [key("team", "underscore")], "_ is not a wildcard");
  assert.deepEqual(await hits("alice", { q: "%" }).then((h) => h.length), 2);
  assert.deepEqual(await hits("alice", { q: "%_%" }), []);
});

test("edited messages are found by their new text, deleted ones never", async () => {
  assert.deepEqual(await hits("carol", { q: "old wording" }), []);
  const { body } = await search("carol", { q: "new wording" });
  assert.deepEqual(body.results.map((r: any) => [r.seq, r.edited]), [[at.edited!.seq, true]]);
  assert.deepEqual(await hits("carol", { q: "secret plan" }), []);
  assert.deepEqual(await hits("carol", { q: "削除" }), []);
});

test("filters: room, sender, time range", async () => {
  assert.deepEqual(await hits("alice", { q: "既読", room: "team" }), [key("team", "teamRead")]);
  assert.deepEqual(await hits("alice", { q: "既読", room: "private-x" }), [], "a room filter cannot widen access");
  assert.deepEqual(await hits("alice", { q: "50%", sender: "carol" }), [key("team", "rate")]);
  assert.deepEqual(await hits("alice", { q: "deploy", from: at.teamDeploy!.ts, to: at.triple!.ts }), [key("team", "teamDeploy")]);
  assert.deepEqual(await hits("alice", { q: "deploy", to: at.dmDeploy!.ts }), []);
});

test("paging: every match once across pages, in rank order", async () => {
  const seen: string[] = [];
  let cursor: string | null = null;
  do {
    const { status, body }: { status: number; body: any } = await search("alice", { q: "probe", limit: 2, ...(cursor ? { cursor } : {}) });
    assert.equal(status, 200);
    assert.ok(body.results.length <= 2);
    seen.push(...body.results.map((r: any) => `${r.room}#${r.seq}`));
    cursor = body.nextCursor;
  } while (cursor);
  // Equal scores (same text length, one match each): rank order is then newest first, seq ascending on
  // an equal ts (the SQL's ORDER BY score DESC, ts DESC, room, seq). Compared as a sequence, not a set.
  const ranked = [0, 1, 2, 3, 4].map((i) => at[`page${i}`]!).sort((a, b) => b.ts - a.ts || a.seq - b.seq).map((p) => `team#${p.seq}`);
  assert.deepEqual(seen, ranked, "pages concatenated are the rank order");
  assert.deepEqual(seen, await hits("alice", { q: "probe", limit: 50 }), "the same order as one unpaged answer");
  assert.equal(seen.length, 5, "no result twice");
});

test("bad input: typed errors, no stack trace, nothing injected", async () => {
  const expectError = async (params: Record<string, string | number>, status: number, code: string) => {
    const response = await search("alice", params);
    assert.equal(response.status, status, JSON.stringify(response.body));
    assert.deepEqual(Object.keys(response.body.error).sort(), ["code", "message", "retryable"]);
    assert.equal(response.body.error.code, code);
    assert.doesNotMatch(response.body.error.message, /\bat .*\.(ts|js)/);
  };
  await expectError({}, 400, "bad_frame");
  await expectError({ q: "   " }, 400, "bad_frame");
  await expectError({ q: "x".repeat(201) }, 400, "bad_frame");
  await expectError({ q: "deploy", limit: 1000 }, 400, "bad_frame");
  await expectError({ q: "deploy", limit: "ten" }, 400, "bad_frame");
  await expectError({ q: "deploy", cursor: "-5" }, 400, "bad_frame");
  await expectError({ q: "deploy", cursor: "999999" }, 400, "bad_frame");
  await expectError({ q: "deploy", from: 10, to: 5 }, 400, "bad_frame");
  await expectError({ q: "deploy", sender: "no spaces allowed" }, 400, "bad_frame");
  await expectError({ q: "deploy", select: "*" }, 400, "bad_frame");
  const anonymous = await server.fetchJson("/archive/search?q=deploy");
  assert.equal(anonymous.status, 401);
  assert.equal(anonymous.body.error.code, "unauthorized");
  for (const q of ["'; DROP TABLE archive_events; --", "\\", "' OR '1'='1", "$1", "既読' OR 1=1 --"]) {
    assert.deepEqual(await hits("mallory", { q }), [], `q=${q}`);
  }
  const [{ n }] = (await db.query("SELECT count(*)::int AS n FROM archive_events")) as [{ n: number }];
  assert.ok(n > 0, "the table is still there");
});

test("with the database down, search answers archive_unavailable (retryable)", async () => {
  await db.stopDb();
  try {
    const { status, body } = await search("alice", { q: "deploy" });
    assert.equal(status, 503);
    assert.equal(body.error.code, "archive_unavailable");
    assert.equal(body.error.retryable, true);
  } finally {
    await db.startDb();
  }
});
