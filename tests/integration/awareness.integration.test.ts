/**
 * Presence over y-protocols awareness against a real `partykit dev` (PROTOCOL R72-R75): a plain y-protocols
 * `Awareness` over a raw WebSocket (as a y-partykit app would hold one, not kaiwa's client) sees kaiwa users
 * come with their stamped identity and app state, sees them type, and sees them go when their socket
 * closes; kaiwa's client sees the stock peer. Then what hostile or unlucky clients get: a spoofed clientID,
 * an oversized state, a flood (batched), malformed frames (typed errors, nothing changed, the next command
 * gets lastSeq + 1), a non-member of the private group (nothing), an observer (reads, may not publish), a
 * live room's viewer (may not publish).
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import WebSocket from "ws";
import * as Y from "yjs";
import * as awarenessProtocol from "y-protocols/awareness";
import * as encoding from "lib0/encoding";
import * as decoding from "lib0/decoding";
import { KaiwaRoom } from "../../client/index.ts";
import { DevServer, waitFor } from "../helpers/dev-server.ts";
import { rawSocket } from "../helpers/raw-socket.ts";
import { awarenessFrame, decodeAwarenessMessage, queryAwarenessFrame } from "../../party/protocol/awareness.ts";
import { LIMITS } from "../../party/protocol/limits.ts";

const GROUP = "g:aware";
const server = new DevServer();
const rooms: KaiwaRoom[] = [];
const peers: awarenessProtocol.Awareness[] = [];

before(() => server.start());
after(async () => {
  for (const room of rooms) room.close();
  for (const peer of peers) peer.destroy();
  await server.stop();
});

function client(user: string, room = GROUP): KaiwaRoom {
  const r = new KaiwaRoom({ host: server.host, room, token: () => server.token(user, { name: user.toUpperCase() }), WebSocket, backoff: { baseMs: 100, capMs: 1000 } });
  rooms.push(r);
  return r;
}

/**
 * A stock y-protocols Awareness on its own socket, wired as y-websocket wires one: binary frames of type 1
 * go to `applyAwarenessUpdate`, its local changes go out as type 1 frames. Counts the binary frames it gets.
 */
async function stockPeer(user: string, room = GROUP) {
  const socket = await rawSocket(server, room, { token: await server.token(user, { name: user.toUpperCase() }), session: `${user}-yjs` });
  await socket.next((f) => f.type === "welcome");
  const peer = new awarenessProtocol.Awareness(new Y.Doc());
  peers.push(peer);
  peer.setLocalState(null); // nothing of its own until the test says so
  let binaryFrames = 0;
  const apply = (bytes: Uint8Array) => {
    binaryFrames++;
    const decoder = decoding.createDecoder(bytes);
    if (decoding.readVarUint(decoder) === 1) awarenessProtocol.applyAwarenessUpdate(peer, decoding.readVarUint8Array(decoder), "room");
  };
  socket.ws.on("message", (data, isBinary) => {
    if (isBinary) apply(new Uint8Array(data as Buffer));
  });
  // The room's snapshot follows the welcome at once: it may have arrived with it, before this listener.
  for (const frame of socket.frames) if (frame.type === "binary") apply(frame.bytes);
  peer.on("update", ({ added, updated, removed }: { added: number[]; updated: number[]; removed: number[] }, origin: unknown) => {
    if (origin !== "local") return;
    const changed = [...added, ...updated, ...removed];
    const encoder = encoding.createEncoder();
    encoding.writeVarUint(encoder, 1);
    encoding.writeVarUint8Array(encoder, awarenessProtocol.encodeAwarenessUpdate(peer, changed));
    socket.ws.send(encoding.toUint8Array(encoder));
  });
  return { socket, peer, binaryFrames: () => binaryFrames };
}

/**
 * The states the room sent a stock peer for `user` (by the room-stamped identity). The peer's own local state is
 * left out: it holds what the peer claimed (carol's editor says it is alice) until the room's stamped copy
 * of it arrives, so counting it made the count depend on that timing.
 */
function statesOf(peer: awarenessProtocol.Awareness, user: string): Array<Record<string, any>> {
  return [...peer.getStates()].filter(([clientID, s]) => clientID !== peer.clientID && s.user?.id === user).map(([, s]) => s);
}


describe("presence over y-protocols awareness", () => {
  let alice: KaiwaRoom;
  let carol: Awaited<ReturnType<typeof stockPeer>>;

  it("a stock Awareness sees kaiwa users come with their stamped identity and app state, type, and go (PROTOCOL R72, R73, R75)", async () => {
    alice = client("alice");
    await waitFor(() => alice.status === "open", 30_000, "alice open");
    await alice.createGroup("Aware", ["bob", "carol", "dave"]);
    carol = await stockPeer("carol");
    // Carol's editor claims to be alice: the room stamps carol.
    carol.peer.setLocalState({ editing: "spec.md", user: { id: "alice", name: "ALICE" } });

    const bob = client("bob");
    await waitFor(() => bob.status === "open", 30_000, "bob open");
    bob.setState({ status: "away", viewing: "thread-7" });
    await waitFor(() => statesOf(carol.peer, "bob").some((s) => s.status === "away"), 5_000, "carol's Awareness sees bob away");
    assert.deepEqual(statesOf(carol.peer, "bob"), [{ status: "away", viewing: "thread-7", user: { id: "bob", name: "BOB" } }]);
    assert.equal(statesOf(carol.peer, "alice").length, 1, "alice is there too (published at her welcome)");

    // Kaiwa's client sees the stock peer, as the room stamped it.
    await waitFor(() => alice.presence.get("carol")?.[0]?.editing === "spec.md", 5_000, "alice sees carol's editor");
    assert.equal(alice.presence.get("carol")![0]!.user.name, "CAROL");
    assert.equal(alice.presence.get("alice")!.length, 1, "alice's own state, echoed");

    bob.typing();
    await waitFor(() => statesOf(carol.peer, "bob")[0]?.typing === true, 5_000, "carol sees bob typing");
    assert.equal(statesOf(carol.peer, "bob")[0]!.status, "away", "typing rides on the same state");
    await waitFor(() => alice.members.typing.includes("bob"), 5_000, "the JSON typing frame still says so (PROTOCOL R15)");
    await waitFor(() => statesOf(carol.peer, "bob")[0]?.typing === undefined, LIMITS.typingTtlMs + 3_000, "bob's typing expires");

    bob.close();
    await waitFor(() => statesOf(carol.peer, "bob").length === 0, 5_000, "bob gone at his socket's close");
    await waitFor(() => !alice.presence.has("bob"), 5_000, "and from alice's presence");
  });

  it("a joiner gets every current state; query-awareness answers the same; sync step 1 gets an empty step 2", async () => {
    const dave = await rawSocket(server, GROUP, { token: await server.token("dave"), session: "dave-1" });
    await dave.next((f) => f.type === "welcome");
    const snapshot = await dave.next((f) => f.type === "binary");
    const decoded = decodeAwarenessMessage(snapshot.bytes, Infinity);
    assert.equal(decoded.kind, "awareness");
    if (decoded.kind !== "awareness") return;
    assert.deepEqual(decoded.entries.map((e) => (e.state as any).user.id).sort(), ["alice", "carol"]);
    const from = dave.frames.length;
    dave.ws.send(queryAwarenessFrame());
    const answer = await dave.next((f) => f.type === "binary", 5_000, from);
    assert.deepEqual(answer.bytes, snapshot.bytes);
    const syncFrom = dave.frames.length;
    dave.ws.send(Uint8Array.of(0, 0, 1, 0)); // sync step 1 with an empty state vector
    const step2 = await dave.next((f) => f.type === "binary", 5_000, syncFrom);
    assert.deepEqual([...step2.bytes], [0, 1, 2, 0, 0]);
    dave.ws.close();
  });

  it("hostile input: a spoofed clientID, an oversized state, malformed frames get typed errors and change nothing; the next command gets lastSeq + 1 (PROTOCOL R73, R74)", async () => {
    const dave = await rawSocket(server, GROUP, { token: await server.token("dave"), session: "dave-2" });
    const welcome = await dave.next((f) => f.type === "welcome");
    const aliceId = alice.presence.get("alice")![0]!.clientID;
    const carolBefore = JSON.stringify(statesOf(carol.peer, "alice"));
    const cases: Array<[string, Uint8Array, string]> = [
      ["alice's clientID", awarenessFrame([{ clientID: aliceId, clock: 1e6, json: JSON.stringify({ status: "hijacked" }) }]), "forbidden"],
      ["removing alice's clientID", awarenessFrame([{ clientID: aliceId, clock: 1e6, json: "null" }]), "forbidden"],
      ["an oversized state", awarenessFrame([{ clientID: 4242, clock: 1, json: JSON.stringify({ pad: "x".repeat(LIMITS.maxAwarenessStateBytes) }) }]), "frame_too_large"],
      ["a truncated frame", Uint8Array.of(1, 9, 1), "bad_frame"],
      ["bad JSON", awarenessFrame([{ clientID: 4242, clock: 1, json: "{" }]), "bad_frame"],
      ["an unknown type", Uint8Array.of(7, 1, 2), "bad_frame"],
      ["five clientIDs", awarenessFrame([1, 2, 3, 4, 5].map((clientID) => ({ clientID, clock: 1, json: "{}" }))), "bad_frame"],
    ];
    for (const [what, bytes, code] of cases) {
      const from = dave.frames.length;
      dave.ws.send(bytes);
      const error = await dave.next((f) => f.type === "error", 5_000, from);
      assert.equal(error.code, code, what);
    }
    // A marker instead of a wait: a valid update after the refused ones reaches carol in the same flush or a
    // later one than anything of theirs the room had taken (the room flushes in arrival order).
    dave.ws.send(awarenessFrame([{ clientID: 4243, clock: 1, json: JSON.stringify({ status: "valid" }) }]));
    await waitFor(() => statesOf(carol.peer, "dave").some((state) => state.status === "valid"), 5_000, "carol sees dave's valid update");
    assert.equal(JSON.stringify(statesOf(carol.peer, "alice")), carolBefore, "alice's state unchanged");
    assert.deepEqual(statesOf(carol.peer, "dave").map((state) => state.status), ["valid"], "nothing of dave's refused updates");
    dave.send({ type: "send", clientId: "after-junk", n: welcome.sessionLastN + 1, text: "still here" });
    const ack = await dave.next((f) => f.type === "ack");
    assert.equal(ack.acks[0].seq, welcome.lastSeq + 1);
    dave.ws.close();
    await waitFor(() => statesOf(carol.peer, "dave").length === 0, 5_000, "dave's state gone with his socket");
  });

  it("a flood is batched: 300 updates as fast as one socket sends reach others as a few frames, the last state winning (PROTOCOL R73)", async () => {
    const flooder = await rawSocket(server, GROUP, { token: await server.token("dave"), session: "dave-3" });
    await flooder.next((f) => f.type === "welcome");
    // Markers instead of waits, so the count holds exactly the flood's frames: a first update seen by carol
    // before counting (nothing of the flooder's is still on its way), and a last one after the flood, whose
    // frame comes after every frame of the flood (the room flushes in arrival order).
    const update = (clock: number, n: number) => flooder.ws.send(awarenessFrame([{ clientID: 777, clock, json: JSON.stringify({ n }) }]));
    update(1, 0);
    await waitFor(() => statesOf(carol.peer, "dave")[0]?.n === 0, 5_000, "carol sees the flooder's first state");
    const before = carol.binaryFrames();
    const started = Date.now();
    for (let i = 1; i <= 300; i++) update(i + 1, i);
    await waitFor(() => statesOf(carol.peer, "dave")[0]?.n === 300, 10_000, "carol sees dave's last state");
    const elapsed = Date.now() - started;
    update(302, 301);
    await waitFor(() => statesOf(carol.peer, "dave")[0]?.n === 301, 5_000, "carol sees the marker after the flood");
    const frames = carol.binaryFrames() - before - 1; // the marker's own frame
    const windows = Math.ceil(elapsed / LIMITS.signalWindowMs) + 1;
    assert.ok(frames <= windows && frames < 20, `${frames} frames for 300 updates in ${elapsed} ms`);
    assert.equal(flooder.frames.filter((f) => f.type === "error").length, 0);
    // The room's own count agrees: every update taken, far fewer frames sent.
    const stats = await server.fetchJson(`/parties/room/${GROUP}/stats`, { token: await server.token("ops", { operator: true }) });
    assert.equal(stats.status, 200, JSON.stringify(stats.body));
    assert.ok(stats.body.awareness.updates >= 300 && stats.body.awareness.frames < stats.body.awareness.updates / 5, JSON.stringify(stats.body.awareness));
    flooder.ws.close();
    await waitFor(() => statesOf(carol.peer, "dave").length === 0, 5_000, "dave's state gone with his socket");
  });

  it("a non-member of the private group gets no awareness; an observer reads it and may not publish (PROTOCOL R74)", async () => {
    const mallory = await rawSocket(server, GROUP, { token: await server.token("mallory"), session: "m" });
    assert.equal((await mallory.closed).code, 4004);
    assert.equal(mallory.frames.some((f) => f.type === "binary"), false);
    assert.deepEqual(mallory.frames.filter((f) => f !== "pong").map((f) => f.code), ["not_member"]);

    const ops = await rawSocket(server, GROUP, { token: await server.token("ops", { operator: true }), session: "ops", observe: "1" });
    await ops.next((f) => f.type === "welcome");
    const snapshot = await ops.next((f) => f.type === "binary");
    assert.equal(decodeAwarenessMessage(snapshot.bytes, Infinity).kind, "awareness");
    const from = ops.frames.length;
    ops.ws.send(awarenessFrame([{ clientID: 9, clock: 1, json: "{}" }]));
    assert.equal((await ops.next((f) => f.type === "error", 5_000, from)).code, "forbidden");
    ops.ws.close();
  });

  it("a member removed from the group leaves awareness at once, and cannot come back (PROTOCOL R73, R74)", async () => {
    const dave = client("dave");
    await waitFor(() => dave.status === "open", 30_000, "dave open");
    dave.setState({ status: "about to be removed" });
    await waitFor(() => statesOf(carol.peer, "dave").length === 1, 5_000, "carol sees dave");
    await alice.removeMember("dave");
    await waitFor(() => statesOf(carol.peer, "dave").length === 0, 5_000, "dave's state goes with the cut-off");
    await waitFor(() => dave.status === "closed", 15_000, "dave's client closed for good (4004)");
    const again = await rawSocket(server, GROUP, { token: await server.token("dave"), session: "dave-again" });
    assert.equal((await again.closed).code, 4004);
    assert.equal(again.frames.some((f) => f.type === "binary"), false, "a removed member gets no awareness");
  });

  it("a live room's viewers may not publish awareness or show as typing, and kaiwa's client does not try (PROTOCOL R15, R74)", async () => {
    const viewer = await rawSocket(server, "live:show", { token: await server.token("viewer"), session: "v" });
    await viewer.next((f) => f.type === "welcome");
    viewer.ws.send(awarenessFrame([{ clientID: 5, clock: 1, json: "{}" }]));
    assert.equal((await viewer.next((f) => f.type === "error")).code, "forbidden");
    // Nor show as typing: only a live room's hosts and operators do (PROTOCOL R15).
    const from = viewer.frames.length;
    viewer.ws.send(JSON.stringify({ type: "typing" }));
    assert.equal((await viewer.next((f) => f.type === "error", 5_000, from)).code, "forbidden");
    const watching = client("viewer2", "live:show");
    const errors: string[] = [];
    watching.on("error", (error) => errors.push(error.code));
    await waitFor(() => watching.status === "open", 30_000, "a kaiwa viewer open");
    // Every call that would publish a member's state; a state sent would be refused with `forbidden`.
    watching.setState({ status: "watching" });
    watching.typing();
    // The marker: a reply on the same socket comes after the room answered everything sent before it.
    await watching.history({ limit: 1 });
    assert.deepEqual(errors, [], "kaiwa's client sends no awareness as a live room's viewer");
    assert.equal(watching.presence.size, 0);
    viewer.ws.close();
  });
});
