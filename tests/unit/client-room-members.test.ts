/** The client's view of who is present: lists apply, an audience frame (count alone) forgets the names. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { RoomMembers } from "../../client/room-members.ts";

describe("client RoomMembers presence", () => {
  it("applies joined and left, and clears the names when the room sends the count alone", () => {
    const members = new RoomMembers();
    members.presence({ type: "presence", joined: ["a", "b", "c"], left: [], count: 3 });
    members.presence({ type: "presence", joined: [], left: ["b"], count: 2 });
    assert.deepEqual([...members.present].sort(), ["a", "c"]);
    assert.equal(members.occupancy, 2);
    members.presence({ type: "presence", joined: [], left: [], count: 150, listed: false });
    assert.equal(members.present.size, 0, "names the room no longer reports are not shown as present");
    assert.equal(members.occupancy, 150);
    // The room names everyone present in its first named frame after an audience spell.
    members.presence({ type: "presence", joined: ["a", "d"], left: [], count: 80 });
    assert.deepEqual([...members.present].sort(), ["a", "d"]);
  });
});
