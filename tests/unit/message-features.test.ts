/** Reactions, replies, threads, pins, mentions and edits in the pure room core (PROTOCOL R20-R26). */
import { test } from "node:test";
import assert from "node:assert/strict";
import { RoomCore, type Outcome } from "../../party/core/room-core.ts";
import { Membership } from "../../party/core/membership.ts";
import { Pins } from "../../party/core/pins.ts";
import { quoteOf, reactionChange, resolveMentions } from "../../party/core/message-features.ts";
import { PINS_KEY, eventKey, reactionKey, sessionKey, threadKey } from "../../party/core/room-keys.ts";
import { ClientFrame, ClientId, Emoji, LIMITS, RoomEvent, RoomSettings, SessionId, TokenClaims, UserId, type Command, type Identity, type MessageEvent } from "../../party/protocol/index.ts";
import { ReadState } from "../../party/core/read-state.ts";

const alice: Identity = { id: "alice", name: "Alice" };
const bob: Identity = { id: "bob", name: "Bob" };
const carol: Identity = { id: "carol", name: "Carol" };
const op: Identity = { id: "root", name: "Op", role: "operator" };

function makeCore(options: { group?: boolean; participants?: string[] } = {}) {
  let now = 1_000;
  const membership = options.group ? new Membership(undefined, 500) : undefined;
  const core = new RoomCore({
    meta: { epoch: "E", lastSeq: 0, createdAt: 0 },
    settings: RoomSettings.parse({}),
    clock: () => now,
    dedupeWindow: 1000,
    recentWindow: 1000,
    pins: new Pins(undefined),
    ...(membership ? { membership } : {}),
    ...(options.participants ? { participants: options.participants } : {}),
  });
  for (const who of [alice, bob, carol, op]) core.setSession(sessionKey(who.id, "s"), undefined);
  core.loadDedupe([]);
  const n = new Map<string, number>();
  let ids = 0;
  /** Runs a command with the sender's next n and a fresh clientId, loading its reaction set as the shell does. */
  const run = (who: Identity, body: Record<string, unknown>): Outcome => {
    const next = (n.get(who.id) ?? 0) + 1;
    const command = { ...body, clientId: `c${++ids}`, n: next } as Command;
    const missing = core.missingReactionSet(command, who.id);
    if (missing !== undefined) core.setReactionSet(missing, who.id, undefined);
    const outcome = core.handle(command, who, "s");
    if (outcome.status === "accepted") n.set(who.id, next);
    return outcome;
  };
  return { core, run, advance: (ms: number) => (now += ms) };
}

function ok(outcome: Outcome) {
  assert.equal(outcome.status, "accepted", JSON.stringify(outcome));
  return outcome as Extract<Outcome, { status: "accepted" }>;
}
function refused(outcome: Outcome, code: string) {
  assert.equal(outcome.status, "rejected", JSON.stringify(outcome));
  assert.equal((outcome as { error: { code: string } }).error.code, code);
}
const written = (outcome: Outcome, key: string) => (ok(outcome).writes.find(([k]) => k === key) ?? [])[1];

test("PROTOCOL R20: reactions count per emoji, one of each per user; a second add or a removal not held changes nothing", () => {
  const { core, run } = makeCore();
  ok(run(alice, { type: "send", text: "hi" }));
  const first = ok(run(bob, { type: "react", target: 1, emoji: "👍" }));
  assert.deepEqual(first.event, { ...first.event, kind: "reaction", target: 1, emoji: "👍", action: "add", count: 1 });
  assert.deepEqual(first.targetAfter?.reactions, { "👍": 1 });
  assert.deepEqual(written(first, reactionKey(1, "bob")), ["👍"]);
  assert.equal(JSON.parse(written(first, eventKey(1)) as string).reactions["👍"], 1, "the record's counts are written with the event");
  assert.equal(ok(run(carol, { type: "react", target: 1, emoji: "👍" })).event.kind, "reaction");
  refused(run(bob, { type: "react", target: 1, emoji: "👍" }), "no_change");
  refused(run(alice, { type: "react", target: 1, emoji: "👍", remove: true }), "no_change");
  const removed = ok(run(bob, { type: "react", target: 1, emoji: "👍", remove: true }));
  assert.equal((removed.event as { count: number }).count, 1);
  refused(run(bob, { type: "react", target: 1, emoji: "👍", remove: true }), "no_change");
  const last = ok(run(carol, { type: "react", target: 1, emoji: "👍", remove: true }));
  assert.equal(last.targetAfter?.reactions, undefined, "an emoji at 0 is gone, and with it the field");
  assert.equal(core.lastAssigned, 5, "refusals took no seq (PROTOCOL I1)");
});

test("PROTOCOL R20: at most maxReactionsPerMessage distinct emoji; reacting to a deleted or unknown message is refused", () => {
  const { run } = makeCore();
  ok(run(alice, { type: "send", text: "hi" }));
  for (let i = 0; i < LIMITS.maxReactionsPerMessage; i++) ok(run(bob, { type: "react", target: 1, emoji: `:e${i}:` }));
  refused(run(bob, { type: "react", target: 1, emoji: ":one-more:" }), "limit_reached");
  ok(run(carol, { type: "react", target: 1, emoji: ":e0:" }));
  refused(run(bob, { type: "react", target: 99, emoji: "x" }), "not_found");
  refused(run(bob, { type: "react", target: 2, emoji: "x" }), "not_found"); // a reaction event, not a message
  ok(run(alice, { type: "delete", target: 1 }));
  refused(run(bob, { type: "react", target: 1, emoji: ":e0:" }), "already_deleted");
});

test("PROTOCOL R20: pure reactionChange never trusts counts below zero", () => {
  const target: MessageEvent = { kind: "message", seq: 1, ts: 0, author: alice, clientId: "a", text: "x" };
  const change = reactionChange(target, ["👍"], "👍", true);
  assert.ok(!("code" in change));
  assert.equal(change.count, 0);
  assert.equal(change.after.reactions, undefined);
});

test("PROTOCOL R20: emoji named like Object's own properties count from zero, and the records stay parseable by every client", () => {
  // A hostile member's `constructor` once read Object's constructor as the current count and stored
  // "function Object() { [native code] }1", a record no client could parse (party/protocol/own-keys.ts).
  const { run } = makeCore();
  ok(run(alice, { type: "send", text: "hi" }));
  const names = ["constructor", "toString", "hasOwnProperty", "valueOf", "isPrototypeOf"];
  let record: MessageEvent | undefined;
  for (const emoji of names) {
    const change = ok(run(bob, { type: "react", target: 1, emoji }));
    assert.equal((change.event as { count: number }).count, 1, emoji);
    record = change.targetAfter;
  }
  assert.deepEqual(record?.reactions, Object.fromEntries(names.map((name) => [name, 1])));
  const parsed = RoomEvent.safeParse(JSON.parse(JSON.stringify(record)));
  assert.ok(parsed.success, "a client parses the record");
  const removed = ok(run(bob, { type: "react", target: 1, emoji: "constructor", remove: true }));
  assert.equal((removed.event as { count: number }).count, 0);
  assert.equal(Object.hasOwn(removed.targetAfter?.reactions ?? {}, "constructor"), false);
});

test("PROTOCOL R20: `__proto__`, the one key a plain object cannot hold, is refused as an emoji and as an id; its look-alikes are not", () => {
  assert.equal(Emoji.safeParse("__proto__").success, false);
  assert.equal(ClientFrame.safeParse({ type: "react", n: 1, clientId: "c1", target: 1, emoji: "__proto__" }).success, false);
  for (const id of [UserId, ClientId, SessionId]) assert.equal(id.safeParse("__proto__").success, false);
  assert.equal(TokenClaims.safeParse({ sub: "__proto__" }).success, false, "no token names such a user");
  for (const name of ["constructor", "__proto", "proto__", "__proto__x"]) {
    assert.ok(Emoji.safeParse(name).success, name);
    assert.ok(UserId.safeParse(name).success, name);
  }
});

test("PROTOCOL R20, IB4: a member whose id is an Object property name starts unread from zero, not from Object's functions", () => {
  const state = new ReadState(["constructor", "toString"], {}, []);
  assert.equal(state.readSeq("constructor"), 0);
  assert.equal(state.readSeq("toString"), 0);
  state.applyEvent({ kind: "message", seq: 1, ts: 0, author: alice, clientId: "a", text: "x" });
  assert.equal(state.unread("constructor"), 1);
});

test("PROTOCOL R22: a reply quotes its parent; a reply to a deleted or unknown message is refused", () => {
  const { run } = makeCore();
  ok(run(alice, { type: "send", text: "the original   text" }));
  const reply = ok(run(bob, { type: "send", text: "yes", replyTo: 1 }));
  assert.equal((reply.event as MessageEvent).replyTo, 1);
  assert.deepEqual(reply.quote, { seq: 1, author: alice, excerpt: "the original text" });
  refused(run(bob, { type: "send", text: "?", replyTo: 50 }), "not_found");
  refused(run(bob, { type: "send", text: "?", replyTo: 3 }), "not_found"); // seq 3 does not exist yet
  ok(run(alice, { type: "delete", target: 1 }));
  refused(run(bob, { type: "send", text: "?", replyTo: 1 }), "already_deleted");
  const long = "x".repeat(500);
  assert.equal([...quoteOf({ kind: "message", seq: 9, ts: 0, author: alice, clientId: "c", text: long }).excerpt].length, LIMITS.quoteExcerptChars);
  assert.deepEqual(quoteOf({ kind: "message", seq: 9, ts: 0, author: alice, clientId: "c", text: "", deletedBy: 10 }), { seq: 9, author: alice, excerpt: "", deleted: true });
});

test("PROTOCOL R23: thread replies update the parent's count and last reply in the same batch and write the index", () => {
  const { run, advance } = makeCore();
  ok(run(alice, { type: "send", text: "topic" }));
  advance(10);
  const r1 = ok(run(bob, { type: "send", text: "a", thread: 1 }));
  assert.deepEqual(r1.targetAfter?.replies, { count: 1, lastSeq: 2, lastTs: 1_010 });
  assert.equal(written(r1, threadKey(1, 2)), 1);
  const r2 = ok(run(carol, { type: "send", text: "b", thread: 1 }));
  assert.deepEqual(r2.targetAfter?.replies, { count: 2, lastSeq: 3, lastTs: 1_010 });
  refused(run(bob, { type: "send", text: "nested", thread: 2 }), "not_found"); // a thread reply is no parent
  ok(run(alice, { type: "send", text: "quoting inside the thread", thread: 1, replyTo: 2 }));
});

test("PROTOCOL R24: moderators and owners pin in groups, bounded per room; members, non-members and duplicates are refused", () => {
  const { core, run } = makeCore({ group: true });
  ok(run(alice, { type: "group.create", title: "G", members: ["bob"] }));
  ok(run(bob, { type: "send", text: "pin me" }));
  refused(run(bob, { type: "pin", target: 2 }), "forbidden");
  refused(run(carol, { type: "pin", target: 2 }), "not_member");
  refused(run(carol, { type: "react", target: 2, emoji: "👍" }), "not_member");
  refused(run(carol, { type: "send", text: "?", replyTo: 2 }), "not_member");
  const pinned = ok(run(alice, { type: "pin", target: 2 }));
  assert.deepEqual(written(pinned, PINS_KEY), [{ seq: 2, by: "alice", ts: 1_000 }]);
  assert.deepEqual(core.pins.committed(), [], "readers see a pin only once it is durable (PROTOCOL I2)");
  core.commit([pinned]);
  assert.deepEqual(core.pins.committed().map((p) => p.seq), [2]);
  refused(run(alice, { type: "pin", target: 2 }), "no_change");
  refused(run(alice, { type: "pin", target: 99 }), "not_found");
  const deleted = ok(run(bob, { type: "delete", target: 2 }));
  assert.deepEqual(written(deleted, PINS_KEY), [], "a deleted message leaves the pins in the same batch");
  core.commit([deleted]);
  assert.deepEqual(core.pins.committed(), []);
  refused(run(alice, { type: "pin", target: 2, remove: true }), "already_deleted");
  for (let i = 0; i < LIMITS.maxPinsPerRoom; i++) {
    const seq = ok(run(bob, { type: "send", text: `m${i}` })).ack.seq;
    ok(run(alice, { type: "pin", target: seq }));
  }
  const extra = ok(run(bob, { type: "send", text: "one too many" })).ack.seq;
  refused(run(alice, { type: "pin", target: extra }), "limit_reached");
});

test("PROTOCOL R24: in an open room only operators pin; in a DM either participant", () => {
  const open = makeCore();
  ok(open.run(alice, { type: "send", text: "x" }));
  refused(open.run(alice, { type: "pin", target: 1 }), "forbidden");
  ok(open.run(op, { type: "pin", target: 1 }));
  const dm = makeCore({ participants: ["alice", "bob"] });
  ok(dm.run(alice, { type: "send", text: "x" }));
  ok(dm.run(bob, { type: "pin", target: 1 }));
  ok(dm.run(alice, { type: "pin", target: 1, remove: true }));
});

test("PROTOCOL R26: mentions resolve against members only, never the author, distinct and bounded; edits re-resolve them", () => {
  const { run } = makeCore({ group: true });
  ok(run(alice, { type: "group.create", title: "G", members: ["bob", "carol"] }));
  const sent = ok(run(alice, { type: "send", text: "@bob and @mallory, @carol @bob @alice mail@bob" }));
  assert.deepEqual((sent.event as MessageEvent).mentions, ["bob", "carol"], "the non-member mallory is dropped; an email is no mention");
  const edited = ok(run(alice, { type: "edit", target: 2, text: "only @carol now" }));
  assert.deepEqual(edited.targetAfter?.mentions, ["carol"]);
  assert.equal(edited.targetAfter?.editedAt, 1_000, "PROTOCOL R25: editedAt is the edit's ts");
  const again = ok(run(alice, { type: "edit", target: 2, text: "nobody" }));
  assert.equal(again.targetAfter?.mentions, undefined);
  assert.equal((again.event as { replaces?: number }).replaces, edited.ack.seq, "PROTOCOL R25: edits chain to the one they replace");
  const open = makeCore();
  assert.equal((ok(open.run(alice, { type: "send", text: "@bob" })).event as MessageEvent).mentions, undefined, "an open room has no members to mention");
  const many = Array.from({ length: 40 }, (_, i) => `@u${i}`).join(" ");
  assert.equal(resolveMentions(many, () => true).length, LIMITS.maxMentionsPerMessage);
});

test("PROTOCOL R27: mention counts are exact under posts, edits, deletions and reads, and a rebuild from the records agrees", async () => {
  const { ReadState } = await import("../../party/core/read-state.ts");
  const members = ["alice", "bob", "carol"];
  const msg = (seq: number, author: Identity, mentions: string[] = []): MessageEvent => ({ kind: "message", seq, ts: seq, author, clientId: `m${seq}`, text: "x", ...(mentions.length ? { mentions } : {}) });
  const state = new ReadState(members, {}, []);
  state.applyEvent(msg(1, alice, ["bob", "carol"]));
  state.applyEvent(msg(2, alice, ["bob"]));
  state.applyEvent(msg(3, carol, ["bob"]));
  assert.deepEqual([state.mentions("bob"), state.mentions("carol"), state.mentions("alice")], [3, 1, 0]);
  // An edit of message 2 moves the mention from bob to carol; a deletion of 3 takes bob's away.
  state.applyEvent({ kind: "edit", seq: 4, ts: 4, author: alice, clientId: "e", target: 2, text: "y" }, { ...msg(2, alice, ["carol"]), editedBy: 4 });
  state.applyEvent({ kind: "delete", seq: 5, ts: 5, author: carol, clientId: "d", target: 3 }, { ...msg(3, carol), text: "", deletedBy: 5 });
  assert.deepEqual([state.mentions("bob"), state.mentions("carol")], [1, 2]);
  state.applyRead("bob", 1);
  state.applyRead("carol", 1);
  assert.deepEqual([state.mentions("bob"), state.mentions("carol")], [0, 1]);
  const rebuilt = new ReadState(members, { bob: 1, carol: 1 }, [msg(1, alice, ["bob", "carol"]), { ...msg(2, alice, ["carol"]), editedBy: 4 }, { ...msg(3, carol), text: "", deletedBy: 5 }]);
  assert.deepEqual([rebuilt.mentions("bob"), rebuilt.mentions("carol"), rebuilt.unread("carol")], [0, 1, 1]);
});

test("PROTOCOL I3, R20: a replayed reaction gets its original ack, never a second count", () => {
  const { core } = makeCore();
  core.setReactionSet(1, "bob", undefined);
  ok(core.handle({ type: "send", clientId: "m", n: 1, text: "hi" }, alice, "s"));
  const first = ok(core.handle({ type: "react", clientId: "r1", n: 1, target: 1, emoji: "👍" }, bob, "s"));
  const again = core.handle({ type: "react", clientId: "r1", n: 1, target: 1, emoji: "👍" }, bob, "s");
  assert.equal(again.status, "duplicate");
  assert.equal((again as { ack: { seq: number } }).ack.seq, first.ack.seq);
  assert.equal(core.lastAssigned, 2);
  refused(core.handle({ type: "react", clientId: "r1", n: 2, target: 1, emoji: "🎉" }, bob, "s"), "clientid_reused");
});
