/** Group membership and roles (PROTOCOL I7): who may do what, the 500 limit, and what each event changes. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Membership, isRefusal } from "../../party/core/membership.ts";
import type { GroupEvent, Identity, MemberEvent, MembershipCommand } from "../../party/protocol/index.ts";

const who = (id: string): Identity => ({ id, name: id });
let seq = 0;
type Body = MembershipCommand extends infer C ? (C extends MembershipCommand ? Omit<C, "clientId" | "n"> : never) : never;
function run(m: Membership, command: Body, by: string) {
  const change = m.decide({ ...command, clientId: `c${seq}`, n: 1 } as MembershipCommand, who(by));
  if (isRefusal(change)) return change.code;
  const event = { ...change, seq: ++seq, ts: seq, author: who(by), clientId: `c${seq}` } as GroupEvent | MemberEvent;
  return m.apply(event);
}

describe("Membership", () => {
  it("makes the creator owner and refuses the 501st member (PROTOCOL R14)", () => {
    const m = new Membership(undefined, 500);
    const invited = Array.from({ length: 499 }, (_, i) => `u${i}`);
    assert.deepEqual(run(m, { type: "group.create", title: "big", members: invited }, "boss"), []);
    assert.equal(m.size, 500);
    assert.equal(m.roleOf("boss"), "owner");
    assert.equal(run(m, { type: "member.add", user: "one-too-many" }, "boss"), "group_full");
    assert.equal(m.size, 500, "refusal changed nothing");
    const tooBig = new Membership(undefined, 500);
    assert.equal(run(tooBig, { type: "group.create", title: "x", members: [...invited, "u499"] }, "boss"), "group_full");
    assert.equal(tooBig.exists, false);
  });

  it("lets moderators and owners add and remove, only owners change roles, nobody remove their peers", () => {
    const m = new Membership(undefined, 500);
    run(m, { type: "group.create", title: "team", members: ["mod", "ann", "bob"] }, "own");
    assert.equal(run(m, { type: "member.add", user: "carl" }, "ann"), "forbidden", "members do not add");
    assert.equal(run(m, { type: "member.role", user: "mod", role: "moderator" }, "ann"), "forbidden");
    assert.deepEqual(run(m, { type: "member.role", user: "mod", role: "moderator" }, "own"), []);
    assert.deepEqual(run(m, { type: "member.add", user: "carl" }, "mod"), []);
    assert.deepEqual(run(m, { type: "member.remove", user: "carl" }, "mod"), ["carl"]);
    assert.equal(run(m, { type: "member.remove", user: "own" }, "mod"), "forbidden", "a moderator cannot remove an owner");
    assert.equal(run(m, { type: "member.remove", user: "ghost" }, "own"), "not_found");
    assert.equal(run(m, { type: "member.add", user: "x" }, "outsider"), "not_member");
    assert.equal(run(m, { type: "group.rename", title: "t2" }, "bob"), "forbidden");
    assert.deepEqual(run(m, { type: "group.rename", title: "t2" }, "mod"), []);
    assert.equal(m.name, "t2");
    assert.equal(run(m, { type: "group.leave" }, "own"), "forbidden", "the last owner hands over first");
    assert.deepEqual(run(m, { type: "group.leave" }, "bob"), ["bob"]);
    assert.equal(m.has("bob"), false);
    assert.equal(run(m, { type: "group.create", title: "again", members: [] }, "ann"), "forbidden");
  });

  it("never lets an owner remove another owner, and a group emptied by its last member stays closed", () => {
    const m = new Membership(undefined, 10);
    run(m, { type: "group.create", title: "t", members: ["b"] }, "a");
    run(m, { type: "member.role", user: "b", role: "owner" }, "a");
    assert.equal(run(m, { type: "member.remove", user: "b" }, "a"), "forbidden");
    assert.deepEqual(run(m, { type: "group.leave" }, "b"), ["b"]);
    assert.deepEqual(run(m, { type: "group.leave" }, "a"), ["a"], "the last member may leave");
    assert.equal(m.size, 0);
    assert.equal(m.exists, true, "the group still exists, with nobody in it");
    assert.equal(run(m, { type: "group.create", title: "mine now", members: [] }, "mallory"), "forbidden", "nobody takes over its log");
    assert.equal(new Membership(m.toJSON(), 10).exists, true);
  });

  it("round-trips through its stored form", () => {
    const m = new Membership(undefined, 10);
    run(m, { type: "group.create", title: "t", members: ["a", "b"] }, "o");
    const copy = new Membership(m.toJSON(), 10);
    assert.deepEqual(copy.list(), m.list());
    assert.equal(copy.name, "t");
    assert.equal(copy.since("a"), m.since("a"));
  });
});
