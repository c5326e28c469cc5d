/** PROTOCOL R81: which room the directory drops past its bound (party/directory/room-bound.ts). */
import assert from "node:assert/strict";
import { test } from "node:test";
import { evictionFor, overBound } from "../../party/directory/room-bound.ts";
import type { RoomEntry } from "../../party/protocol/admin-schema.ts";

function entry(room: string, connections: number, updatedAt: number, observers = 0): RoomEntry {
  return { room, kind: "room", bootId: "b", epoch: "e", lastSeq: 0, connections, observers, messagesTotal: 0, messagesPerSecond: 0, errors: {}, ackLatency: { bucketsMs: [], counts: [], count: 0, sumMs: 0 }, archiveLag: 0, reportFailures: 0, updatedAt } as unknown as RoomEntry;
}

test("PROTOCOL R81: the least recently reported idle room goes first, busy rooms stay", () => {
  const kept = [entry("busy-old", 5, 1), entry("idle-old", 0, 2), entry("idle-new", 0, 3), entry("busy-new", 1, 4)];
  assert.equal(evictionFor(kept, entry("newcomer", 0, 10)), "idle-old");
  assert.equal(evictionFor(kept, entry("newcomer", 2, 10)), "idle-old");
  // An observer (the dashboard's live tail) makes a room busy too.
  assert.equal(evictionFor([entry("watched", 0, 1, 1), entry("idle", 0, 2)], entry("n", 0, 10)), "idle");
});

test("PROTOCOL R81: with no idle room, the one with the fewest sockets goes; a newcomer that would go first is not kept", () => {
  const kept = [entry("five", 5, 1), entry("one-old", 1, 2), entry("one-new", 1, 3)];
  assert.equal(evictionFor(kept, entry("two", 2, 10)), "one-old");
  assert.equal(evictionFor(kept, entry("idle", 0, 10)), "idle", "an idle newcomer into a directory full of busy rooms");
  assert.equal(evictionFor([], entry("alone", 0, 1)), "alone");
});

test("PROTOCOL R81: a lowered bound drops, at load, the rooms that would go first", () => {
  const entries = [entry("busy", 3, 1), entry("idle-a", 0, 5), entry("idle-b", 0, 2), entry("quiet", 1, 9)];
  assert.deepEqual(overBound(entries, 4), []);
  assert.deepEqual(overBound(entries, 2), ["idle-b", "idle-a"]);
  assert.deepEqual(overBound(entries, 1), ["idle-b", "idle-a", "quiet"]);
});
