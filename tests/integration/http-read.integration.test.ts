/**
 * The HTTP read path and REST posting on a real `partykit dev` (PROTOCOL R40-R44): pollers, REST posters and
 * socket members share one gapless log; every new read path refuses whoever may not read; ETags answer 304;
 * a deletion leaves `latest` and the page URL `latest` names at once; bad posts get typed errors, change
 * nothing, and the next valid post gets lastSeq + 1.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { KaiwaLogPoller } from "../../client/log-poller.ts";
import { LIMITS, type RoomEvent } from "../../party/protocol/index.ts";
import { DevServer, sleep, waitFor } from "../helpers/dev-server.ts";
import { openClient, sendAll, type TestClient } from "../helpers/clients.ts";
import { assertGapless, assertRoomConsistent } from "../helpers/log-check.ts";

let server: DevServer;
const opened: TestClient[] = [];

before(async () => {
  server = new DevServer();
  await server.start();
});

after(async () => {
  for (const client of opened) client.room.close();
  await server?.stop();
});

const operator = () => server.token("ops", { name: "Ops", operator: true });

async function patchSettings(room: string, patch: Record<string, unknown>) {
  const answer = await server.fetchJson(`/parties/room/${room}/settings`, { method: "PATCH", token: await operator(), body: JSON.stringify(patch) });
  assert.equal(answer.status, 200, JSON.stringify(answer.body));
  return answer.body.settings;
}

async function post(room: string, user: string, body: unknown, raw?: string) {
  return server.fetchJson(`/parties/room/${room}/messages`, { method: "POST", token: await server.token(user), body: raw ?? JSON.stringify(body), headers: { "content-type": "application/json" } });
}

async function lastSeqOf(room: string): Promise<number> {
  const stats = await server.fetchJson(`/parties/room/${room}/stats`, { token: await operator() });
  return stats.body.lastSeq;
}

async function get(path: string, headers: Record<string, string> = {}) {
  return fetch(server.url + path, { headers, redirect: "manual" });
}

function poller(room: string, user?: string) {
  return new KaiwaLogPoller({ baseUrl: server.url, room, from: "start", ...(user ? { token: () => server.token(user) } : {}) });
}

test("PROTOCOL R41, R44: pollers, REST posters and socket members see the same gapless log", async () => {
  const room = "http-mixed";
  const alice = await openClient(server, room, "alice");
  const bob = await openClient(server, room, "bob");
  opened.push(alice, bob);
  // Three pollers: one polling often, one slowly (more than a page arrives between its polls, so it reads
  // sealed pages), and one that starts after 250 events (it reads pages 1 and 2 first).
  const fast = { poller: poller(room, "carol"), events: [] as RoomEvent[] };
  const slow = { poller: poller(room, "dave"), events: [] as RoomEvent[] };
  let polling = true;
  const loop = async (who: typeof fast, everyMs: number) => {
    while (polling) {
      who.events.push(...(await who.poller.poll()));
      await sleep(everyMs);
    }
  };
  const loops = [loop(fast, 50), loop(slow, 1500)];
  const restAcks = new Map<string, number>();
  const postMany = async (user: string, count: number) => {
    for (let i = 0; i < count; i++) {
      const clientId = `${user}-rest-${i}`;
      const answer = await post(room, user, { clientId, text: `${user} over HTTP ${i}` });
      assert.equal(answer.status, 200, JSON.stringify(answer.body));
      restAcks.set(clientId, answer.body.seq);
    }
  };
  await Promise.all([
    sendAll(alice, Array.from({ length: 150 }, (_, i) => `alice ${i}`)),
    sendAll(bob, Array.from({ length: 100 }, (_, i) => `bob ${i}`)),
    postMany("erin", 60),
    postMany("frank", 60),
  ]);
  const late = { poller: poller(room, "gina"), events: [] as RoomEvent[] };
  loops.push(loop(late, 200));
  const lastSeq = await lastSeqOf(room);
  assert.equal(lastSeq, 370);
  await waitFor(() => [alice, bob].every((c) => c.observed.events.length >= lastSeq) && [fast, slow, late].every((p) => p.poller.lastSeq >= lastSeq), 30_000, "everyone at lastSeq");
  polling = false;
  await Promise.all(loops);
  assertRoomConsistent([alice.observed, bob.observed], lastSeq);
  const reference = alice.observed.events.map((event) => `${event.seq}/${event.author.id}/${event.clientId}`);
  for (const [name, who] of Object.entries({ fast, slow, late })) {
    assertGapless(who.events, lastSeq, name);
    assert.deepEqual(who.events.map((event) => `${event.seq}/${event.author.id}/${event.clientId}`), reference, `${name} saw another log`);
  }
  // Every REST post is in the log at the seq it was answered with, once (PROTOCOL I3).
  for (const [clientId, seq] of restAcks) assert.equal(alice.observed.events[seq - 1]!.clientId, clientId);
  // The slow poller read sealed pages (it missed more than latest shows), the late one too.
  const stats = (await server.fetchJson(`/parties/room/${room}/stats`, { token: await operator() })).body.httpLog;
  assert.ok(stats.pages >= 2, JSON.stringify(stats));
  assert.ok(stats.notModified > 0, `the fast poller's unchanged polls were 304s: ${JSON.stringify(stats)}`);
});

test("PROTOCOL R40: anonymous readers of a room that is not public, non-members, outsiders of a DM, banned users and bad tokens are refused on every read path", async () => {
  const room = "http-private";
  for (let i = 0; i < 100; i++) assert.equal((await post(room, "alice", { clientId: `p${i}`, text: `private ${i}` })).status, 200);
  const latest = await (await get(`/parties/room/${room}/log/latest`, { authorization: `Bearer ${await server.token("alice")}` })).json();
  const paths = (r: string, epoch: string) => [`/parties/room/${r}/log/latest`, `/parties/room/${r}/log/page/1`, `/parties/room/${r}/log/page/1/${epoch}/0`];
  const refused = async (path: string, headers: Record<string, string>, status: number, code: string) => {
    const response = await get(path, headers);
    const body = await response.json();
    assert.equal(response.status, status, `${path}: ${JSON.stringify(body)}`);
    assert.equal(body.error.code, code, path);
    assert.equal(response.headers.get("cache-control"), "no-store", `${path}: a refusal is never cached`);
    assert.ok(!JSON.stringify(body).includes("private 1"), path);
  };
  // Anonymous: 401, also with a forged identity header (PROTOCOL I7); a forged or expired token is
  // refused, never taken as anonymous.
  for (const path of paths(room, latest.epoch)) {
    await refused(path, {}, 401, "unauthorized");
    await refused(path, { "x-kaiwa-identity": JSON.stringify({ sub: "alice", name: "Alice" }) }, 401, "unauthorized");
    await refused(path, { authorization: "Bearer not-a-token" }, 401, "unauthorized");
    await refused(`${path}?token=${await server.token("alice", { expiresIn: -60 })}`, {}, 401, "token_expired");
  }
  // A member reads all three.
  const alice = { authorization: `Bearer ${await server.token("alice")}` };
  assert.equal((await get(paths(room, latest.epoch)[0]!, alice)).status, 200);
  assert.equal((await get(paths(room, latest.epoch)[1]!, alice)).status, 302);
  assert.equal((await get(paths(room, latest.epoch)[2]!, alice)).status, 200);
  // A banned user is refused (PROTOCOL R40: as the history rules say).
  const ban = await server.fetchJson(`/parties/room/${room}/admin/moderate`, { method: "POST", token: await operator(), body: JSON.stringify({ user: "mallory", action: "ban", durationMs: 600_000 }) });
  assert.equal(ban.status, 200, JSON.stringify(ban.body));
  for (const path of paths(room, latest.epoch)) await refused(path, { authorization: `Bearer ${await server.token("mallory")}` }, 403, "banned");
  // ...and so is every other HTTP read of the room's content: history, a thread, the pins (PROTOCOL R40).
  for (const path of [`/parties/room/${room}/history`, `/parties/room/${room}/thread?parent=1`, `/parties/room/${room}/pins`]) {
    const response = await get(path, { authorization: `Bearer ${await server.token("mallory")}` });
    const body = await response.json();
    assert.equal(response.status, 403, `${path}: ${JSON.stringify(body)}`);
    assert.equal(body.error.code, "banned", path);
    assert.ok(!JSON.stringify(body).includes("private 1"), path);
  }
  assert.equal((await get(`/parties/room/${room}/history`, alice)).status, 200, "the others still read it");
  // A group's non-member, and an outsider of a DM (operators included), are refused.
  const owner = await openClient(server, "g:http-club", "owner");
  opened.push(owner);
  await owner.room.createGroup("Club", ["member1"]);
  await owner.room.send("club secret");
  for (const path of paths("g:http-club", "e")) await refused(path, { authorization: `Bearer ${await server.token("outsider")}` }, 403, "not_member");
  assert.equal((await get(paths("g:http-club", "e")[0]!, { authorization: `Bearer ${await server.token("member1")}` })).status, 200);
  // Posting is refused to them the same way (PROTOCOL R44), and changes nothing.
  const clubBefore = await lastSeqOf("g:http-club");
  const outsiderPost = await post("g:http-club", "outsider", { clientId: "o1", text: "let me in" });
  assert.equal(outsiderPost.status, 403);
  assert.equal(outsiderPost.body.error.code, "not_member");
  const dmOutsiderPost = await post("dm:alice:bob", "carol", { clientId: "o2", text: "hello?" });
  assert.equal(dmOutsiderPost.status, 403);
  assert.equal(dmOutsiderPost.body.error.code, "forbidden");
  assert.equal(await lastSeqOf("g:http-club"), clubBefore);
  assert.equal((await post("dm:alice:bob", "alice", { clientId: "d1", text: "dm text" })).status, 200);
  for (const user of ["carol", "ops"]) {
    const token = user === "ops" ? await operator() : await server.token(user);
    for (const path of paths("dm:alice:bob", "e")) await refused(path, { authorization: `Bearer ${token}` }, 403, "forbidden");
  }
  // A DM is never public; anonymous reads stay refused.
  const dmPublic = await server.fetchJson(`/parties/room/dm:alice:bob/settings`, { method: "PATCH", token: await operator(), body: JSON.stringify({ public: true }) });
  assert.equal(dmPublic.status, 400);
  assert.equal(dmPublic.body.error.code, "bad_frame");
  await refused(paths("dm:alice:bob", "e")[0]!, {}, 401, "unauthorized");
  // Anonymous posting: 401, nothing stored.
  const anonymousPost = await fetch(`${server.url}/parties/room/${room}/messages`, { method: "POST", body: JSON.stringify({ clientId: "anon", text: "hi" }) });
  assert.equal(anonymousPost.status, 401);
  assert.equal(await lastSeqOf(room), 101);
  // Made public: anyone reads without a token, and shared caches may keep it.
  await patchSettings(room, { public: true });
  const open = await get(paths(room, latest.epoch)[0]!);
  assert.equal(open.status, 200);
  assert.equal(open.headers.get("cache-control"), "public, max-age=1");
  // Malformed log paths and other methods: typed, not cached.
  await refused(`/parties/room/${room}/log/page/0`, {}, 404, "not_found");
  await refused(`/parties/room/${room}/log/nothing`, {}, 404, "not_found");
  const put = await fetch(`${server.url}/parties/room/${room}/log/latest`, { method: "DELETE", headers: alice });
  assert.equal(put.status, 405);
});

test("PROTOCOL R41, R42: ETags and 304s, page redirects, immutable sealed pages, and the caching headers of a public room", async () => {
  const room = "http-etag";
  await patchSettings(room, { public: true, pollIntervalMs: 2500 });
  for (let i = 0; i < 105; i++) assert.equal((await post(room, "alice", { clientId: `e${i}`, text: `etag ${i}` })).status, 200);
  const first = await get(`/parties/room/${room}/log/latest`);
  assert.equal(first.status, 200);
  assert.equal(first.headers.get("cache-control"), "public, max-age=2");
  const etag = first.headers.get("etag")!;
  const doc = await first.json();
  assert.equal(doc.lastSeq, 105);
  assert.equal(doc.pollIntervalMs, 2500);
  assert.equal(doc.openPage, 2);
  assert.deepEqual(doc.events.map((e: RoomEvent) => e.seq), Array.from({ length: 100 }, (_, i) => i + 6));
  assert.deepEqual(doc.pages.map((p: { page: number; version: number }) => [p.page, p.version]), [[1, 0]]);
  const again = await get(`/parties/room/${room}/log/latest`, { "if-none-match": etag });
  assert.equal(again.status, 304);
  assert.equal(again.headers.get("etag"), etag);
  assert.equal(await again.text(), "");
  assert.equal((await get(`/parties/room/${room}/log/latest`, { "if-none-match": `"other", W/${etag}` })).status, 304);
  // A new event: a new ETag, and the old one no longer matches.
  await post(room, "alice", { clientId: "e-next", text: "next" });
  const changed = await get(`/parties/room/${room}/log/latest`, { "if-none-match": etag });
  assert.equal(changed.status, 200);
  assert.notEqual(changed.headers.get("etag"), etag);
  // The page redirect, then the immutable page with its own ETag.
  const redirect = await get(`/parties/room/${room}/log/page/1`);
  assert.equal(redirect.status, 302);
  assert.equal(redirect.headers.get("cache-control"), "public, max-age=2");
  assert.equal(redirect.headers.get("location"), doc.pages[0].url);
  const page = await get(doc.pages[0].url);
  assert.equal(page.status, 200);
  assert.equal(page.headers.get("cache-control"), "public, max-age=31536000, immutable");
  const pageDoc = await page.json();
  assert.deepEqual([pageDoc.page, pageDoc.from, pageDoc.through, pageDoc.version, pageDoc.events.length], [1, 1, 100, 0, 100]);
  assert.equal((await get(doc.pages[0].url, { "if-none-match": page.headers.get("etag")! })).status, 304);
  // An unsealed page, a version from the future, another epoch: 404, never cached.
  for (const path of [`/parties/room/${room}/log/page/2`, `/parties/room/${room}/log/page/1/${doc.epoch}/999`, `/parties/room/${room}/log/page/1/otherEpoch/0`]) {
    const response = await get(path);
    assert.equal(response.status, 404, path);
    assert.equal(response.headers.get("cache-control"), "no-store", path);
  }
  // Not public: the same shapes, private.
  await patchSettings(room, { public: false });
  const privately = await get(`/parties/room/${room}/log/latest`, { authorization: `Bearer ${await server.token("alice")}` });
  assert.equal(privately.headers.get("cache-control"), "private, max-age=2");
  assert.equal((await get(doc.pages[0].url, { authorization: `Bearer ${await server.token("alice")}` })).headers.get("cache-control"), "private, max-age=31536000, immutable");
});

test("PROTOCOL R43: a deleted message leaves latest and the page URL latest names at once, edits of it included; the old version redirects", async () => {
  const room = "http-moderation";
  await patchSettings(room, { public: true });
  const alice = await openClient(server, room, "alice");
  opened.push(alice);
  const secret = await alice.room.send("the secret 12345");
  const edited = await alice.room.edit(secret.seq, "the edited secret 67890");
  for (let i = 0; i < 150; i++) await post(room, "bob", { clientId: `m${i}`, text: `filler ${i}` });
  const before = await (await get(`/parties/room/${room}/log/latest`)).json();
  const oldUrl = before.pages.find((p: { page: number }) => p.page === 1).url;
  assert.ok((await (await get(oldUrl)).text()).includes("67890"));
  const deletion = await server.fetchJson(`/parties/room/${room}/admin/delete`, { method: "POST", token: await operator(), body: JSON.stringify({ target: secret.seq }) });
  assert.equal(deletion.status, 200);
  const after = await get(`/parties/room/${room}/log/latest`);
  const afterText = await after.text();
  assert.ok(!afterText.includes("12345") && !afterText.includes("67890"), "latest still shows the deleted text");
  const doc = JSON.parse(afterText);
  const named = doc.pages.find((p: { page: number }) => p.page === 1);
  assert.equal(named.version, deletion.body.seq, "page 1's version is the deletion");
  assert.notEqual(named.url, oldUrl);
  const page = await (await get(named.url)).json();
  assert.ok(!JSON.stringify(page).includes("12345") && !JSON.stringify(page).includes("67890"));
  assert.equal(page.events[secret.seq - 1].deletedBy, deletion.body.seq);
  assert.equal(page.events[edited.seq - 1].text, "", "the edit event's text went with the deletion");
  // The old URL now redirects to the current version (for a reader following an older latest).
  const stale = await get(oldUrl);
  assert.equal(stale.status, 302);
  assert.equal(stale.headers.get("location"), named.url);
  assert.equal(stale.headers.get("cache-control"), "public, max-age=1");
});

test("PROTOCOL R44: bad posts get typed errors and change nothing; the next valid post gets lastSeq + 1", async () => {
  const room = "http-posts";
  let expected = 0;
  const accepted = async (user = "alice") => {
    const answer = await post(room, user, { clientId: `ok-${user}-${expected + 1}`, text: "valid" });
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    assert.equal(answer.body.seq, ++expected, "the next valid post takes lastSeq + 1");
    assert.equal(typeof answer.body.ts, "number");
  };
  const typed = async (answer: { status: number; body: any }, status: number, code: string, what: string) => {
    assert.equal(answer.status, status, `${what}: ${JSON.stringify(answer.body)}`);
    assert.equal(answer.body.error.code, code, what);
    assert.equal(typeof answer.body.error.retryable, "boolean", what);
    assert.equal(await lastSeqOf(room), expected, `${what} changed the log`);
  };
  await accepted();
  // Malformed and oversized bodies.
  await typed(await post(room, "alice", undefined, "{not json"), 400, "bad_frame", "not JSON");
  await typed(await post(room, "alice", { text: "no clientId" }), 400, "bad_frame", "no clientId");
  await typed(await post(room, "alice", { clientId: "bad id!", text: "x" }), 400, "bad_frame", "a clientId with spaces");
  await typed(await post(room, "alice", { clientId: "n1", text: 42 }), 400, "bad_frame", "text not a string");
  await typed(await post(room, "alice", { clientId: "n2", text: "x".repeat(LIMITS.maxFrameBytes) }), 413, "frame_too_large", "over a frame's bytes");
  await typed(await post(room, "alice", { clientId: "n3", text: "x".repeat(LIMITS.maxRequestBodyBytes + 10) }), 413, "frame_too_large", "over the worker's body bound");
  await typed(await post(room, "alice", { clientId: "n4", text: "x".repeat(LIMITS.maxTextChars + 1) }), 400, "text_too_long", "too long");
  await typed(await post(room, "alice", { clientId: "n5", text: "   " }), 400, "text_empty", "blank");
  await accepted();
  // A retry gets the original answer; the same clientId with other text is refused.
  const original = await post(room, "alice", { clientId: "same", text: "once" });
  expected++;
  const retry = await post(room, "alice", { clientId: "same", text: "once" });
  assert.deepEqual(retry.body, { ...original.body, duplicate: true });
  await typed(await post(room, "alice", { clientId: "same", text: "twice" }), 409, "clientid_reused", "clientId reuse with other text");
  // The same clientId from another user is another message.
  await accepted("bob");
  const bobSame = await post(room, "bob", { clientId: "same", text: "bob's own" });
  assert.equal(bobSame.body.seq, ++expected);
  // Banned and muted users.
  const moderate = async (user: string, action: string) => {
    const answer = await server.fetchJson(`/parties/room/${room}/admin/moderate`, { method: "POST", token: await operator(), body: JSON.stringify({ user, action, ...(action === "ban" || action === "mute" ? { durationMs: 600_000 } : {}) }) });
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    expected++; // moderation is an event (PROTOCOL I1)
  };
  await moderate("mallory", "ban");
  await typed(await post(room, "mallory", { clientId: "b1", text: "banned words" }), 403, "banned", "banned");
  await moderate("mute-me", "mute");
  await typed(await post(room, "mute-me", { clientId: "m1", text: "muted words" }), 403, "muted", "muted");
  await accepted();
  // Slow mode: a second post within the window is refused with retryAfterMs; operators are exempt.
  await patchSettings(room, { slowModeMs: 60_000 });
  await accepted("slowpoke");
  const slow = await post(room, "slowpoke", { clientId: "s2", text: "too soon" });
  await typed(slow, 429, "slow_mode", "slow mode");
  assert.ok(slow.body.error.retryAfterMs > 0);
  await patchSettings(room, { slowModeMs: 0 });
  // The per-user message rate (PROTOCOL R18): a burst of 2, then refused with Retry-After.
  await patchSettings(room, { messageBurst: 2, messagesPerSecond: 1 });
  await accepted("burst");
  await accepted("burst");
  const response = await fetch(`${server.url}/parties/room/${room}/messages`, { method: "POST", headers: { authorization: `Bearer ${await server.token("burst")}` }, body: JSON.stringify({ clientId: "r3", text: "over" }) });
  const over = { status: response.status, body: await response.json() };
  await typed(over, 429, "rate_limited", "over the message rate");
  assert.ok(over.body.error.retryAfterMs > 0);
  assert.ok(Number(response.headers.get("retry-after")) >= 1);
  // A retry of a stored post is free (it is not a new message).
  const free = await post(room, "burst", { clientId: `ok-burst-${expected}`, text: "valid" });
  assert.equal(free.status, 200);
  assert.equal(free.body.duplicate, true);
  await patchSettings(room, { messageBurst: 30, messagesPerSecond: 10 });
  await accepted();
});

test("PROTOCOL R42: versions follow from the stored log: a restarted room names the same page URLs, and they still answer", async () => {
  const room = "http-moderation"; // moderated above: page 1 has a version > 0
  const before = await (await get(`/parties/room/${room}/log/latest`)).json();
  assert.ok(before.pages.some((page: { version: number }) => page.version > 0));
  const body = await (await get(before.pages.at(-1).url)).text();
  await server.restart();
  const after = await (await get(`/parties/room/${room}/log/latest`)).json();
  assert.deepEqual(after.pages, before.pages);
  assert.equal(after.epoch, before.epoch);
  const again = await get(before.pages.at(-1).url);
  assert.equal(again.status, 200);
  assert.equal(await again.text(), body, "a sealed page's body is the same after a restart: safe to cache forever");
});
