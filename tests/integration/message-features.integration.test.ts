/**
 * Reactions, replies, threads, pins and mentions (issue 19) against a real `partykit dev` with real typed
 * clients (KaiwaRoom over partysocket) and raw sockets: exact reaction counts on every client and in
 * history after a concurrent burst, refusals that change nothing (and the next command gets lastSeq + 1),
 * quotes that follow edits and deletions, threads and pins read back after a restart, non-members refused
 * on every read path, and the frames a burst of 1,000 reactions costs each member.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import WebSocket from "ws";
import { KaiwaError, KaiwaInbox } from "../../client/index.ts";
import { KaiwaAdmin } from "../../client/admin.ts";
import { ownValue, type MessageEvent, type RoomEvent } from "../../party/protocol/index.ts";
import { DevServer, waitFor } from "../helpers/dev-server.ts";
import { openClient, type TestClient } from "../helpers/clients.ts";
import { rawSocket, type RawSocket } from "../helpers/raw-socket.ts";
import { assertGapless } from "../helpers/log-check.ts";

const GROUP = "g:features";
const MEMBERS = Array.from({ length: 50 }, (_, i) => `u${String(i + 1).padStart(2, "0")}`);
const OWNER = MEMBERS[0]!;
const EMOJI = Array.from({ length: 20 }, (_, i) => `:e${i}:`);
// The per-user message rate (PROTOCOL R18) is lifted: each member fires 20 reactions at once here.
const server = new DevServer({ vars: { KAIWA_MESSAGES_PER_SECOND: 0 } });
const clients = new Map<string, TestClient>();
let epoch = "";

before(async () => {
  await server.start();
});
after(async () => {
  for (const c of clients.values()) c.room.close();
  await server.stop();
});

/** A member's client, replaying the group from seq 0 so its events are the whole log. */
async function member(user: string): Promise<TestClient> {
  const client = await openClient(server, GROUP, user, epoch ? { position: { epoch, lastSeq: 0 } } : {});
  clients.set(user, client);
  return client;
}
const room = (user: string) => clients.get(user)!.room;
const lastSeqOf = (user: string) => room(user).position!.lastSeq;
async function refusedWith(promise: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(promise, (e: KaiwaError) => e.code === code);
}
/** PROTOCOL I8: after a refusal, the next valid command gets exactly the next seq. */
async function nextGetsNextSeq(user: string): Promise<void> {
  const before = lastSeqOf(OWNER);
  const ack = await room(user).send(`after a refusal ${before}`);
  assert.equal(ack.seq, before + 1, "the next valid command after a refusal gets lastSeq + 1");
  await waitFor(() => lastSeqOf(OWNER) >= ack.seq, 10_000, "owner saw it");
}
async function memberSocket(user: string, session: string): Promise<RawSocket> {
  const socket = await rawSocket(server, GROUP, { token: await server.token(user), session });
  await socket.next((f) => f.type === "welcome");
  return socket;
}

describe("reactions, replies, threads, pins and mentions in a group", () => {
  it("sets up a 50-member group whose members replay it from seq 0", async () => {
    const owner = await member(OWNER);
    await owner.room.createGroup("Features", MEMBERS.slice(1));
    epoch = owner.room.position!.epoch;
    for (let i = 1; i < MEMBERS.length; i += 25) await Promise.all(MEMBERS.slice(i, i + 25).map(member));
    const popular = await room(OWNER).send("react to me");
    assert.equal(popular.seq, 2);
  });

  it("PROTOCOL R20: 1,000 concurrent reactions from 50 users end with exact counts on every client and in history, coalesced into few frames", async () => {
    const observer = await memberSocket(MEMBERS[1]!, "frame-counter");
    const framesBefore = observer.frames.length;
    const start = lastSeqOf(OWNER);
    const startedAt = Date.now();
    await Promise.all(MEMBERS.map((user) => Promise.all(EMOJI.map((emoji) => room(user).react(2, emoji)))));
    const elapsedMs = Date.now() - startedAt;
    const end = start + MEMBERS.length * EMOJI.length;
    await observer.next((f) => f.type === "events" && f.events.some((e: RoomEvent) => e.seq === end), 30_000);
    const frames = observer.frames.slice(framesBefore).filter((f) => f.type === "events");
    const reactionEvents = frames.reduce((n, f) => n + f.events.filter((e: RoomEvent) => e.kind === "reaction").length, 0);
    assert.equal(reactionEvents, 1000);
    console.log(`# 1,000 reactions on one message: ${frames.length} events frames per member in ${elapsedMs} ms (${Math.round((frames.length * 1000) / elapsedMs)} frames/s per member, ${Math.round((frames.length * MEMBERS.length * 1000) / elapsedMs)}/s to the group), against 1,000 per member (${Math.round((1000 * 1000) / elapsedMs)}/s, ${Math.round((1000 * MEMBERS.length * 1000) / elapsedMs)}/s to the group) for one frame per reaction`);
    assert.ok(frames.length <= 200, `a burst is carried in group-commit batches, not one frame per reaction (${frames.length} frames)`);
    observer.ws.close();

    // Every client: the same exact counts, and its own emoji as "mine".
    await waitFor(() => MEMBERS.every((user) => lastSeqOf(user) >= end), 30_000, "every member saw the burst");
    for (const user of MEMBERS) {
      const seen = room(user).reactions(2);
      assert.deepEqual(seen.counts, Object.fromEntries(EMOJI.map((e) => [e, 50])), `${user}'s counts`);
      assert.deepEqual([...seen.mine].sort(), [...EMOJI].sort(), `${user}'s own emoji`);
    }
    // Some take theirs back; history then shows the exact counts and each reader's own set.
    await Promise.all(MEMBERS.slice(0, 10).map((user) => room(user).unreact(2, ":e0:")));
    const page = await room(MEMBERS[5]!).history({ before: 3, limit: 1 });
    const record = page.events[0] as MessageEvent;
    assert.equal(record.reactions?.[":e0:"], 40);
    assert.equal(record.reactions?.[":e1:"], 50);
    assert.equal(page.mine["2"]?.includes(":e0:"), false, "u06 took :e0: back");
    const other = await room(MEMBERS[30]!).history({ before: 3, limit: 1 });
    assert.equal(other.mine["2"]?.includes(":e0:"), true, "u31 still has it");
    const http = await server.fetchJson(`/parties/room/${GROUP}/history?before=3&limit=1`, { token: await server.token(MEMBERS[2]!) });
    assert.equal(http.body.events[0].reactions[":e0:"], 40);
    await waitFor(() => MEMBERS.every((user) => room(user).reactions(2).counts[":e0:"] === 40), 10_000, "live counts everywhere");
  });

  it("PROTOCOL R20: a reaction removed twice or by someone else, a 21st emoji, or one on a deleted message changes nothing", async () => {
    const before = room(OWNER).reactions(2).counts;
    await refusedWith(room(MEMBERS[0]!).unreact(2, ":e0:"), "no_change"); // u01 already took it back
    await refusedWith(room(MEMBERS[0]!).unreact(2, ":nobody-has-this:"), "no_change");
    await refusedWith(room(MEMBERS[1]!).react(2, ":e1:"), "no_change");
    await refusedWith(room(MEMBERS[1]!).react(2, ":twenty-first:"), "limit_reached");
    const doomed = await room(MEMBERS[3]!).send("soon deleted");
    await room(MEMBERS[3]!).delete(doomed.seq);
    await refusedWith(room(MEMBERS[4]!).react(doomed.seq, "👍"), "already_deleted");
    await refusedWith(room(MEMBERS[4]!).react(99_999, "👍"), "not_found");
    await nextGetsNextSeq(MEMBERS[4]!);
    assert.deepEqual(room(OWNER).reactions(2).counts, before);
  });

  it("PROTOCOL R20: emoji named `constructor` or `toString` count 1 on every client and read path; `__proto__` is refused and changes nothing", async () => {
    const target = await room(OWNER).send("hostile emoji");
    await room(MEMBERS[5]!).react(target.seq, "constructor");
    await room(MEMBERS[6]!).react(target.seq, "toString");
    const expected = { constructor: 1, toString: 1 };
    const counts = (user: string) => room(user).reactions(target.seq).counts;
    await waitFor(() => MEMBERS.slice(0, 10).every((user) => ownValue(counts(user), "constructor") === 1 && ownValue(counts(user), "toString") === 1), 10_000, "live counts");
    const http = await server.fetchJson(`/parties/room/${GROUP}/history?before=${target.seq + 1}&limit=1`, { token: await server.token(MEMBERS[8]!) });
    assert.deepEqual(http.body.events[0].reactions, expected);
    const page = await room(MEMBERS[8]!).history({ before: target.seq + 1, limit: 1 });
    assert.deepEqual((page.events[0] as MessageEvent).reactions, expected, "the client parses the record");
    // The client refuses `__proto__` itself; a raw socket shows the room does too.
    await refusedWith(room(MEMBERS[9]!).react(target.seq, "__proto__"), "bad_frame");
    const raw = await memberSocket(MEMBERS[9]!, "proto-emoji");
    raw.send({ type: "react", clientId: "proto-1", n: 1, target: target.seq, emoji: "__proto__" });
    const refused = await raw.next((f) => f.type === "error");
    assert.equal(refused.code, "bad_frame");
    raw.ws.close();
    await nextGetsNextSeq(MEMBERS[9]!);
    assert.deepEqual({ ...room(OWNER).reactions(target.seq).counts }, expected);
  });

  it("PROTOCOL R22: a reply quotes its parent, the quote follows an edit and a deletion; replies to deleted or unknown messages are refused", async () => {
    const parent = await room(MEMBERS[6]!).send("the   question\nis this");
    const reply = await room(MEMBERS[7]!).reply(parent.seq, "an answer");
    await waitFor(() => room(MEMBERS[8]!).quote(parent.seq)?.excerpt === "the question is this", 10_000, "the live quote");
    await room(MEMBERS[6]!).edit(parent.seq, "the edited question");
    await waitFor(() => room(MEMBERS[8]!).quote(parent.seq)?.excerpt === "the edited question", 10_000, "the quote follows the edit");
    const page = await room(MEMBERS[9]!).history({ before: reply.seq + 1, limit: 1 });
    assert.equal((page.events[0] as MessageEvent).replyTo, parent.seq);
    assert.deepEqual(page.quotes[String(parent.seq)], { seq: parent.seq, author: { id: MEMBERS[6], name: MEMBERS[6]!.toUpperCase() }, excerpt: "the edited question" });
    await room(MEMBERS[6]!).delete(parent.seq);
    await waitFor(() => room(MEMBERS[8]!).quote(parent.seq)?.deleted === true, 10_000, "the quote shows the deletion");
    const after = await room(MEMBERS[9]!).history({ before: reply.seq + 1, limit: 1 });
    assert.equal(after.quotes[String(parent.seq)]?.deleted, true);
    await refusedWith(room(MEMBERS[7]!).reply(parent.seq, "too late"), "already_deleted");
    await refusedWith(room(MEMBERS[7]!).reply(88_888, "to nothing"), "not_found");
    await nextGetsNextSeq(MEMBERS[7]!);
  });

  let threadParent = 0;
  let threadReplies: number[] = [];
  it("PROTOCOL R23: concurrent thread replies read back in order with the parent's count and last reply", async () => {
    threadParent = (await room(OWNER).send("a thread starts here")).seq;
    const repliers = MEMBERS.slice(10, 20);
    const acks = await Promise.all(repliers.flatMap((user) => [1, 2, 3].map((i) => room(user).send(`${user} in thread ${i}`, { thread: threadParent }))));
    threadReplies = acks.map((a) => a.seq).sort((a, b) => a - b);
    const page = await room(MEMBERS[20]!).thread(threadParent);
    assert.deepEqual(page.events.map((e) => e.seq), threadReplies);
    assert.ok(page.events.every((e) => e.thread === threadParent));
    assert.equal(page.parent.replies?.count, 30);
    assert.equal(page.parent.replies?.lastSeq, threadReplies.at(-1));
    assert.equal(page.hasMore, false);
    const first = await room(MEMBERS[20]!).thread(threadParent, { limit: 10 });
    const rest = await room(MEMBERS[20]!).thread(threadParent, { after: first.events.at(-1)!.seq, limit: 50 });
    assert.equal(first.hasMore, true);
    assert.deepEqual([...first.events, ...rest.events].map((e) => e.seq), threadReplies, "pages join with no gap or overlap");
    await refusedWith(room(MEMBERS[21]!).send("nested", { thread: threadReplies[0]! }), "not_found");
    // Thread replies are events of the room: every member saw each one once, in the one log.
    await waitFor(() => lastSeqOf(MEMBERS[49]!) >= threadReplies.at(-1)!, 10_000, "the last member saw the thread");
    const owner = clients.get(OWNER)!;
    assertGapless(owner.observed.events, lastSeqOf(OWNER), "owner");
  });

  it("PROTOCOL R24: moderators and owners pin, members cannot; pins are in the welcome and the HTTP read", async () => {
    await refusedWith(room(MEMBERS[1]!).pin(threadParent), "forbidden");
    await room(OWNER).pin(threadParent);
    await room(OWNER).pin(2);
    await refusedWith(room(OWNER).pin(2), "no_change");
    await nextGetsNextSeq(OWNER);
    await waitFor(() => room(MEMBERS[1]!).pins.length === 2, 10_000, "pins reached a member live");
    const fresh = await memberSocket(MEMBERS[2]!, "pins-welcome");
    assert.deepEqual(fresh.frames[0].pins.map((p: { seq: number }) => p.seq), [threadParent, 2]);
    fresh.ws.close();
    const http = await server.fetchJson(`/parties/room/${GROUP}/pins`, { token: await server.token(MEMBERS[3]!) });
    assert.equal(http.status, 200);
    assert.deepEqual(http.body.pins.map((p: { seq: number }) => p.seq), [threadParent, 2]);
    assert.equal(http.body.messages[0].text, "a thread starts here");
  });

  it("PROTOCOL R26: mentions resolve to members only; a forged mention of a non-member is dropped", async () => {
    const sent = await room(MEMBERS[1]!).send(`hello @${MEMBERS[2]} and @mallory and @${MEMBERS[1]}`);
    await waitFor(() => lastSeqOf(MEMBERS[2]!) >= sent.seq, 10_000, "delivered");
    const event = clients.get(MEMBERS[2]!)!.observed.events.find((e) => e.seq === sent.seq) as MessageEvent;
    assert.deepEqual(event.mentions, [MEMBERS[2]]);
    // A raw frame carrying its own `mentions` list is stripped to what the text resolves to (PROTOCOL I7).
    const raw = await memberSocket(MEMBERS[3]!, "forger");
    raw.send({ type: "send", clientId: "forged-1", n: 1, text: "hi @mallory", mentions: ["mallory", MEMBERS[4]] });
    const forged = await raw.next((f) => f.type === "events" && f.events.some((e: RoomEvent) => e.clientId === "forged-1"));
    assert.equal(forged.events.find((e: MessageEvent) => e.clientId === "forged-1").mentions, undefined);
    raw.ws.close();
  });

  it("PROTOCOL R25: an edited message carries editedAt; an operator reads every version through the audited admin route", async () => {
    const author = MEMBERS[12]!;
    const sent = await room(author).send("first words");
    await room(author).edit(sent.seq, "second words");
    const last = await room(author).edit(sent.seq, "third words");
    const page = await room(MEMBERS[13]!).history({ before: sent.seq + 1, limit: 1 });
    const record = page.events[0] as MessageEvent;
    assert.equal(record.text, "third words");
    assert.equal(record.editedBy, last.seq);
    assert.equal(record.editedAt, last.ts);
    const ops = await server.token("ops", { name: "Ops", operator: true });
    const admin = new KaiwaAdmin({ baseUrl: server.url, token: () => server.token("ops", { name: "Ops", operator: true }) });
    const history = await admin.edits(GROUP, sent.seq);
    assert.deepEqual(history.versions.map((v) => v.text), ["first words", "second words", "third words"]);
    assert.deepEqual(history.versions.map((v) => v.seq), [sent.seq, sent.seq + 1, last.seq]);
    const audit = await server.fetchJson(`/admin/rooms/${GROUP}/audit`, { token: ops });
    assert.ok(audit.body.records.some((r: { action: string; from: number }) => r.action === "read_edits" && r.from === sent.seq), "the read was audited");
    const member = await server.fetchJson(`/admin/rooms/${GROUP}/edits?seq=${sent.seq}`, { token: await server.token(author) });
    assert.equal(member.status, 403, "members (the author too) never read replaced versions");
    const unknown = await server.fetchJson(`/admin/rooms/${GROUP}/edits?seq=77777`, { token: ops });
    assert.equal(unknown.status, 404);
  });

  it("PROTOCOL R27: mention counts beside unread are exact on both of a member's devices and drop with a read", async () => {
    const user = MEMBERS[45]!;
    const devices = [0, 1].map(() => new KaiwaInbox({ host: server.host, user, token: () => server.token(user), WebSocket }));
    const row = (inbox: KaiwaInbox) => inbox.conversations.find((c) => c.room === GROUP);
    try {
      await waitFor(() => devices.every((d) => d.status === "open"), 15_000, "both devices open");
      const mentioner = room(MEMBERS[44]!);
      await mentioner.send(`@${user} look`);
      await mentioner.send("no mention here");
      await mentioner.send(`@${user} @${user} and @outsider again`);
      const last = await mentioner.send(`@${MEMBERS[46]} not you`);
      await waitFor(() => devices.every((d) => row(d)?.lastSeq === last.seq), 15_000, "both devices have the conversation row");
      for (const device of devices) assert.equal(row(device)!.mentions, 2, "two unread messages mention the user");
      // Unread stays exact: thread replies count as messages; reactions, pins and edits do not (PROTOCOL I6).
      await waitFor(() => clients.get(OWNER)!.observed.events.some((e) => e.seq === last.seq), 15_000, "the owner's socket has the log up to the last mention");
      const log = clients.get(OWNER)!.observed.events.filter((e) => e.seq <= last.seq);
      const deleted = new Set(log.flatMap((e) => (e.kind === "delete" ? [e.target] : [])));
      const expected = log.filter((e) => e.kind === "message" && e.author.id !== user && !deleted.has(e.seq)).length;
      assert.ok(log.some((e) => e.kind === "message" && e.thread !== undefined) && log.some((e) => e.kind === "reaction"));
      for (const device of devices) assert.equal(row(device)!.unread, expected, "unread: other people's undeleted messages, thread replies included");
      const list = await server.fetchJson(`/parties/inbox/${user}/conversations`, { token: await server.token(user) });
      assert.equal(list.body.conversations.find((c: { room: string }) => c.room === GROUP).mentions, 2);
      await room(user).read(last.seq);
      await waitFor(() => devices.every((d) => row(d)?.readSeq === last.seq), 15_000, "the read reached both devices");
      for (const device of devices) {
        assert.equal(row(device)!.mentions, undefined, "read: no mentions left");
        assert.equal(row(device)!.unread, 0);
      }
    } finally {
      for (const device of devices) device.close();
    }
  });

  it("non-members are refused on every path: socket, HTTP thread, HTTP pins, HTTP history", async () => {
    const outsider = await rawSocket(server, GROUP, { token: await server.token("outsider"), session: "o1" });
    const refusal = await outsider.next((f) => f.type === "error");
    assert.equal(refusal.code, "not_member");
    const token = await server.token("outsider");
    for (const path of [`thread?parent=${threadParent}`, "pins", "history"]) {
      const answer = await server.fetchJson(`/parties/room/${GROUP}/${path}`, { token });
      assert.equal(answer.status, 403, path);
      assert.equal(answer.body.error?.code ?? answer.body.code, "not_member", path);
    }
  });

  it("threads, pins and reaction counts read back the same after a restart, and a resuming client ends exact", async () => {
    const late = clients.get(MEMBERS[40]!)!;
    const position = late.room.position!;
    late.room.close();
    await room(MEMBERS[41]!).react(threadParent, "🔥");
    await room(MEMBERS[42]!).react(threadParent, "🔥");
    await server.restart();
    // The client that missed the reactions resumes from its position: replay brings counts and its own set.
    const back = await openClient(server, GROUP, MEMBERS[40]!, { position });
    clients.set(MEMBERS[40]!, back);
    await waitFor(() => back.room.reactions(threadParent).counts["🔥"] === 2, 15_000, "the resumed client's counts");
    // A new client instance knows older messages through history: the page carries its own set (PROTOCOL R21).
    const older = await back.room.history({ before: 3, limit: 1 });
    assert.deepEqual([...older.mine["2"]!].sort(), [...EMOJI].sort());
    assert.deepEqual(back.room.reactions(2).mine.sort(), [...EMOJI].sort());
    assert.deepEqual(back.room.pins.map((p) => p.seq), [threadParent, 2]);
    const page = await back.room.thread(threadParent);
    assert.deepEqual(page.events.map((e) => e.seq), threadReplies);
    assert.equal(page.parent.replies?.count, 30);
    assert.equal(page.parent.reactions?.["🔥"], 2);
    await back.room.react(threadParent, "🔥");
    await refusedWith(back.room.react(threadParent, "🔥"), "no_change");
    await waitFor(() => room(OWNER).reactions(threadParent).counts["🔥"] === 3, 30_000, "owner reconnected and saw the third");
    // Across the kill and restart, members who stayed open saw every event of the log once, in order, the
    // same event at each seq (PROTOCOL I1, I5): reactions, pins, thread replies and edits included.
    const lastSeq = lastSeqOf(OWNER);
    const stayed = [OWNER, ...MEMBERS.slice(1, 6)];
    await waitFor(() => stayed.every((user) => lastSeqOf(user) === lastSeq), 30_000, "members caught up after the restart");
    const reference = clients.get(OWNER)!.observed.events;
    assertGapless(reference, lastSeq, OWNER);
    assert.equal(new Set(reference.map((e) => `${e.author.id}/${e.clientId}`)).size, lastSeq, "each (author, clientId) once (PROTOCOL I3)");
    for (const user of stayed) {
      const events = clients.get(user)!.observed.events;
      assertGapless(events, lastSeq, user);
      events.forEach((e, i) => assert.equal(e.clientId, reference[i]!.clientId, `${user}: seq ${e.seq} differs`));
    }
    const kinds = new Set(clients.get(OWNER)!.observed.events.map((e) => e.kind));
    for (const kind of ["reaction", "pin", "edit", "delete", "message"]) assert.ok(kinds.has(kind as RoomEvent["kind"]), `the log holds ${kind} events`);
  });
});
