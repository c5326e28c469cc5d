/**
 * A relay's broadcast walks its own list of joined viewers (party/relay/viewers.ts), not the runtime's
 * sockets: the list must hold exactly the viewers the runtime's stored state says have joined, also after
 * the relay wakes with hibernated sockets (a fresh relay, sockets already there), and must drop a viewer the
 * moment it closes or is closed (PROTOCOL R52). `partykit dev` cannot be made to evict a relay while its
 * sockets stay open, so the runtime's list of sockets is stood in for here by plain objects with the same
 * fields (id, state, setState, send); the integration tests in tests/integration/live-*.integration.test.ts
 * run the same code on the real runtime.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { RelayViewers, type Viewer, type ViewerState, type ViewersHost } from "../../party/relay/viewers.ts";
import { RelayWindow } from "../../party/core/relay-window.ts";

type Socket = { id: string; state: ViewerState | null; sent: string[]; setState(s: ViewerState): void; send(frame: string): void };

function socket(id: string, joined: boolean): Socket {
  return {
    id,
    state: { user: { id, name: id }, session: `s-${id}`, ...(joined ? { joined: true as const } : {}) },
    sent: [],
    setState(s) {
      this.state = s;
    },
    send(frame) {
      this.sent.push(frame);
    },
  };
}

function relay(sockets: Socket[]) {
  const window = new RelayWindow(100, 1_000_000);
  window.reset("e1", 10);
  const closed: string[] = [];
  let viewers: RelayViewers | undefined;
  const host: ViewersHost = {
    room: { getConnections: () => sockets.values() } as unknown as ViewersHost["room"],
    roomId: "live:x",
    shard: 0,
    bootId: "b",
    window,
    shards: () => 1,
    greeting: () => [],
    pins: () => [],
    fetchAfter: async () => [],
    // As the relay's close does (party/relay/server.ts): the socket is cut, and forgotten at once.
    close: (conn) => {
      closed.push(conn.id);
      viewers!.forget(conn.id);
    },
  };
  viewers = new RelayViewers(host);
  return { viewers, closed };
}

const frame = (seq: number) => JSON.stringify({ type: "events", events: [{ seq }] });
const received = (s: Socket) => s.sent.filter((f) => f.startsWith('{"type":"events"')).map((f) => JSON.parse(f).events[0].seq as number);

test("a relay woken with hibernated sockets sends to the viewers their stored state says joined, and to no other", () => {
  const [a, b, c] = [socket("a", true), socket("b", true), socket("c", false)];
  const { viewers } = relay([a, b, c]);
  viewers.broadcast(frame(11));
  viewers.broadcast(frame(12));
  assert.deepEqual(received(a), [11, 12]);
  assert.deepEqual(received(b), [11, 12]);
  assert.deepEqual(received(c), [], "not past its welcome: no live frames");
});

test("a viewer that joins gets the frames after its welcome; one that closes, or is closed, gets none after", async () => {
  const [a, b, c] = [socket("a", true), socket("b", true), socket("c", false)];
  const { viewers, closed } = relay([a, b, c]);
  viewers.broadcast(frame(11));
  await viewers.join(c as unknown as Viewer);
  assert.equal(JSON.parse(c.sent[0]!).type, "welcome");
  assert.equal(c.state?.joined, true);
  viewers.forget("a"); // its close event
  viewers.broadcast(frame(12));
  viewers.banned("b", Date.now() + 60_000); // closed by the relay
  assert.deepEqual(closed, ["b"]);
  viewers.broadcast(frame(13));
  assert.deepEqual(received(a), [11]);
  assert.deepEqual(received(b), [11, 12]);
  assert.deepEqual(received(c), [12, 13], "from its welcome on, each frame once");
});

test("a resync sends every joined viewer, and only those, a redirect to this shard and closes it; none gets a frame after", () => {
  const [a, b, c] = [socket("a", true), socket("b", true), socket("c", false)];
  const { viewers, closed } = relay([a, b, c]);
  viewers.resyncAll();
  assert.deepEqual(closed, ["a", "b"]);
  for (const s of [a, b]) assert.deepEqual(JSON.parse(s.sent[0]!), { type: "redirect", party: "relay", id: "live:x~0", shard: 0, shards: 1 });
  assert.deepEqual(c.sent, []);
  viewers.broadcast(frame(11));
  assert.deepEqual([a, b, c].map(received), [[], [], []]);
});
