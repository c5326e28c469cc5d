/**
 * KaiwaInbox against a scripted fake inbox (a bare `ws` server speaking the inbox protocol): URL/query,
 * the conversation list, DMs and their resend, per-room gapless delivery with sync, reads, lists, refusals.
 * Every delivery check compares the whole (room, seq) sequence the app saw, so loss, duplicates and
 * reordering all fail it.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { WebSocket } from "ws";
import { conversationCursor, type Conversation, type InboxServerFrame, type InboxWelcome, type RoomEvent } from "../../party/protocol/index.ts";
import { KaiwaError, KaiwaInbox, type KaiwaInboxOptions, type StatusChange } from "../../client/index.ts";
import { manualSchedule } from "../helpers/manual-schedule.ts";
import { fakeServer, until, type Frame, type Peer } from "../helpers/fake-ws-server.ts";

let onPeer: (peer: Peer) => void = () => {};
let onFrame: (peer: Peer, frame: Frame) => void = () => {};
const server = fakeServer({ onPeer: (p) => onPeer(p), onFrame: (p, f) => onFrame(p, f) });
const peers = server.peers;

function reset(): void {
  peers.length = 0;
  onPeer = () => {};
  onFrame = () => {};
}

const AB = "dm:alice:bob";
const AC = "dm:alice:carol";
const send = (peer: Peer, frame: InboxServerFrame) => peer.ws.send(JSON.stringify(frame));
const conv = (room: string, lastSeq: number, o: Partial<Conversation> = {}): Conversation => {
  const lastTs = o.lastTs ?? Date.now() - 1000 + lastSeq;
  return {
    room, kind: "dm", title: room, peer: room.split(":")[2], lastSeq, lastTs, preview: null, readSeq: 0, unread: 0,
    ...o, cursor: conversationCursor(lastTs, room),
  };
};
const welcome = (o: Partial<InboxWelcome> = {}): InboxServerFrame => ({
  type: "welcome", user: { id: "alice", name: "Alice" }, bootId: "b", conversations: [], hasMore: false,
  totalUnread: 0, changedWhileAway: [], contacts: [], serverTime: Date.now(), ...o,
});
const msg = (seq: number, clientId = `x${seq}`): RoomEvent => ({ kind: "message", seq, ts: seq, author: { id: "bob", name: "Bob" }, clientId, text: `m${seq}` });
const msgs = (from: number, to: number): RoomEvent[] => Array.from({ length: to - from + 1 }, (_, i) => msg(from + i));
const syncs = (p: Peer | undefined) => (p?.frames ?? []).filter((f) => f.type === "sync").map((f) => `${String(f.room)}>${String(f.after)}`);
const dms = (p: Peer | undefined) => (p?.frames ?? []).filter((f) => f.type === "dm");

function makeInbox(extra: Partial<KaiwaInboxOptions> = {}) {
  let i = 0;
  const inbox = new KaiwaInbox({
    host: `127.0.0.1:${server.port()}`, user: "alice", token: "t", WebSocket,
    backoff: { random: () => 0 }, newId: () => `id${++i}`, ...extra,
  });
  const statuses: StatusChange[] = [];
  const seen: string[] = [];
  const errors: KaiwaError[] = [];
  inbox.on("status", (s) => statuses.push(s));
  inbox.on("event", ({ room, event }) => seen.push(`${room}#${event.seq}`));
  inbox.on("error", (e) => errors.push(e));
  return { inbox, statuses, seen, errors };
}

/**
 * Answers every sync from a fake log per room, `page` events at a time. With `mark`, a room's last page is
 * followed by a presence frame from the user "marker": the inbox handles frames in order and emits a sync's
 * events (and the live ones it held) while handling the page, so once the marker is seen, everything that
 * page could cause has been emitted. Tests wait for it instead of sleeping.
 */
function serveSync(p: Peer, f: Frame, logs: Record<string, RoomEvent[]>, page = 200, mark = false): void {
  if (f.type !== "sync") return;
  const room = String(f.room);
  const after = Number(f.after);
  const log = logs[room] ?? [];
  const events = log.filter((e) => e.seq > after).slice(0, page);
  const hasMore = log.some((e) => e.seq > (events.at(-1)?.seq ?? after));
  send(p, { type: "sync", requestId: String(f.requestId), room, events, lastSeq: log.at(-1)?.seq ?? 0, hasMore });
  if (mark && !hasMore) send(p, { type: "presence", user: "marker", online: true, lastSeen: null });
}

/** How many markers (see serveSync) this inbox has handled. */
function markers(inbox: KaiwaInbox): () => number {
  let count = 0;
  inbox.on("presence", (state) => void (state.user === "marker" && count++));
  return () => count;
}


const seqs = (room: string, from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => `${room}#${from + i}`);

describe("KaiwaInbox", () => {
  it("connects to the user's inbox, keeps list, totals and contacts, and resolves a DM on its ack; the echo arrives once", async () => {
    reset();
    onPeer = (p) => send(p, welcome({
      conversations: [conv(AB, 3, { unread: 2 })], totalUnread: 2,
      contacts: [{ user: "bob", online: true, lastSeen: null }],
    }));
    onFrame = (p, f) => {
      if (f.type !== "dm") return;
      const clientId = String(f.clientId);
      send(p, { type: "events", room: AB, events: [msg(4, clientId)] });
      send(p, { type: "ack", acks: [{ room: AB, clientId, seq: 4, ts: 44 }] });
      send(p, { type: "events", room: AB, events: [msg(3), msg(4, clientId)] }); // overlap: dropped
      send(p, { type: "conversation", conversation: conv(AB, 4, { unread: 2 }), totalUnread: 2 });
    };
    const { inbox, statuses, seen } = makeInbox();
    const conversations: number[] = [];
    inbox.on("conversation", (c) => conversations.push(c.conversation.lastSeq));
    const ack = await inbox.sendDm("bob", "hi");
    assert.deepEqual(ack, { room: AB, clientId: "id2", seq: 4, ts: 44 });
    assert.equal(peers[0]?.path, "/parties/inbox/alice");
    assert.equal(peers[0]?.query.get("token"), "t");
    assert.equal(peers[0]?.query.get("session"), "id1");
    assert.deepEqual(dms(peers[0]), [{ type: "dm", to: "bob", text: "hi", clientId: "id2", n: 1 }]);
    await until(() => conversations.length === 1, "conversation frame");
    assert.deepEqual(seen, [`${AB}#4`], "joined at lastSeq 3: no old history, the new DM exactly once");
    assert.deepEqual(syncs(peers[0]), [], "nothing was missing, so nothing was synced");
    assert.equal(inbox.position(AB), 4);
    assert.equal(inbox.unread(AB), 2);
    assert.equal(inbox.totalUnread, 2);
    assert.equal(inbox.contacts.get("bob")?.online, true);
    assert.deepEqual(inbox.conversations.map((c) => c.lastSeq), [4]);
    assert.deepEqual(statuses.map((s) => s.current), ["connecting", "open"]);
    inbox.close();
    assert.equal(inbox.status, "closed");
  });

  it("a live gap is held, synced page by page, then delivered in order exactly once", async () => {
    reset();
    const log = msgs(1, 8);
    onPeer = (p) => {
      send(p, welcome({ conversations: [conv(AB, 2)] }));
      send(p, { type: "events", room: AB, events: [msg(5), msg(6)] }); // 3 and 4 missing
    };
    onFrame = (p, f) => {
      if (f.type !== "sync") return;
      // Before answering: more live traffic and a duplicate, which must wait behind the sync.
      send(p, { type: "events", room: AB, events: [msg(6), msg(7)] });
      serveSync(p, f, { [AB]: log.slice(0, 7) }, 1, true);
    };
    const { inbox, seen } = makeInbox();
    const marked = markers(inbox);
    await until(() => marked() === 1, "the sync's last page and the marker after it");
    assert.deepEqual(seen, seqs(AB, 3, 7));
    assert.deepEqual(syncs(peers[0]).slice(0, 2), [`${AB}>2`, `${AB}>3`]);
    assert.equal(peers[0]?.frames.find((f) => f.type === "sync")?.limit, 200);
    assert.equal(inbox.position(AB), 7);
    inbox.close();
  });

  it("fromStart: every room from seq 1, the whole list paged; positions: resume exactly there", async () => {
    reset();
    const logs = { [AB]: msgs(1, 3), [AC]: msgs(1, 2), "dm:alice:dave": msgs(1, 1) };
    const first = [conv(AB, 3, { lastTs: 3000 }), conv(AC, 2, { lastTs: 2000 })];
    onPeer = (p) => send(p, welcome({ conversations: first, hasMore: true }));
    onFrame = (p, f) => {
      serveSync(p, f, logs);
      if (f.type === "list") {
        send(p, { type: "list", requestId: String(f.requestId), conversations: [conv("dm:alice:dave", 1, { lastTs: 1000 })], hasMore: false, totalUnread: 0 });
      }
    };
    const a = makeInbox({ fromStart: true });
    await until(() => a.seen.length === 6, "all six events");
    assert.deepEqual(a.seen.filter((s) => s.startsWith(AB)), seqs(AB, 1, 3));
    assert.deepEqual(a.seen.filter((s) => s.startsWith(AC)), seqs(AC, 1, 2));
    assert.deepEqual(a.seen.filter((s) => s.startsWith("dm:alice:dave")), ["dm:alice:dave#1"]);
    const list = peers[0]?.frames.find((f) => f.type === "list");
    assert.deepEqual(list, { type: "list", requestId: list?.requestId, before: first[1]?.cursor, limit: 100 });
    assert.deepEqual(a.inbox.conversations.map((c) => c.room), [AB, AC, "dm:alice:dave"], "newest activity first");
    a.inbox.close();

    reset();
    onPeer = (p) => send(p, welcome({ conversations: first }));
    onFrame = (p, f) => serveSync(p, f, logs, 200, true);
    const b = makeInbox({ positions: { [AB]: 1 } });
    const marked = markers(b.inbox);
    await until(() => marked() === 1, "AB's sync and the marker after it");
    assert.deepEqual(b.seen, seqs(AB, 2, 3), "AC starts at its lastSeq: its history is not replayed");
    assert.deepEqual(syncs(peers[0]), [`${AB}>1`]);
    assert.deepEqual(b.inbox.positions, { [AB]: 3, [AC]: 2 });
    b.inbox.close();
  });

  it("after a drop: fresh token, unacked DMs resent in order with the same clientIds and numbers, missed events synced", async () => {
    reset();
    let tokens = 0;
    const logs: Record<string, RoomEvent[]> = { [AB]: msgs(1, 1), [AC]: msgs(1, 5) };
    onPeer = (p) => {
      if (peers.length === 1) return send(p, welcome({ conversations: [conv(AB, 1), conv(AC, 1)] }));
      // Meanwhile: the first DM was stored (seq 2) and AC moved on while another device was online.
      logs[AB] = [msg(1), msg(2, String(dms(peers[0])[0]?.clientId))];
      send(p, welcome({ conversations: [conv(AB, 2), conv(AC, 5)] }));
    };
    onFrame = (p, f) => {
      if (peers.length === 1 && dms(p).length === 2) return p.ws.terminate(); // both on the wire, none acked
      serveSync(p, f, logs);
      if (f.type !== "dm" || peers.length !== 2) return;
      const clientId = String(f.clientId);
      if (f.n === 1) return send(p, { type: "ack", acks: [{ room: AB, clientId, seq: 2, ts: 2, duplicate: true }] });
      send(p, { type: "events", room: AC, events: [msg(6, clientId)] });
      send(p, { type: "ack", acks: [{ room: AC, clientId, seq: 6, ts: 6 }] });
    };
    const { inbox, seen, statuses } = makeInbox({ token: async () => `t${++tokens}` });
    const results = await Promise.all([inbox.sendDm("bob", "a"), inbox.sendDm("carol", "b")]);
    assert.deepEqual(results.map((r) => `${r.room}#${r.seq}`), [`${AB}#2`, `${AC}#6`]);
    assert.deepEqual(dms(peers[1]), dms(peers[0]), "same clientIds, same numbers, same order");
    assert.deepEqual(dms(peers[0]).map((f) => f.n), [1, 2]);
    assert.equal(peers[1]?.query.get("token"), "t2");
    assert.equal(peers[1]?.query.get("session"), peers[0]?.query.get("session"));
    await until(() => seen.length === 6, "synced and live events");
    assert.deepEqual(seen.filter((s) => s.startsWith(AB)), [`${AB}#2`]);
    assert.deepEqual(seen.filter((s) => s.startsWith(AC)), seqs(AC, 2, 6));
    assert.deepEqual(statuses.map((s) => s.current), ["connecting", "open", "reconnecting", "open"]);
    inbox.close();
  });

  it("a room first heard of after the start (a new DM) is delivered from seq 1, whichever frame comes first", async () => {
    reset();
    onPeer = (p) => {
      send(p, welcome({ conversations: [conv(AB, 4)] }));
      send(p, { type: "conversation", conversation: conv(AC, 2, { unread: 2 }), totalUnread: 2 });
      send(p, { type: "events", room: AC, events: [msg(2)] }); // a truncated tail: seq 1 is missing
      send(p, { type: "events", room: "dm:alice:dave", events: [msg(1)] });
    };
    onFrame = (p, f) => serveSync(p, f, { [AC]: msgs(1, 2) }, 200, true);
    const { inbox, seen } = makeInbox();
    const marked = markers(inbox);
    await until(() => marked() === 1, "AC's sync and the marker after it");
    assert.deepEqual(seen.filter((s) => s.startsWith(AC)), seqs(AC, 1, 2));
    assert.deepEqual(seen.filter((s) => !s.startsWith(AC)), ["dm:alice:dave#1"]);
    assert.deepEqual(syncs(peers[0]), [`${AC}>0`], "the listed room AB is not replayed");
    assert.equal(inbox.totalUnread, 2);
    inbox.close();
  });

  it("a reconnect pages the list until rows predate the drop, and catches up a room found there", async () => {
    reset();
    const now = Date.now();
    const old = now - 10 * 60_000;
    const logs = { [AC]: msgs(1, 4) };
    onPeer = (p) => {
      if (peers.length === 1) {
        send(p, welcome({ conversations: [conv(AB, 1, { lastTs: old + 2 }), conv(AC, 2, { lastTs: old + 1 })] }));
        return void setTimeout(() => p.ws.terminate(), 20);
      }
      // 1 row per page: AC changed while we were away but is not on the first page.
      send(p, welcome({ conversations: [conv(AB, 1, { lastTs: now + 2 })], hasMore: true }));
    };
    onFrame = (p, f) => {
      serveSync(p, f, logs, 200, true);
      if (f.type !== "list") return;
      const rows = [conv(AC, 4, { lastTs: now + 1 }), conv("dm:alice:zed", 9, { lastTs: old }), conv("dm:alice:yann", 9, { lastTs: old - 1 })];
      const i = rows.findIndex((r) => r.cursor < String(f.before));
      send(p, { type: "list", requestId: String(f.requestId), conversations: rows.slice(i, i + 1), hasMore: i + 1 < rows.length, totalUnread: 0 });
    };
    const { inbox, seen } = makeInbox();
    const marked = markers(inbox);
    await until(() => seen.length === 2 && marked() >= 1, "AC 3..4 and the marker after its sync");
    assert.deepEqual(seen, seqs(AC, 3, 4));
    assert.equal(peers[1]?.frames.filter((f) => f.type === "list").length, 2, "stops at the row older than the drop");
    inbox.close();
  });

  it("DM errors: invalid input rejects locally; a typed error rejects; a resend code keeps it for the next socket", async () => {
    reset();
    onPeer = (p) => send(p, welcome());
    onFrame = (p, f) => {
      if (f.type !== "dm") return;
      const ref = String(f.clientId);
      if (f.text === "long") send(p, { type: "error", code: "text_too_long", message: "too long", retryable: false, ref });
      if (f.text === "flaky" && peers.length === 1) {
        send(p, { type: "error", code: "room_unavailable", message: "later", retryable: true, ref });
        p.ws.close(4013, "resync_required");
      }
      if (f.text === "flaky" && peers.length === 2) send(p, { type: "ack", acks: [{ room: AB, clientId: ref, seq: 1, ts: 1 }] });
    };
    const { inbox } = makeInbox();
    await assert.rejects(inbox.sendDm("not an id!", "x"), (e: unknown) => e instanceof KaiwaError && e.code === "bad_frame");
    await assert.rejects(inbox.sendDm("bob", "x".repeat(20_000)), (e: unknown) => e instanceof KaiwaError && e.code === "frame_too_large");
    await assert.rejects(inbox.sendDm("bob", "long"), (e: unknown) => e instanceof KaiwaError && e.code === "text_too_long" && !e.retryable);
    assert.equal(inbox.status, "open");
    const flaky = await inbox.sendDm("bob", "flaky");
    assert.equal(flaky.seq, 1);
    assert.equal(peers.length, 2);
    assert.deepEqual(dms(peers[1]), dms(peers[0]).filter((f) => f.text === "flaky"), "the same DM, same id and number");
    inbox.close();
  });

  it("markRead and list round-trip; errors reject typed; conversation and presence frames update the state", async () => {
    reset();
    onPeer = (p) => send(p, welcome({ conversations: [conv(AB, 3, { unread: 3, lastTs: 5000 })], totalUnread: 3 }));
    onFrame = (p, f) => {
      const requestId = String(f.requestId);
      if (f.type === "read" && Number(f.seq) > 3) send(p, { type: "error", code: "read_out_of_range", message: "no", retryable: false, ref: requestId });
      else if (f.type === "read") {
        send(p, { type: "conversation", conversation: conv(AB, 3, { unread: 0, readSeq: 3, lastTs: 5000 }), totalUnread: 0 });
        send(p, { type: "read", requestId, room: AB, readSeq: 3 });
      }
      if (f.type === "list") {
        send(p, { type: "list", requestId, conversations: [conv(AC, 7, { kind: "group", lastTs: 4000, unread: 1 })], hasMore: false, totalUnread: 1 });
        send(p, { type: "presence", user: "carol", online: false, lastSeen: 123 });
      }
    };
    const { inbox } = makeInbox({ follow: (_room, kind) => kind !== "group" });
    const presence: string[] = [];
    inbox.on("presence", (s) => presence.push(`${s.user}:${s.online}`));
    assert.deepEqual(await inbox.markRead(AB, 3), { room: AB, readSeq: 3 });
    assert.equal(inbox.unread(AB), 0);
    assert.equal(inbox.totalUnread, 0);
    await assert.rejects(inbox.markRead(AB, 9), (e: unknown) => e instanceof KaiwaError && e.code === "read_out_of_range" && e.ref === "id3");
    await assert.rejects(inbox.markRead(AB, 0), (e: unknown) => e instanceof KaiwaError && e.code === "bad_frame");
    const page = await inbox.list({ before: "0", limit: 10 });
    assert.deepEqual(page.conversations.map((c) => c.room), [AC]);
    assert.deepEqual(peers[0]?.frames.find((f) => f.type === "list"), { type: "list", requestId: "id5", before: "0", limit: 10 });
    assert.deepEqual(inbox.conversations.map((c) => c.room), [AB, AC]);
    assert.equal(inbox.totalUnread, 1);
    await until(() => presence.length === 1, "presence");
    assert.deepEqual(inbox.contacts.get("carol"), { user: "carol", online: false, lastSeen: 123 });
    assert.deepEqual(syncs(peers[0]), [], "an unfollowed group is not synced");
    inbox.close();
  });

  it("4001 stops in auth_failed until reconnect() (a queued DM survives); a 4003 refusal closes and rejects pending work", async () => {
    reset();
    onPeer = (p) => {
      if (peers.length === 1) {
        send(p, { type: "error", code: "token_expired", message: "expired", retryable: false });
        p.ws.close(4001, "unauthorized");
      } else send(p, welcome());
    };
    onFrame = (p, f) => f.type === "dm" && send(p, { type: "ack", acks: [{ room: AB, clientId: String(f.clientId), seq: 1, ts: 1 }] });
    // Retries run on the client's clock: on a manual one, an hour passing runs any retry at once, and a
    // retry changes the status in that same call, so no wait is needed to see that none comes.
    const { schedule, advance } = manualSchedule();
    const a = makeInbox({ schedule });
    const queued = a.inbox.sendDm("bob", "queued");
    await until(() => a.inbox.status === "auth_failed", "auth_failed");
    assert.equal(a.errors[0]?.code, "token_expired");
    advance(3_600_000);
    assert.equal(a.inbox.status, "auth_failed", "no reconnect on its own");
    assert.equal(peers.length, 1);
    a.inbox.reconnect();
    assert.equal((await queued).seq, 1);
    a.inbox.close();

    reset();
    onPeer = (p) => {
      send(p, { type: "error", code: "forbidden", message: "not your inbox", retryable: false });
      p.ws.close(4003, "forbidden");
    };
    const b = makeInbox();
    const dm = b.inbox.sendDm("bob", "x");
    const read = b.inbox.markRead(AB, 1);
    await assert.rejects(dm, (e: unknown) => e instanceof KaiwaError && e.code === "forbidden");
    await assert.rejects(read, (e: unknown) => e instanceof KaiwaError && e.code === "forbidden");
    assert.equal(b.inbox.status, "closed");
    await assert.rejects(b.inbox.list(), (e: unknown) => e instanceof KaiwaError && e.code === "closed");
  });

  it("a sync refused as room_unavailable is retried; invalid frames are reported and ignored", async () => {
    reset();
    let refused = 0;
    onPeer = (p) => {
      send(p, welcome({ conversations: [conv(AB, 2)], changedWhileAway: [AB] }));
      p.ws.send(JSON.stringify({ type: "events", room: AB, events: [{ seq: "x" }] }));
    };
    onFrame = (p, f) => {
      if (f.type === "sync" && refused++ === 0) {
        return send(p, { type: "error", code: "room_unavailable", message: "down", retryable: true, ref: String(f.requestId) });
      }
      serveSync(p, f, { [AB]: msgs(1, 4) });
    };
    const { inbox, seen, errors } = makeInbox({ positions: { [AB]: 1 } });
    await until(() => seen.length === 3, "AB 2..4");
    assert.deepEqual(seen, seqs(AB, 2, 4));
    assert.deepEqual(errors.map((e) => e.code).sort(), ["bad_frame", "room_unavailable"]);
    assert.equal(peers.length, 1, "a failed sync does not drop the socket");
    inbox.close();
  });
});
