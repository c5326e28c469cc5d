import { test } from "node:test";
import assert from "node:assert/strict";
import { Moderation } from "../../party/core/moderation.ts";
import { moderationKey } from "../../party/core/room-keys.ts";
import { RoomCore, type Outcome } from "../../party/core/room-core.ts";
import { sessionKey } from "../../party/core/room-keys.ts";
import { RoomEvent, RoomSettings, type Identity } from "../../party/protocol/index.ts";

const alice: Identity = { id: "alice", name: "Alice" };
const op: Identity = { id: "root", name: "Op", role: "operator" };

test("ban refuses every command and connecting until it expires; operators are never restricted", () => {
  const m = new Moderation();
  assert.deepEqual(m.apply("ban", "alice", 5_000), [moderationKey("alice"), { banUntil: 5_000 }]);
  for (const kind of ["send", "edit", "delete", "connect"] as const) {
    const refusal = m.refusal(alice, kind, 1_000);
    assert.equal(refusal?.code, "banned", kind);
    assert.equal(refusal?.retryAfterMs, 4_000);
  }
  assert.equal(m.refusal(alice, "send", 5_000), undefined, "expired at until");
  assert.equal(m.refusal({ ...op, id: "alice" }, "send", 1_000), undefined);
});

test("mute refuses posting (send, edit) but not deleting own messages or connecting", () => {
  const m = new Moderation();
  m.apply("mute", "alice", 5_000);
  assert.equal(m.refusal(alice, "send", 1_000)?.code, "muted");
  assert.equal(m.refusal(alice, "edit", 1_000)?.code, "muted");
  assert.equal(m.refusal(alice, "delete", 1_000), undefined);
  assert.equal(m.refusal(alice, "connect", 1_000), undefined);
  assert.equal(m.isMuted("alice", 1_000), true);
});

test("unban and unmute lift only their own restriction; the write clears the stored entry", () => {
  const m = new Moderation();
  m.apply("ban", "alice", 9_000);
  m.apply("mute", "alice", 9_000);
  assert.deepEqual(m.apply("unban", "alice", undefined), [moderationKey("alice"), { muteUntil: 9_000 }]);
  assert.equal(m.refusal(alice, "send", 1_000)?.code, "muted");
  assert.deepEqual(m.apply("unmute", "alice", undefined), [moderationKey("alice"), {}]);
  assert.equal(m.refusal(alice, "send", 1_000), undefined);
  assert.deepEqual(m.active(1_000), []);
  assert.throws(() => m.apply("ban", "alice", undefined), /expiry/);
});

test("state loads from storage entries and lists only what is in force", () => {
  const m = new Moderation([
    [moderationKey("alice"), { banUntil: 5_000 }],
    [moderationKey("bob"), { muteUntil: 500 }],
    [moderationKey("carol"), {}],
  ]);
  assert.equal(m.isBanned("alice", 1_000), true);
  assert.deepEqual(m.active(1_000), [{ user: "alice", banUntil: 5_000 }]);
});

function makeCore() {
  let now = 1_000;
  const core = new RoomCore({ meta: { epoch: "E", lastSeq: 7, createdAt: 0 }, settings: RoomSettings.parse({}), clock: () => now, dedupeWindow: 100, recentWindow: 100 });
  core.setSession(sessionKey("alice", "s"), undefined);
  core.loadDedupe([]);
  return { core, advance: (ms: number) => (now += ms) };
}

function accepted(outcome: Outcome | ReturnType<RoomCore["system"]>) {
  assert.equal(outcome.status, "accepted", JSON.stringify(outcome));
  return outcome as Extract<Outcome, { status: "accepted" }>;
}

test("core: announcements and moderation are sequenced events (PROTOCOL I1) with their state in the same batch", () => {
  const { core, advance } = makeCore();
  const notice = accepted(core.system({ type: "announcement", text: "hi all" }, op, "c1"));
  assert.equal(notice.ack.seq, 8);
  assert.deepEqual(RoomEvent.parse(JSON.parse(notice.eventJson)), { kind: "announcement", seq: 8, ts: 1_000, author: { id: "root", name: "Op" }, clientId: "c1", text: "hi all" });
  const ban = accepted(core.system({ type: "moderation", action: "ban", user: "alice", until: 61_000 }, op, "c2"));
  assert.equal(ban.ack.seq, 9);
  assert.deepEqual(ban.writes.map(([key]) => key), ["mod:alice", "m:000000000009", "meta"]);
  assert.deepEqual(ban.writes[0]![1], { banUntil: 61_000 });
  // The ban applies to the next command at once, with a typed error and nothing written.
  const refused = core.handle({ type: "send", clientId: "a1", n: 1, text: "hello" }, alice, "s");
  assert.equal(refused.status, "rejected");
  assert.equal((refused as { error: { code: string } }).error.code, "banned");
  assert.equal(core.lastAssigned, 9);
  advance(60_000);
  accepted(core.handle({ type: "send", clientId: "a1", n: 1, text: "back" }, alice, "s"));
});

test("core: a retried admin action with the same clientId gets the original seq (PROTOCOL I3)", () => {
  const { core } = makeCore();
  const first = accepted(core.system({ type: "announcement", text: "once" }, op, "same"));
  const again = core.system({ type: "announcement", text: "once" }, op, "same");
  assert.deepEqual(again, { status: "duplicate", ack: { ...first.ack, duplicate: true }, committed: false });
  core.commit([first]);
  assert.equal((core.system({ type: "announcement", text: "once" }, op, "same") as { committed: boolean }).committed, true);
  assert.equal(core.lastAssigned, 8);
  assert.equal(core.knows("root", "same"), true);
});
