import { test } from "node:test";
import assert from "node:assert/strict";
import { ConnectQuery, HistoryQuery } from "../../party/protocol/index.ts";
import { CLOSE, type Identity } from "../../party/protocol/index.ts";
import { awarenessRefusal, fileReadRefusal, httpReadRefusal, isOperator, logReadRefusal, mayJoin, readMarkRefusal, socketReadRefusal, socketRefusal, typingRefusal } from "../../party/core/access.ts";
import { Membership } from "../../party/core/membership.ts";
import { Moderation } from "../../party/core/moderation.ts";

const user = (id: string) => ({ id, name: id });

test("a DM room admits its two participants only, and only in canonical (sorted) form", () => {
  assert.equal(mayJoin("dm:alice:bob", user("alice")), true);
  assert.equal(mayJoin("dm:alice:bob", user("bob")), true);
  assert.equal(mayJoin("dm:alice:bob", user("carol")), false);
  assert.equal(mayJoin("dm:alice:bob", { id: "ops", name: "ops", role: "operator" }), false);
  assert.equal(mayJoin("dm:bob:alice", user("alice")), false, "unsorted ids would make a second room for the pair");
  assert.equal(mayJoin("dm:alice:alice", user("alice")), false);
  assert.equal(mayJoin("dm:alice:bob:x", user("alice")), false);
  assert.equal(mayJoin("dm%3Aalice%3Abob", user("carol")), false, "an encoded DM id is guarded too");
  assert.equal(mayJoin("general", user("carol")), true);
});

test("connect and history queries are parsed with zod", () => {
  assert.equal(ConnectQuery.safeParse({ session: "s1" }).success, true);
  assert.equal(ConnectQuery.safeParse({ session: "s1", epoch: "E" }).success, false, "epoch without lastSeq");
  assert.deepEqual(ConnectQuery.parse({ session: "s1", epoch: "E", lastSeq: "7" }), { session: "s1", epoch: "E", lastSeq: 7 });
  assert.equal(ConnectQuery.safeParse({ session: "bad id" }).success, false);
  assert.deepEqual(HistoryQuery.parse({}), { limit: 50 });
  assert.equal(HistoryQuery.safeParse({ limit: "100000" }).success, false);
  assert.equal(HistoryQuery.safeParse({ before: "-1" }).success, false);
});

// ---- The room's access rules as tables over plain data (PROTOCOL I7): every role against every kind of room.

const NOW = 1_000_000;
const alice = user("alice"); // a group's member, a DM's participant
const bob = user("bob");
const carol = user("carol"); // a member of nothing: the outsider on every path
const eve = user("eve"); // banned where restrictions apply
const mutt = user("mutt"); // muted
const ops: Identity = { id: "ops", name: "ops", role: "operator" };

/** A created group with alice (owner) and bob, eve and mutt (members); carol and ops are not in it. */
const group = new Membership({ title: "G", members: { alice: { role: "owner", since: 1 }, bob: { role: "member", since: 1 }, eve: { role: "member", since: 1 }, mutt: { role: "member", since: 1 } }, created: true }, 500);
/** A group id nobody created yet: its membership exists (a `g:` room) with no members. */
const uncreated = new Membership(undefined, 500);
const restrictions = new Moderation([["mod:eve", { banUntil: NOW + 60_000 }], ["mod:mutt", { muteUntil: NOW + 60_000 }]]);
const none = new Moderation();

const ROOMS = {
  open: { rawId: "general", group: undefined },
  dm: { rawId: "dm:alice:bob", group: undefined },
  dmEncoded: { rawId: "dm%3Aalice%3Abob", group: undefined },
  notices: { rawId: "notices:alice", group: undefined },
  group: { rawId: "g:team", group },
  uncreated: { rawId: "g:new", group: uncreated },
} as const;
type RoomName = keyof typeof ROOMS;

test("opening a socket: mayJoin, then observing, then bans, then a created group's members (codes and close codes)", () => {
  const F = { code: "forbidden", close: CLOSE.forbidden };
  const M = { code: "not_member", close: CLOSE.notMember };
  const B = { code: "banned", close: CLOSE.banned };
  const ok = undefined;
  // [room, who, observing, expected]
  const table: Array<[RoomName, Identity, boolean, { code: string; close: number } | undefined]> = [
    ["open", carol, false, ok],
    ["open", carol, true, F], // observing is for operators only
    ["open", ops, true, ok],
    ["open", eve, false, B],
    ["open", eve, true, F], // the observer check comes before the ban
    ["open", mutt, false, ok], // a mute does not keep anyone out
    ["dm", alice, false, ok],
    ["dm", bob, false, ok],
    ["dm", carol, false, F],
    ["dm", ops, false, F], // operators read DMs through the audited admin route only
    ["dm", ops, true, F],
    ["dmEncoded", carol, false, F],
    ["dmEncoded", alice, false, ok],
    ["notices", alice, false, ok],
    ["notices", bob, false, F],
    ["notices", ops, false, F],
    ["group", alice, false, ok],
    ["group", carol, false, M],
    ["group", carol, true, F],
    ["group", ops, false, M],
    ["group", ops, true, ok], // the dashboard's live tail
    ["group", eve, false, B],
    ["uncreated", carol, false, ok], // its creator needs the socket before the group exists
  ];
  for (const [room, who, observing, expected] of table) {
    const refused = socketRefusal({ ...ROOMS[room], restrictions: room === "dm" || room === "notices" ? none : restrictions }, who, observing, NOW);
    assert.deepEqual(refused && { code: refused.code, close: refused.close }, expected, `${who.id} ${observing ? "observing " : ""}${room}`);
  }
  assert.match(socketRefusal({ ...ROOMS.notices, restrictions: none }, bob, false, NOW)!.message!, /another user's notices/);
  assert.match(socketRefusal({ ...ROOMS.dm, restrictions: none }, carol, false, NOW)!.message!, /direct conversation between two other users/);
  const ban = socketRefusal({ ...ROOMS.open, restrictions }, eve, false, NOW)!;
  assert.equal(ban.retryAfterMs, 60_000, "the ban's expiry travels with the refusal");
  assert.equal(socketRefusal({ ...ROOMS.open, restrictions }, eve, false, NOW + 60_000), undefined, "an expired ban admits");
});

test("reading over an admitted socket: a group's members and observers; every other room's admitted sockets", () => {
  const table: Array<[RoomName, Identity, boolean, string | undefined]> = [
    ["open", carol, false, undefined],
    ["dm", alice, false, undefined],
    ["group", alice, false, undefined],
    ["group", carol, false, "not_member"], // a socket admitted before the group was created, or removed since
    ["group", ops, true, undefined],
    ["group", ops, false, "not_member"],
    ["uncreated", carol, false, "not_member"], // nothing to read before the group exists
    ["uncreated", carol, true, undefined],
  ];
  for (const [room, who, observer, expected] of table) {
    assert.equal(socketReadRefusal(ROOMS[room].group, { who, observer })?.code, expected, `${who.id} ${room}`);
  }
});

test("every HTTP read (history, thread, pins, log pages, files): the non-member is refused on each", () => {
  // [room, who, history/thread/pins, files, log pages (not public)]
  type Codes = [string | undefined, string | undefined, string | undefined];
  const table: Array<[RoomName, Identity, Codes]> = [
    ["open", carol, [undefined, undefined, undefined]],
    ["open", eve, ["banned", "banned", "banned"]], // a ban shuts every read as it shuts the socket (PROTOCOL R40)
    ["dm", alice, [undefined, undefined, undefined]],
    ["dm", carol, ["forbidden", "forbidden", "forbidden"]],
    ["dm", ops, ["forbidden", "forbidden", "forbidden"]], // never a DM's content outside the audited route
    ["dmEncoded", carol, ["forbidden", "forbidden", "forbidden"]],
    ["notices", alice, [undefined, undefined, undefined]],
    ["notices", bob, ["forbidden", "forbidden", "forbidden"]],
    ["group", alice, [undefined, undefined, undefined]],
    ["group", carol, ["not_member", "not_member", "not_member"]],
    ["group", ops, ["not_member", undefined, "not_member"]], // operators see a group's files (the dashboard's thumbnails)
    ["group", eve, ["banned", "banned", "banned"]],
    ["uncreated", carol, ["not_member", "not_member", "not_member"]],
  ];
  for (const [room, who, [read, file, log]] of table) {
    const facts = ROOMS[room];
    const restricted = room === "dm" || room === "notices" ? none : restrictions;
    assert.equal(httpReadRefusal({ ...facts, restrictions: restricted }, who, NOW)?.code, read, `history of ${room} for ${who.id}`);
    assert.equal(fileReadRefusal({ ...facts, restrictions: restricted }, who, NOW)?.code, file, `files of ${room} for ${who.id}`);
    assert.equal(logReadRefusal({ ...facts, restrictions: restricted, isPublic: false }, who, NOW)?.code, log, `log of ${room} for ${who.id}`);
    assert.equal(logReadRefusal({ ...facts, restrictions: restricted, isPublic: true }, who, NOW), undefined, "a public log is anyone's");
  }
  assert.equal(logReadRefusal({ ...ROOMS.open, restrictions: none, isPublic: false }, undefined, NOW)?.code, "unauthorized");
  assert.equal(logReadRefusal({ ...ROOMS.open, restrictions: none, isPublic: true }, undefined, NOW), undefined);
});

test("showing as typing: who may post (members, recipients, not notices, not when operators post; in a live room its hosts and operators), not muted or banned", () => {
  const dmRecipients = { has: (u: string) => u === "alice" || u === "bob" || u === "mutt" };
  type Facts = Parameters<typeof typingRefusal>[0];
  const open: Facts = { kind: "room", whoMayPost: "everyone", restrictions };
  const table: Array<[string, Facts, Identity, string | undefined]> = [
    ["open room", open, carol, undefined],
    ["open room, muted", open, mutt, "muted"],
    ["open room, banned", open, eve, "banned"],
    ["operators-only room", { ...open, whoMayPost: "operators" }, carol, "forbidden"],
    ["operators-only room", { ...open, whoMayPost: "operators" }, ops, undefined],
    ["DM, participant", { kind: "dm", recipients: dmRecipients, whoMayPost: "everyone", restrictions }, alice, undefined],
    ["DM, muted participant", { kind: "dm", recipients: dmRecipients, whoMayPost: "everyone", restrictions }, mutt, "muted"],
    ["DM, outsider", { kind: "dm", recipients: dmRecipients, whoMayPost: "everyone", restrictions }, carol, "forbidden"],
    ["DM before its link loaded", { kind: "dm", whoMayPost: "everyone", restrictions }, carol, undefined],
    ["notices, owner", { kind: "notices", recipients: { has: (u) => u === "alice" }, whoMayPost: "everyone", restrictions: none }, alice, "forbidden"],
    ["group, member", { kind: "group", group, whoMayPost: "everyone", restrictions }, alice, undefined],
    ["group, outsider", { kind: "group", group, whoMayPost: "everyone", restrictions }, carol, "forbidden"],
    ["group, operator", { kind: "group", group, whoMayPost: "everyone", restrictions }, ops, "forbidden"],
    ["group, banned member", { kind: "group", group, whoMayPost: "everyone", restrictions }, eve, "banned"],
    ["uncreated group", { kind: "group", group: uncreated, whoMayPost: "everyone", restrictions }, carol, "forbidden"],
    ["live room, viewer", { kind: "live", whoMayPost: "everyone", restrictions, hosts: ["alice"] }, carol, "forbidden"],
    ["live room, host", { kind: "live", whoMayPost: "everyone", restrictions, hosts: ["alice"] }, alice, undefined],
    ["live room, operator", { kind: "live", whoMayPost: "everyone", restrictions, hosts: ["alice"] }, ops, undefined],
    ["live room, muted host", { kind: "live", whoMayPost: "everyone", restrictions, hosts: ["mutt"] }, mutt, "muted"],
    ["live room without hosts, viewer", { kind: "live", whoMayPost: "everyone", restrictions }, carol, "forbidden"],
  ];
  for (const [name, facts, who, expected] of table) assert.equal(typingRefusal(facts, who, NOW)?.code, expected, `${name}: ${who.id}`);
});

test("publishing awareness: never observers; in a live room only its hosts and operators", () => {
  const live = { kind: "live" as const, hosts: ["alice"] };
  const table: Array<[string, Parameters<typeof awarenessRefusal>[0], Identity, boolean, string | undefined]> = [
    ["open room", { kind: "room" }, carol, false, undefined],
    ["open room, observer", { kind: "room" }, ops, true, "forbidden"],
    ["group", { kind: "group" }, alice, false, undefined],
    ["live, host", live, alice, false, undefined],
    ["live, viewer", live, carol, false, "forbidden"],
    ["live, no hosts set", { kind: "live" }, carol, false, "forbidden"],
    ["live, operator", live, ops, false, undefined],
    ["live, host observing", live, alice, true, "forbidden"],
  ];
  for (const [name, room, who, observer, expected] of table) assert.equal(awarenessRefusal(room, { who, observer })?.code, expected, `${name}: ${who.id}`);
});

test("read positions: the room's recipients only, never past the committed seq; operator routes: operators only", () => {
  const room = { recipients: { has: (u: string) => u === "alice" }, committedSeq: 10 };
  assert.equal(readMarkRefusal(room, alice, 10), undefined);
  assert.equal(readMarkRefusal(room, alice, 11)?.code, "read_out_of_range");
  assert.equal(readMarkRefusal(room, carol, 1)?.code, "not_member", "a non-member is refused before the range is looked at");
  assert.equal(readMarkRefusal(room, ops, 1)?.code, "not_member");
  assert.equal(isOperator(ops), true);
  assert.equal(isOperator(alice), false);
});
