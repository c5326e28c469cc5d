/**
 * Presence over y-protocols awareness (PROTOCOL R72-R75), checked against y-protocols itself: what the room
 * encodes, y-protocols' own `applyAwarenessUpdate` applies into a real `Awareness`; what a real `Awareness`
 * encodes (`encodeAwarenessUpdate`), kaiwa's decoder reads. Then the room's rules on plain data: ownership,
 * the stamped identity, the state bound, clocks across a reconnect, batching, malformed input.
 */
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import * as Y from "yjs";
import * as awarenessProtocol from "y-protocols/awareness";
import * as syncProtocol from "y-protocols/sync";
import * as encoding from "lib0/encoding";
import * as decoding from "lib0/decoding";
import { AwarenessStates } from "../../party/core/awareness-states.ts";
import { awarenessFrame, decodeAwarenessMessage, emptySyncStep2Frame, MESSAGE_AWARENESS, queryAwarenessFrame } from "../../party/protocol/awareness.ts";
import { LIMITS } from "../../party/protocol/limits.ts";
import { ClientAwareness } from "../../client/room-awareness.ts";
import { fakeClock } from "../helpers/fake-clock.ts";

const peers: awarenessProtocol.Awareness[] = [];
after(() => {
  for (const peer of peers) peer.destroy(); // stops y-protocols' own interval
});

/** A stock y-protocols Awareness, as a y-partykit provider holds one. */
function stockPeer(): awarenessProtocol.Awareness {
  const peer = new awarenessProtocol.Awareness(new Y.Doc());
  peers.push(peer);
  return peer;
}

/** A frame as y-websocket builds it: `[1][varUint8Array update]`. */
function frameOf(update: Uint8Array): Uint8Array {
  const encoder = encoding.createEncoder();
  encoding.writeVarUint(encoder, MESSAGE_AWARENESS);
  encoding.writeVarUint8Array(encoder, update);
  return encoding.toUint8Array(encoder);
}

/** What a y-websocket provider does with a frame: read the type, apply the update. */
function applyFrame(peer: awarenessProtocol.Awareness, frame: Uint8Array): void {
  const decoder = decoding.createDecoder(frame);
  assert.equal(decoding.readVarUint(decoder), MESSAGE_AWARENESS);
  awarenessProtocol.applyAwarenessUpdate(peer, decoding.readVarUint8Array(decoder), "room");
}

function harness() {
  const clock = fakeClock();
  const frames: Uint8Array[] = [];
  const states = new AwarenessStates({ now: clock.now, schedule: clock.schedule, broadcast: (f) => frames.push(f) }, 250);
  return { states, frames, advance: clock.advance, pendingTimers: clock.pending };
}

const alice = { id: "alice", name: "Alice" };
const bob = { id: "bob", name: "Bob" };

describe("the awareness wire against y-protocols (PROTOCOL R72)", () => {
  it("the room's flush applies in a stock Awareness: states with the stamped user, then their removal at the socket's close", () => {
    const { states, frames, advance } = harness();
    const peer = stockPeer();
    assert.equal(states.apply("s1", alice, [{ clientID: 11, clock: 1, state: { status: "away", user: { id: "mallory", name: "Mallory" } } }]), undefined);
    assert.equal(states.apply("s2", bob, [{ clientID: 22, clock: 5, state: { typing: true } }]), undefined);
    advance(250);
    assert.equal(frames.length, 1, "one frame for both changes");
    applyFrame(peer, frames[0]!);
    assert.deepEqual(peer.getStates().get(11), { status: "away", user: { id: "alice", name: "Alice" } }, "the token's identity, not the claim (PROTOCOL R73)");
    assert.deepEqual(peer.getStates().get(22), { typing: true, user: { id: "bob", name: "Bob" } });
    assert.equal(peer.meta.get(22)!.clock, 5, "the client's clock when it is ahead");

    states.socketClosed("s1");
    advance(250);
    applyFrame(peer, frames[1]!);
    assert.equal(peer.getStates().has(11), false, "gone at its socket's close");
    assert.equal(peer.getStates().has(22), true);
  });

  it("an update a stock Awareness encodes decodes in kaiwa's decoder, entry for entry", () => {
    const peer = stockPeer();
    peer.setLocalState({ status: "viewing", doc: "spec", n: 3 });
    const decoded = decodeAwarenessMessage(frameOf(awarenessProtocol.encodeAwarenessUpdate(peer, [peer.clientID])), 4);
    assert.equal(decoded.kind, "awareness");
    if (decoded.kind !== "awareness") return;
    assert.deepEqual(decoded.entries, [{ clientID: peer.clientID, clock: peer.meta.get(peer.clientID)!.clock, state: { status: "viewing", doc: "spec", n: 3 } }]);

    // And its removal (state null) takes the state out of the room.
    const { states, frames, advance } = harness();
    assert.equal(states.apply("s1", alice, decoded.entries), undefined);
    awarenessProtocol.removeAwarenessStates(peer, [peer.clientID], "test");
    const removal = decodeAwarenessMessage(frameOf(awarenessProtocol.encodeAwarenessUpdate(peer, [peer.clientID])), 4);
    assert.equal(removal.kind, "awareness");
    if (removal.kind !== "awareness") return;
    assert.equal(removal.entries[0]!.state, null);
    assert.equal(states.apply("s1", alice, removal.entries), undefined);
    advance(250);
    assert.equal(states.size, 0);
    const watcher = stockPeer();
    applyFrame(watcher, frames[0]!);
    assert.equal(watcher.getStates().has(peer.clientID), false);
  });

  it("kaiwa's frame builder writes what y-protocols' encoder writes", () => {
    const peer = stockPeer();
    peer.setLocalState({ a: 1 });
    const clock = peer.meta.get(peer.clientID)!.clock;
    assert.deepEqual(awarenessFrame([{ clientID: peer.clientID, clock, json: JSON.stringify({ a: 1 }) }]), frameOf(awarenessProtocol.encodeAwarenessUpdate(peer, [peer.clientID])));
  });

  it("the answer to sync step 1 is y-protocols' sync step 2 of an empty document", () => {
    const encoder = encoding.createEncoder();
    encoding.writeVarUint(encoder, 0);
    syncProtocol.writeSyncStep2(encoder, new Y.Doc());
    assert.deepEqual(emptySyncStep2Frame(), encoding.toUint8Array(encoder));
    const step1 = encoding.createEncoder();
    encoding.writeVarUint(step1, 0);
    syncProtocol.writeSyncStep1(step1, new Y.Doc());
    assert.deepEqual(decodeAwarenessMessage(encoding.toUint8Array(step1), 4), { kind: "sync-step1" });
    assert.deepEqual(decodeAwarenessMessage(queryAwarenessFrame(), 4), { kind: "query" });
  });

  it("a clientID that comes back with its old clock is still newer to every stock peer (the room numbers clocks)", () => {
    const { states, frames, advance } = harness();
    const peer = stockPeer();
    states.apply("s1", alice, [{ clientID: 7, clock: 3, state: {} }]);
    advance(250);
    states.socketClosed("s1");
    advance(250);
    states.apply("s2", alice, [{ clientID: 7, clock: 3, state: { back: true } }]); // a reconnect re-sends clock 3
    advance(250);
    for (const frame of frames) applyFrame(peer, frame);
    assert.deepEqual(peer.getStates().get(7), { back: true, user: alice });
  });

  it("kaiwa's client reads the room's frames into presence by user (PROTOCOL R75)", () => {
    const { states, frames, advance } = harness();
    let changes = 0;
    const client = new ClientAwareness({ send: () => true, schedule: () => ({ cancel() {} }), changed: () => changes++, publishes: false });
    states.apply("s1", alice, [{ clientID: 1, clock: 1, state: { status: "away" } }]);
    states.apply("s2", alice, [{ clientID: 2, clock: 1, state: {} }]);
    states.apply("s3", bob, [{ clientID: 3, clock: 1, state: { typing: true } }]);
    advance(250);
    client.welcomed();
    assert.equal(client.frame(frames[0]!), true);
    assert.deepEqual([...client.presence.keys()].sort(), ["alice", "bob"]);
    assert.equal(client.presence.get("alice")!.length, 2, "one state per connection");
    assert.equal(client.presence.get("bob")![0]!.typing, true);
    states.socketClosed("s3");
    advance(250);
    client.frame(frames[1]!);
    assert.equal(client.presence.has("bob"), false);
    assert.equal(changes, 2);
  });
});

describe("the room's awareness rules (PROTOCOL R73, R74)", () => {
  it("a clientID owned by another connection is refused whole: nothing of the update changes", () => {
    const { states, frames, advance } = harness();
    states.apply("s1", alice, [{ clientID: 1, clock: 1, state: { status: "here" } }]);
    const refused = states.apply("s2", bob, [
      { clientID: 2, clock: 1, state: {} },
      { clientID: 1, clock: 9, state: { status: "hijacked" } },
    ]);
    assert.equal(refused?.code, "forbidden");
    assert.equal(states.apply("s2", bob, [{ clientID: 1, clock: 10, state: null }])?.code, "forbidden", "nor may it remove another's");
    advance(250);
    const peer = stockPeer();
    applyFrame(peer, frames[0]!);
    assert.deepEqual([...peer.getStates().keys()].filter((id) => id !== peer.clientID), [1]);
    assert.deepEqual(peer.getStates().get(1), { status: "here", user: alice });
  });

  it("a state over maxAwarenessStateBytes, with the stamp, is refused; at the bound it passes", () => {
    const { states } = harness();
    const stampBytes = JSON.stringify({ pad: "", user: alice }).length;
    const fits = { pad: "x".repeat(LIMITS.maxAwarenessStateBytes - stampBytes) };
    assert.equal(states.apply("s1", alice, [{ clientID: 1, clock: 1, state: fits }]), undefined);
    const over = { pad: "é".repeat(LIMITS.maxAwarenessStateBytes / 2) }; // counted in UTF-8 bytes
    assert.equal(states.apply("s1", alice, [{ clientID: 1, clock: 2, state: over }])?.code, "frame_too_large");
    assert.equal(states.size, 1);
  });

  it("one connection owns at most maxAwarenessClientsPerSocket clientIDs; its close frees them", () => {
    const { states } = harness();
    for (let id = 1; id <= LIMITS.maxAwarenessClientsPerSocket; id++) assert.equal(states.apply("s1", alice, [{ clientID: id, clock: 1, state: {} }]), undefined);
    assert.equal(states.apply("s1", alice, [{ clientID: 99, clock: 1, state: {} }])?.code, "limit_reached");
    assert.equal(states.apply("s1", alice, [{ clientID: 1, clock: 2, state: { again: true } }]), undefined, "an owned one still updates");
    states.socketClosed("s1");
    assert.equal(states.size, 0);
    assert.equal(states.apply("s1", alice, [{ clientID: 99, clock: 1, state: {} }]), undefined);
  });

  it("a flood is batched: 1,000 updates from 10 connections in a window are one frame, each clientID's latest state once", () => {
    const { states, frames, advance, pendingTimers } = harness();
    for (let i = 0; i < 1000; i++) states.apply(`s${i % 10}`, { id: `u${i % 10}`, name: `U${i % 10}` }, [{ clientID: 100 + (i % 10), clock: i + 1, state: { n: i } }]);
    advance(0); // the first change after a quiet window goes out at once, with all made in the same turn
    assert.equal(frames.length, 1);
    const decoded = decodeAwarenessMessage(frames[0]!, Infinity);
    assert.equal(decoded.kind, "awareness");
    if (decoded.kind !== "awareness") return;
    assert.equal(decoded.entries.length, 10);
    for (const entry of decoded.entries) assert.equal((entry.state as { n: number }).n, 990 + (entry.clientID - 100));
    // Then the next window: no interval, nothing armed while nothing changes (an idle room sleeps).
    assert.equal(pendingTimers(), 0);
    states.apply("s0", { id: "u0", name: "U0" }, [{ clientID: 100, clock: 5000, state: { n: -1 } }]);
    advance(100);
    assert.equal(frames.length, 1, "not before the window since the last flush");
    advance(150);
    assert.equal(frames.length, 2);
  });

  it("renewals (the same state, a new clock) wait up to awarenessRenewBatchMs, ride along with any change, and still refresh stock peers", () => {
    const { states, frames, advance } = harness();
    const peer = stockPeer();
    for (let i = 0; i < 50; i++) states.apply(`s${i}`, { id: `u${i}`, name: "U" }, [{ clientID: i + 1, clock: 1, state: { status: "here" } }]);
    advance(0);
    assert.equal(frames.length, 1);
    applyFrame(peer, frames[0]!);
    advance(1000);
    for (let i = 0; i < 50; i++) states.apply(`s${i}`, { id: `u${i}`, name: "U" }, [{ clientID: i + 1, clock: 2, state: { status: "here" } }]);
    advance(0);
    assert.equal(frames.length, 2, "the first renewals after a quiet spell go at once");
    for (let i = 0; i < 50; i++) states.apply(`s${i}`, { id: `u${i}`, name: "U" }, [{ clientID: i + 1, clock: 3, state: { status: "here" } }]);
    advance(LIMITS.awarenessRenewBatchMs - 1);
    assert.equal(frames.length, 2, "later ones wait for the renewal batch");
    advance(1);
    assert.equal(frames.length, 3);
    applyFrame(peer, frames[2]!);
    assert.equal(peer.meta.get(1)!.clock, 3, "a stock peer sees the new clock (its outdatedTimeout restarts)");
    states.apply("s0", { id: "u0", name: "U" }, [{ clientID: 1, clock: 4, state: { status: "here" } }]);
    states.apply("s1", { id: "u1", name: "U" }, [{ clientID: 2, clock: 4, state: { status: "away" } }]);
    advance(LIMITS.signalWindowMs);
    assert.equal(frames.length, 4, "a change flushes at the window, the pending renewal with it");
    const decoded = decodeAwarenessMessage(frames[3]!, Infinity);
    assert.equal(decoded.kind === "awareness" && decoded.entries.length, 2);
  });

  it("a flush bigger than awarenessFrameBytes is split, every entry once", () => {
    const { states, frames, advance } = harness();
    const users = Math.ceil((2 * LIMITS.awarenessFrameBytes) / 900) + 1;
    for (let i = 0; i < users; i++) states.apply(`s${i}`, { id: `u${i}`, name: "U" }, [{ clientID: i + 1, clock: 1, state: { pad: "x".repeat(850) } }]);
    advance(250);
    assert.ok(frames.length >= 3 && frames.length <= 4, `${frames.length} frames`);
    const peer = stockPeer();
    for (const frame of frames) applyFrame(peer, frame);
    assert.equal(peer.getStates().size, users + 1 /* the peer's own */);
  });

  it("malformed frames decode as malformed, never throw", () => {
    const cases: Array<[string, Uint8Array]> = [
      ["empty", new Uint8Array()],
      ["a truncated varint", Uint8Array.of(0x81)],
      ["an unknown type", Uint8Array.of(9)],
      ["a truncated update", Uint8Array.of(1, 5, 1, 7)],
      ["bytes after the update", Uint8Array.of(...awarenessFrame([{ clientID: 1, clock: 1, json: "{}" }]), 0)],
      ["bad JSON", awarenessFrame([{ clientID: 1, clock: 1, json: "{nope" }])],
      ["an array state", awarenessFrame([{ clientID: 1, clock: 1, json: "[1]" }])],
      ["a number state", awarenessFrame([{ clientID: 1, clock: 1, json: "3" }])],
      ["too many entries", awarenessFrame([1, 2, 3, 4, 5].map((clientID) => ({ clientID, clock: 1, json: "{}" })))],
      ["query with a payload", Uint8Array.of(3, 0)],
    ];
    for (const [what, bytes] of cases) assert.equal(decodeAwarenessMessage(bytes, LIMITS.maxAwarenessClientsPerSocket).kind, "malformed", what);
  });
});
