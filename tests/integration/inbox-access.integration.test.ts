/**
 * Issue 4, authorization and bad input (PROTOCOL I7, I8) against a real `partykit dev`: nobody opens another user's
 * inbox or a DM they are not part of, actor routes refuse clients (even with forged headers or a service
 * token signed with the wrong key), the sender is always the token's user, and refused input changes nothing.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { SignJWT } from "jose";
import { DevServer } from "../helpers/dev-server.ts";
import { rawPartySocket, rawSocket } from "../helpers/raw-socket.ts";

const server = new DevServer();
const DM = "dm:alice:bob";

before(async () => {
  await server.start();
});
after(async () => {
  await server.stop();
});

async function inbox(user: string, session: string, as = user) {
  const socket = await rawPartySocket(server, "inbox", user, { token: await server.token(as), session });
  return socket;
}

/** The observable state: alice's and bob's conversation lists and the DM room's log. */
async function snapshot() {
  const list = async (user: string) => (await server.fetchJson(`/parties/inbox/${user}/conversations`, { token: await server.token(user) })).body;
  const history = (await server.fetchJson(`/parties/room/${DM}/history?limit=200`, { token: await server.token("alice") })).body;
  return { alice: await list("alice"), bob: await list("bob"), history };
}

describe("inbox authorization", () => {
  it("sets up one DM so there is state to protect", async () => {
    const alice = await inbox("alice", "a1");
    await alice.next((f) => f.type === "welcome");
    // A forged author in the frame is stripped: the sender is the token's user (PROTOCOL I7).
    alice.send({ type: "dm", to: "bob", clientId: "c1", n: 1, text: "hi", author: { id: "mallory", name: "M" }, from: "mallory" });
    const ack = await alice.next((f) => f.type === "ack");
    assert.equal(ack.acks[0].seq, 1);
    assert.equal(ack.acks[0].room, DM);
    const events = await alice.next((f) => f.type === "events");
    assert.equal(events.events[0].author.id, "alice");
    alice.ws.close();
  });

  it("refuses another user's inbox and a missing or forged token with typed closes", async () => {
    const carol = await inbox("bob", "c1", "carol");
    assert.equal((await carol.next((f) => f.type === "error")).code, "forbidden");
    assert.equal((await carol.closed).code, 4003);
    const anonymous = await rawPartySocket(server, "inbox", "bob", { session: "x1" });
    assert.equal((await anonymous.next((f) => f.type === "error")).code, "unauthorized");
    assert.equal((await anonymous.closed).code, 4001);
    const forged = await new SignJWT({}).setProtectedHeader({ alg: "HS256" }).setSubject("bob").setExpirationTime("1h").sign(new TextEncoder().encode("wrong-secret"));
    const forgedSocket = await rawPartySocket(server, "inbox", "bob", { token: forged, session: "x2" });
    assert.equal((await forgedSocket.next((f) => f.type === "error")).code, "unauthorized");
    assert.equal((await forgedSocket.closed).code, 4001);
    const http = await server.fetchJson(`/parties/inbox/bob/conversations`, { token: await server.token("carol") });
    assert.equal(http.status, 403);
    assert.equal(http.body.error.code, "forbidden");
  });

  it("keeps a DM room to its two participants, on sockets and over HTTP", async () => {
    const before = await snapshot();
    const carolRoom = await rawSocket(server, DM, { token: await server.token("carol"), session: "c1" });
    assert.equal((await carolRoom.next((f) => f.type === "error")).code, "forbidden");
    assert.equal((await carolRoom.closed).code, 4003);
    const carol = await inbox("carol", "c1");
    await carol.next((f) => f.type === "welcome");
    carol.send({ type: "sync", requestId: "s1", room: DM, after: 0 });
    assert.equal((await carol.next((f) => f.type === "error" && f.ref === "s1")).code, "forbidden");
    carol.send({ type: "read", requestId: "r1", room: DM, seq: 1 });
    assert.equal((await carol.next((f) => f.type === "error" && f.ref === "r1")).code, "forbidden");
    const history = await server.fetchJson(`/parties/room/${DM}/history`, { token: await server.token("carol") });
    assert.equal(history.status, 403);
    carol.ws.close();
    assert.deepEqual(await snapshot(), before);
  });

  it("refuses actor routes to clients, forged caller headers and wrongly signed service tokens (PROTOCOL IB7)", async () => {
    const before = await snapshot();
    const wrongService = await new SignJWT({}).setProtectedHeader({ alg: "HS256" }).setAudience("kaiwa-service").setSubject("kaiwa-actor").setExpirationTime("1m").sign(new TextEncoder().encode("wrong"));
    const attempts: Array<{ path: string; body: unknown; headers: Record<string, string> }> = [];
    const forged = { "x-kaiwa-caller": "actor", "x-kaiwa-identity": JSON.stringify({ sub: "bob", name: "bob" }) };
    const notify = { notifications: [{ room: DM, kind: "dm", title: "x", lastSeq: 99, lastTs: 1, preview: null, readSeq: 0, unread: 99, events: [] }] };
    for (const headers of [{}, forged, { ...forged, "x-kaiwa-service-token": wrongService }]) {
      attempts.push({ path: `/parties/room/${DM}/commands`, body: { items: [{ session: "s", command: { type: "send", clientId: "evil", n: 1, text: "forged" } }] }, headers });
      attempts.push({ path: `/parties/room/${DM}/read`, body: { seq: 1 }, headers });
      attempts.push({ path: `/parties/inbox/bob/notify`, body: notify, headers });
      attempts.push({ path: `/parties/inbox/bob/presence`, body: { user: "alice", online: true, lastSeen: null, at: Date.now() }, headers });
    }
    for (const attempt of attempts) {
      const response = await server.fetchJson(attempt.path, { method: "POST", token: await server.token("alice"), headers: { "content-type": "application/json", ...attempt.headers }, body: JSON.stringify(attempt.body) });
      assert.equal(response.status, 403, `${attempt.path} with ${Object.keys(attempt.headers).join(",")}: ${JSON.stringify(response.body)}`);
      assert.equal(response.body.error.code, "forbidden");
    }
    assert.deepEqual(await snapshot(), before);
  });

  it("answers bad frames and out-of-range reads with typed errors and changes nothing", async () => {
    const before = await snapshot();
    const bob = await inbox("bob", "b1");
    await bob.next((f) => f.type === "welcome");
    const cases: Array<[unknown, string]> = [
      ["not json", "bad_frame"],
      [{ type: "dm", to: "alice", clientId: "x", n: 0, text: "n must be positive" }, "bad_frame"],
      [{ type: "dm", to: "bad id!", clientId: "x", n: 1, text: "bad recipient" }, "bad_frame"],
      [{ type: "dm", to: "bob", clientId: "self", n: 1, text: "to myself" }, "forbidden"],
      [{ type: "read", room: DM, seq: 0, requestId: "r0" }, "bad_frame"],
      [{ type: "list", requestId: "l1", limit: 100000 }, "bad_frame"],
      [{ type: "dm", to: "alice", clientId: "big", n: 1, text: "x".repeat(20_000) }, "frame_too_large"],
      [{ type: "dm", to: "alice", clientId: "long", n: 1, text: "x".repeat(4001) }, "text_too_long"],
    ];
    for (const [frame, code] of cases) {
      const from = bob.frames.length;
      bob.ws.send(typeof frame === "string" ? frame : JSON.stringify(frame));
      const error = await bob.next((f) => f.type === "error", 10_000, from);
      assert.equal(error.code, code, JSON.stringify(frame).slice(0, 80));
      assert.equal(typeof error.retryable, "boolean");
    }
    bob.send({ type: "read", room: DM, seq: 2, requestId: "r2" });
    assert.equal((await bob.next((f) => f.type === "error" && f.ref === "r2")).code, "read_out_of_range");
    bob.ws.close();
    await bob.closed;
    const afterState = await snapshot();
    assert.deepEqual(afterState.history, before.history);
    assert.equal(afterState.bob.conversations[0].readSeq, 0);
    assert.equal(afterState.bob.conversations[0].unread, 1);
  });
});
