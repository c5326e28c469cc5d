/**
 * PROTOCOL R84, the client's side: the room's welcome names a window, and the client keeps no more commands
 * unacked on that socket than the smaller of it and its own `maxInFlight`; the rest wait in its outbox, in
 * order, and go out as acks free places. Against a scripted fake room (a bare `ws` server).
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { WebSocket } from "ws";
import type { ServerFrame } from "../../party/protocol/index.ts";
import { KaiwaRoom } from "../../client/index.ts";
import { Outbox } from "../../client/outbox.ts";
import { fakeServer, until, type Peer } from "../helpers/fake-ws-server.ts";

let onPeer: (peer: Peer) => void = () => {};
let onFrame: (peer: Peer) => void = () => {};
const server = fakeServer({ onPeer: (p) => onPeer(p), onFrame: (p) => onFrame(p) });

const send = (peer: Peer, frame: ServerFrame) => peer.ws.send(JSON.stringify(frame));
const welcome = (window: number | undefined): ServerFrame => ({
  type: "welcome", room: "general", epoch: "e1", lastSeq: 0, bootId: "b", user: { id: "u1", name: "U" },
  sessionLastN: 0, resume: null, serverTime: 1, ...(window !== undefined ? { window } : {}),
});

function outbox(maxInFlight: number): Outbox {
  let i = 0;
  return new Outbox({ maxInFlight, newId: () => `c${++i}` });
}

describe("PROTOCOL R84: the outbox keeps to the window the room grants", () => {
  it("uses the smaller of the room's window and its own; none granted (an older room) leaves its own", () => {
    const box = outbox(8);
    for (let k = 0; k < 20; k++) box.enqueue({ type: "send", text: `m${k}` });
    box.grant(3);
    assert.equal(box.window, 3);
    const sent = [box.nextToSend(), box.nextToSend(), box.nextToSend(), box.nextToSend()];
    assert.deepEqual(sent.map((c) => c?.n), [1, 2, 3, undefined], "the fourth waits for a place");
    box.ack("c1");
    assert.equal(box.nextToSend()?.n, 4, "an ack frees one place, taken by the next in order");
    box.grant(100);
    assert.equal(box.window, 8, "a room cannot widen the app's own window");
    box.grant(undefined);
    assert.equal(box.window, 8);
    box.grant(0);
    assert.equal(box.window, 8, "a nonsense window is not taken");
  });
});

describe("PROTOCOL R84: KaiwaRoom against a room that grants a window of 4", () => {
  it("has at most 4 commands unacked on the socket; all 25 are acked, in order, each sent once", async () => {
    const unacked: string[] = [];
    let most = 0;
    let seq = 0;
    onPeer = (p) => send(p, welcome(4));
    onFrame = (p) => {
      const frame = p.frames.at(-1)!;
      if (frame.type !== "send") return;
      unacked.push(String(frame.clientId));
      most = Math.max(most, unacked.length);
      // Answer slowly, one at a time, so the client has every chance to overrun the window.
      setTimeout(() => {
        const clientId = unacked.shift()!;
        seq++;
        send(p, { type: "events", events: [{ kind: "message", seq, ts: seq, author: { id: "u1", name: "U" }, clientId, text: "x" }] });
        send(p, { type: "ack", acks: [{ clientId, seq, ts: seq }] });
      }, 5);
    };
    let i = 0;
    const room = new KaiwaRoom({ host: `127.0.0.1:${server.port()}`, room: "general", token: "t", WebSocket, backoff: { random: () => 0 }, newId: () => `id${++i}` });
    try {
      const acks = await Promise.all(Array.from({ length: 25 }, (_, k) => room.send(`m${k}`)));
      assert.equal(most, 4, `at most the granted window in flight (saw ${most})`);
      assert.deepEqual(acks.map((a) => a.seq), Array.from({ length: 25 }, (_, k) => k + 1), "acked in the order sent");
      const sentIds = server.peers.flatMap((p) => p.frames.filter((f) => f.type === "send").map((f) => f.clientId));
      assert.equal(new Set(sentIds).size, 25, "each command sent once");
      await until(() => room.position?.lastSeq === 25, "the position at 25");
    } finally {
      room.close();
    }
  });
});
