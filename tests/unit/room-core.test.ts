import { test } from "node:test";
import assert from "node:assert/strict";
import { RoomCore, type Outcome } from "../../party/core/room-core.ts";
import { sessionKey } from "../../party/core/room-keys.ts";
import { ClientFrame, RoomSettings, type Command, type Identity } from "../../party/protocol/index.ts";

const alice: Identity = { id: "alice", name: "Alice" };
const bob: Identity = { id: "bob", name: "Bob" };
const op: Identity = { id: "root", name: "Op", role: "operator" };

function makeCore(settings: Partial<RoomSettings> = {}, lastSeq = 0, aliceLastN = 0) {
  let now = 1_000;
  const core = new RoomCore({
    meta: { epoch: "E", lastSeq, createdAt: 0 },
    settings: RoomSettings.parse(settings),
    clock: () => now,
    dedupeWindow: 100,
    recentWindow: 100,
  });
  core.setSession(sessionKey("alice", "s"), { lastN: aliceLastN });
  for (const who of [bob, op]) core.setSession(sessionKey(who.id, "s"), undefined);
  core.loadDedupe([]);
  return { core, advance: (ms: number) => (now += ms) };
}

const send = (clientId: string, n: number, text = `t-${clientId}`): Command => ({ type: "send", clientId, n, text });

function accepted(outcome: Outcome) {
  assert.equal(outcome.status, "accepted", JSON.stringify(outcome));
  return outcome as Extract<Outcome, { status: "accepted" }>;
}

test("PROTOCOL I1, R1: seqs are lastSeq + 1, contiguous, stamped with the injected clock", () => {
  const { core } = makeCore({}, 41);
  const a = accepted(core.handle(send("a", 1), alice, "s"));
  const b = accepted(core.handle(send("b", 1), bob, "s"));
  assert.equal(a.ack.seq, 42);
  assert.equal(b.ack.seq, 43);
  assert.equal(a.event.ts, 1_000);
  assert.deepEqual(a.event.author, { id: "alice", name: "Alice" });
  const keys = a.writes.map(([k]) => k);
  assert.deepEqual(keys, ["m:000000000042", "s:alice:s", "meta"]);
});

test("PROTOCOL I3, R4: a resend of a known clientId gets the original ack, no new seq", () => {
  const { core } = makeCore();
  const first = accepted(core.handle(send("x", 1), alice, "s"));
  const again = core.handle(send("x", 1), alice, "s");
  assert.deepEqual(again, { status: "duplicate", ack: { ...first.ack, duplicate: true }, committed: false });
  core.commit([first]);
  // Once durable, a resend still answers with the original seq (and clientId), now marked committed.
  assert.deepEqual(core.handle(send("x", 1), alice, "s"), { status: "duplicate", ack: { ...first.ack, duplicate: true }, committed: true });
  assert.equal(core.lastAssigned, 1);
  // The next new command takes the next seq: the resends took none.
  assert.equal(accepted(core.handle(send("y", 2), alice, "s")).ack.seq, first.ack.seq + 1);
});

test("PROTOCOL I3 survives a restart: the map is rebuilt from the log", () => {
  const { core } = makeCore();
  const first = accepted(core.handle(send("x", 1), alice, "s"));
  core.commit([first]);
  const { core: restarted } = makeCore({}, 1, 1);
  restarted.loadDedupe([first.event]);
  const again = restarted.handle(send("x", 1), alice, "s");
  assert.deepEqual(again, { status: "duplicate", ack: { ...first.ack, duplicate: true }, committed: true }, "the original seq and clientId");
  assert.equal(restarted.lastAssigned, 1, "no new seq after the restart");
});

test("PROTOCOL I3: the same clientId under another user is a different message", () => {
  const { core } = makeCore();
  const a = accepted(core.handle(send("x", 1), alice, "s"));
  const b = accepted(core.handle(send("x", 1), bob, "s"));
  assert.notEqual(a.ack.seq, b.ack.seq, "two messages, two seqs");
  assert.deepEqual([a.ack.seq, b.ack.seq], [1, 2]);
  assert.deepEqual([a.event.author.id, a.event.clientId, b.event.author.id, b.event.clientId], ["alice", "x", "bob", "x"]);
  assert.equal(core.lastAssigned, 2);
  // Each resend is recognised as its own sender's message, with its own seq.
  const againA = core.handle(send("x", 1), alice, "s");
  const againB = core.handle(send("x", 1), bob, "s");
  assert.equal(againA.status === "duplicate" && againA.ack.seq, a.ack.seq);
  assert.equal(againB.status === "duplicate" && againB.ack.seq, b.ack.seq);
});

test("PROTOCOL I4, R5: a session's numbers must rise; a stale number is refused, a reused clientId too (PROTOCOL R4)", () => {
  const { core } = makeCore();
  accepted(core.handle(send("a", 1), alice, "s"));
  accepted(core.handle(send("b", 3), alice, "s"));
  const stale = core.handle(send("c", 2), alice, "s");
  assert.deepEqual(stale, { status: "rejected", error: { code: "out_of_order", expected: 4 } });
  const reused = core.handle(send("a", 4), alice, "s");
  assert.equal(reused.status === "rejected" && reused.error.code, "clientid_reused");
  assert.equal(core.lastAssigned, 2, "refusals take no seq");
});

test("PROTOCOL I8: empty and too-long text are refused and change nothing", () => {
  const { core } = makeCore({ maxTextChars: 10 });
  for (const [text, code] of [["   ", "text_empty"], ["x".repeat(11), "text_too_long"]] as const) {
    const outcome = core.handle(send("a", 1, text), alice, "s");
    assert.equal(outcome.status === "rejected" && outcome.error.code, code);
  }
  assert.equal(core.lastAssigned, 0);
  assert.equal(core.sessionLastN(sessionKey("alice", "s")), 0);
  accepted(core.handle(send("a", 1, "ok"), alice, "s"));
});

test("edits: author only, new seq naming the target, stored record updated (PROTOCOL R8)", () => {
  const { core } = makeCore();
  const msg = accepted(core.handle(send("m", 1, "hello"), alice, "s"));
  const foreign = core.handle({ type: "edit", clientId: "e0", n: 1, target: 1, text: "hacked" }, bob, "s");
  assert.equal(foreign.status === "rejected" && foreign.error.code, "forbidden");
  const edit = accepted(core.handle({ type: "edit", clientId: "e1", n: 2, target: 1, text: "hello!" }, alice, "s"));
  assert.equal(edit.ack.seq, 2);
  assert.deepEqual(edit.event, { kind: "edit", seq: 2, ts: 1000, author: { id: "alice", name: "Alice" }, clientId: "e1", target: 1, text: "hello!" });
  assert.deepEqual(edit.targetAfter, { ...msg.event, text: "hello!", editedBy: 2, editedAt: 1000 });
  assert.ok(edit.writes.some(([k, v]) => k === "m:000000000001" && JSON.parse(v as string).text === "hello!"));
});

test("deletes leave a tombstone; operators may delete others' messages; no second delete or edit (PROTOCOL R8)", () => {
  const { core } = makeCore();
  accepted(core.handle(send("m", 1, "secret"), alice, "s"));
  const byBob = core.handle({ type: "delete", clientId: "d0", n: 1, target: 1 }, bob, "s");
  assert.equal(byBob.status === "rejected" && byBob.error.code, "forbidden");
  const del = accepted(core.handle({ type: "delete", clientId: "d1", n: 1, target: 1 }, op, "s"));
  assert.equal(del.targetAfter?.deletedBy, 2);
  assert.equal(del.targetAfter?.text, "");
  const again = core.handle({ type: "edit", clientId: "e", n: 2, target: 1, text: "x" }, alice, "s");
  assert.equal(again.status === "rejected" && again.error.code, "already_deleted");
  const missing = core.handle({ type: "delete", clientId: "d2", n: 3, target: 99 }, alice, "s");
  assert.equal(missing.status === "rejected" && missing.error.code, "not_found");
  const notAMessage = core.handle({ type: "delete", clientId: "d3", n: 4, target: 2 }, op, "s");
  assert.equal(notAMessage.status === "rejected" && notAMessage.error.code, "not_found");
});

test("PROTOCOL I2 for reads: an edit not yet durable is invisible; the durable version is shown", () => {
  const { core } = makeCore();
  const msg = accepted(core.handle(send("m", 1, "v1"), alice, "s"));
  core.commit([msg]);
  const edit = accepted(core.handle({ type: "edit", clientId: "e", n: 2, target: 1, text: "v2" }, alice, "s"));
  const stored = JSON.stringify(edit.targetAfter);
  assert.equal(JSON.parse(core.visibleJson(1, stored)!).text, "v1");
  assert.equal(core.visibleJson(2, edit.eventJson), undefined);
  core.commit([edit]);
  assert.equal(JSON.parse(core.visibleJson(1, stored)!).text, "v2");
});

test("targets outside memory are asked of the shell", () => {
  const { core } = makeCore({}, 10);
  assert.deepEqual(core.missingTargets({ type: "edit", clientId: "e", n: 1, target: 5, text: "x" }), [5]);
  assert.deepEqual(core.missingTargets({ type: "edit", clientId: "e", n: 1, target: 11, text: "x" }), []);
  const outcome = core.handle({ type: "edit", clientId: "e", n: 1, target: 5, text: "x" }, alice, "s", {
    kind: "message", seq: 5, ts: 1, author: { id: "alice", name: "Alice" }, clientId: "old", text: "old",
  });
  assert.equal(accepted(outcome).ack.seq, 11);
});

test("settings: operators-only rooms refuse others; slow mode spaces a user's posts", () => {
  const { core } = makeCore({ whoMayPost: "operators" });
  const refused = core.handle(send("a", 1), alice, "s");
  assert.equal(refused.status === "rejected" && refused.error.code, "forbidden");
  accepted(core.handle(send("o", 1), op, "s"));
  const slow = makeCore({ slowModeMs: 5_000 });
  accepted(slow.core.handle(send("a", 1), alice, "s"));
  const tooSoon = slow.core.handle(send("b", 2), alice, "s");
  assert.deepEqual(tooSoon, { status: "rejected", error: { code: "slow_mode", retryAfterMs: 5_000 } });
  slow.advance(5_000);
  accepted(slow.core.handle(send("b", 2), alice, "s"));
});

test("validation at the boundary: wrong shapes are refused by the schema", () => {
  const bad: unknown[] = [
    { type: "send", clientId: "a", n: 1 },
    { type: "send", clientId: "a b", n: 1, text: "x" },
    { type: "send", clientId: "a", n: 0, text: "x" },
    { type: "send", clientId: "a", n: 1.5, text: "x" },
    { type: "shout", clientId: "a", n: 1, text: "x" },
    { type: "edit", clientId: "a", n: 1, target: "1", text: "x" },
    { type: "history", requestId: "r", limit: 10_000 },
    { type: "send", clientId: "a", n: 1, text: "x", attachments: [{ id: "f" }] },
  ];
  for (const frame of bad) assert.equal(ClientFrame.safeParse(frame).success, false, JSON.stringify(frame));
  assert.equal(ClientFrame.safeParse({ type: "send", clientId: "a", n: 1, text: "x" }).success, true);
});

test("a pending delete of an old target (outside memory) is seen by the next decisions: no second delete, no resurrection", () => {
  const { core } = makeCore({}, 500);
  const old = { kind: "message" as const, seq: 3, ts: 1, author: { id: "alice", name: "Alice" }, clientId: "old", text: "secret" };
  assert.deepEqual(core.missingTargets({ type: "delete", clientId: "d1", n: 1, target: 3 }), [3]);
  accepted(core.handle({ type: "delete", clientId: "d1", n: 1, target: 3 }, alice, "s", old));
  assert.deepEqual(core.missingTargets({ type: "edit", clientId: "e1", n: 2, target: 3, text: "x" }), [], "the overlay has it");
  // The shell would pass the last durable record (not deleted) as the loaded target: it must not win.
  const edit = core.handle({ type: "edit", clientId: "e1", n: 2, target: 3, text: "resurrected" }, alice, "s", old);
  assert.equal(edit.status === "rejected" && edit.error.code, "already_deleted");
  const again = core.handle({ type: "delete", clientId: "d2", n: 3, target: 3 }, alice, "s", old);
  assert.equal(again.status === "rejected" && again.error.code, "already_deleted");
});
